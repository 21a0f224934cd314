"""Step 2: train the model on the token files written by prepare.py (CPU, one thread, fixed seed)."""

import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from model import Config, LlamaForCausalLM, count_params


def windows(data, starts, seq_len):
    x = np.stack([data[s : s + seq_len + 1] for s in starts]).astype(np.int64)
    x = torch.from_numpy(x)
    return x[:, :-1], x[:, 1:]


@torch.no_grad()
def evaluate(model, data, seq_len, max_windows=None, batch=16):
    """Mean next-token loss over consecutive non-overlapping windows of `data`."""
    model.eval()
    starts = list(range(0, len(data) - seq_len - 1, seq_len))[:max_windows]
    total, count = 0.0, 0
    for i in range(0, len(starts), batch):
        x, y = windows(data, starts[i : i + batch], seq_len)
        logits = model(x)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction='sum').item()
        count += y.numel()
    model.train()
    return total / count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--work', default='/tmp/chorus-train')
    ap.add_argument('--out', default=None, help='checkpoint path (default WORK/model.pt)')
    ap.add_argument('--seed', type=int, default=1611)
    ap.add_argument('--steps', type=int, default=1600)
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--seq-len', type=int, default=256)
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--min-lr', type=float, default=2e-4)
    ap.add_argument('--warmup', type=int, default=100)
    ap.add_argument('--weight-decay', type=float, default=0.1)
    ap.add_argument('--hidden', type=int, default=192)
    ap.add_argument('--intermediate', type=int, default=288)
    ap.add_argument('--layers', type=int, default=6)
    ap.add_argument('--heads', type=int, default=6)
    ap.add_argument('--kv-heads', type=int, default=2)
    ap.add_argument('--eval-every', type=int, default=100)
    ap.add_argument('--threads', type=int, default=1)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    train = np.fromfile(os.path.join(args.work, 'train.bin'), dtype=np.uint16)
    heldout = np.fromfile(os.path.join(args.work, 'heldout.bin'), dtype=np.uint16)

    cfg = Config(
        vocab_size=2048,
        hidden_size=args.hidden,
        intermediate_size=args.intermediate,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads,
        max_position_embeddings=args.seq_len,
    )
    model = LlamaForCausalLM(cfg)
    n_params = count_params(model)
    tokens_per_step = args.batch * args.seq_len
    print(f'config {cfg.to_dict()}', flush=True)
    print(f'{n_params} parameters; {len(train)} train tokens, {len(heldout)} held-out tokens; '
          f'{args.steps} steps x {tokens_per_step} tokens = {args.steps * tokens_per_step / len(train):.2f} epochs',
          flush=True)

    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{'params': decay, 'weight_decay': args.weight_decay}, {'params': no_decay, 'weight_decay': 0.0}],
        lr=args.lr, betas=(0.9, 0.95), eps=1e-8,
    )

    def lr_at(step):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        progress = (step - args.warmup) / max(1, args.steps - args.warmup)
        return args.min_lr + 0.5 * (args.lr - args.min_lr) * (1 + math.cos(math.pi * progress))

    log = []
    t0 = time.time()
    smooth = None
    for step in range(args.steps):
        for g in opt.param_groups:
            g['lr'] = lr_at(step)
        starts = rng.integers(0, len(train) - args.seq_len - 1, size=args.batch)
        x, y = windows(train, starts, args.seq_len)
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        smooth = loss.item() if smooth is None else 0.98 * smooth + 0.02 * loss.item()
        if step % 25 == 0:
            el = time.time() - t0
            print(f'step {step} loss {loss.item():.4f} smooth {smooth:.4f} lr {lr_at(step):.2e} '
                  f'{el:.0f}s ({(step + 1) / el:.2f} steps/s)', flush=True)
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            h = evaluate(model, heldout, args.seq_len)
            print(f'== step {step + 1} held-out loss {h:.4f} ({time.time() - t0:.0f}s)', flush=True)
            log.append({'step': step + 1, 'train_smooth': smooth, 'heldout': h, 'seconds': time.time() - t0})
    train_seconds = time.time() - t0

    # Final numbers, both measured the same way (consecutive windows, no sampling noise).
    heldout_loss = evaluate(model, heldout, args.seq_len)
    train_loss = evaluate(model, train, args.seq_len, max_windows=len(heldout) // args.seq_len * 4)
    print(f'final: train loss {train_loss:.4f} (ppl {math.exp(train_loss):.1f}), '
          f'held-out loss {heldout_loss:.4f} (ppl {math.exp(heldout_loss):.1f}), '
          f'training time {train_seconds:.0f}s', flush=True)
    out = args.out or os.path.join(args.work, 'model.pt')
    torch.save({
        'config': cfg.to_dict(), 'state_dict': model.state_dict(), 'args': vars(args),
        'n_params': n_params, 'train_seconds': train_seconds, 'train_loss': train_loss,
        'heldout_loss': heldout_loss, 'log': log, 'torch': torch.__version__,
    }, out)
    with open(out + '.json', 'w') as f:
        json.dump({k: v for k, v in torch.load(out).items() if k != 'state_dict'}, f, indent=1)
    print(f'saved {out}')


if __name__ == '__main__':
    main()
