"""Step 4: export the trained checkpoint to ONNX (onnx-community decoder-with-past layout) and write
config.json / generation_config.json, plus the PyTorch greedy continuations that verify_onnx.mjs
compares the ONNX model against.
"""

import argparse
import json
import os

import numpy as np
import onnx
import sentencepiece as spm
import torch
from onnx import helper, numpy_helper

from model import Config, LlamaForCausalLM

PROMPTS = [
    'In the beginning',
    'And the LORD said unto Moses,',
    'Blessed are the',
    'The LORD is my shepherd',
    'And it came to pass, when',
    '',
]
NUM_GENERATED = 32


class OnnxDecoder(LlamaForCausalLM):
    """The same module with flat inputs/outputs in the order of the ONNX interface (a subclass rather than
    a wrapper, so ONNX node names are the Hugging Face ones: /model/layers.0/self_attn/q_proj/MatMul)."""

    def forward(self, input_ids, attention_mask, position_ids, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(len(past_flat) // 2)]
        logits, presents = super().forward(input_ids, attention_mask, position_ids, past)
        return (logits, *[t for kv in presents for t in kv])


def name_weights(path):
    """Name the nodes like the module tree, and give the pre-transposed MatMul weights torch.onnx.export created (onnx::MatMul_123) the names
    Optimum and the shared test models use: model.layers.0.self_attn.q_proj.MatMul.weight, ...,
    lm_head.MatMul.weight. The tied LM head is stored as its own transposed copy of the embedding,
    as in the shared test models, so every MatMul reads its weight straight from an initializer."""
    m = onnx.load(path)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    renamed = {}
    for node in g.node:  # torch 1.13 drops the outer "model" scope: /layers.0/... -> /model/layers.0/...
        if node.name.split('/')[1:2] and node.name.split('/')[1].split('.')[0] in ('layers', 'norm', 'embed_tokens'):
            node.name = '/model' + node.name
    for node in g.node:
        if node.op_type == 'MatMul' and node.input[1] in inits and node.input[1].startswith('onnx::'):
            renamed[node.input[1]] = node.name.strip('/').replace('/', '.') + '.weight'
    for node in g.node:
        node.input[:] = [renamed.get(x, x) for x in node.input]
    for name, new_name in renamed.items():
        inits[name].name = new_name
    head, emb = (numpy_helper.to_array(next(i for i in g.initializer if i.name == n))
                 for n in ('lm_head.MatMul.weight', 'model.embed_tokens.weight'))
    assert np.array_equal(head, emb.T)  # tied
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return renamed


@torch.no_grad()
def greedy_with_cache(model, ids, n):
    """Prefill, then one token per step through the KV cache (what the app does)."""
    L, kvh, hd = model.cfg.num_hidden_layers, model.cfg.num_key_value_heads, model.cfg.head_dim
    past = [(torch.zeros(1, kvh, 0, hd), torch.zeros(1, kvh, 0, hd)) for _ in range(L)]
    x, out, total = torch.tensor([ids]), [], 0
    for _ in range(n):
        t = x.shape[1]
        mask = torch.ones(1, total + t, dtype=torch.long)
        pos = torch.arange(total, total + t)[None]
        logits, past = model(x, mask, pos, past)
        total += t
        nxt = int(logits[0, -1].argmax())
        out.append(nxt)
        x = torch.tensor([[nxt]])
    return out


@torch.no_grad()
def greedy_no_cache(model, ids, n):
    seq = list(ids)
    for _ in range(n):
        seq.append(int(model(torch.tensor([seq]))[0, -1].argmax()))
    return seq[len(ids):]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--work', default='/tmp/chorus-train')
    ap.add_argument('--ckpt', default=None)
    ap.add_argument('--out', default=os.path.join(os.path.dirname(__file__), '../../public/models/chorus-kjv'))
    args = ap.parse_args()
    torch.set_num_threads(1)
    ck = torch.load(args.ckpt or os.path.join(args.work, 'model.pt'))
    cfg = Config(**ck['config'])
    model, exporter = LlamaForCausalLM(cfg), OnnxDecoder(cfg)
    for m in (model, exporter):
        m.load_state_dict(ck['state_dict'])
        m.eval()

    L, kvh, hd = cfg.num_hidden_layers, cfg.num_key_value_heads, cfg.head_dim
    past_names = [f'past_key_values.{i}.{kv}' for i in range(L) for kv in ('key', 'value')]
    present_names = [f'present.{i}.{kv}' for i in range(L) for kv in ('key', 'value')]
    dynamic = {'input_ids': {0: 'batch_size', 1: 'sequence_length'},
               'attention_mask': {0: 'batch_size', 1: 'total_sequence_length'},
               'position_ids': {0: 'batch_size', 1: 'sequence_length'},
               'logits': {0: 'batch_size', 1: 'sequence_length'}}
    for n in past_names:
        dynamic[n] = {0: 'batch_size', 2: 'past_sequence_length'}
    for n in present_names:
        dynamic[n] = {0: 'batch_size', 2: 'total_sequence_length'}
    b, t, p = 2, 3, 2  # dummy shapes for tracing; every axis above is dynamic
    dummy = (torch.randint(3, cfg.vocab_size, (b, t)), torch.ones(b, p + t, dtype=torch.long),
             torch.arange(p, p + t)[None].expand(b, t).contiguous(),
             *[torch.zeros(b, kvh, p, hd) for _ in past_names])
    os.makedirs(os.path.join(args.out, 'onnx'), exist_ok=True)
    onnx_path = os.path.join(args.out, 'onnx', 'model.onnx')
    torch.onnx.export(exporter, dummy, onnx_path, opset_version=17,
                      input_names=['input_ids', 'attention_mask', 'position_ids', *past_names],
                      output_names=['logits', *present_names], dynamic_axes=dynamic, do_constant_folding=True)
    name_weights(onnx_path)
    print(f'wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes)')

    config = {
        'architectures': ['LlamaForCausalLM'], 'model_type': 'llama', 'attention_bias': False,
        'attention_dropout': 0.0, 'bos_token_id': 1, 'eos_token_id': 2, 'head_dim': hd, 'hidden_act': 'silu',
        'hidden_size': cfg.hidden_size, 'initializer_range': 0.02, 'intermediate_size': cfg.intermediate_size,
        'max_position_embeddings': cfg.max_position_embeddings, 'mlp_bias': False,
        'num_attention_heads': cfg.num_attention_heads, 'num_hidden_layers': L, 'num_key_value_heads': kvh,
        'pretraining_tp': 1, 'rms_norm_eps': cfg.rms_norm_eps, 'rope_scaling': None, 'rope_theta': cfg.rope_theta,
        'tie_word_embeddings': True, 'torch_dtype': 'float32', 'use_cache': True, 'vocab_size': cfg.vocab_size,
        'transformers.js_config': {'dtype': 'fp32'},
    }
    gen = {'bos_token_id': 1, 'eos_token_id': 2, 'do_sample': True, 'temperature': 0.8, 'top_k': 40,
           'max_length': cfg.max_position_embeddings}
    for name, obj in (('config.json', config), ('generation_config.json', gen)):
        with open(os.path.join(args.out, name), 'w') as f:
            json.dump(obj, f, indent=2)
            f.write('\n')

    sp = spm.SentencePieceProcessor(model_file=os.path.join(args.work, 'tokenizer.model'))
    ref = []
    for prompt in PROMPTS:
        ids = [1] + sp.encode(prompt)
        cached = greedy_with_cache(model, ids, NUM_GENERATED)
        plain = greedy_no_cache(model, ids, NUM_GENERATED)
        assert cached == plain, (prompt, cached, plain)
        with torch.no_grad():
            first = model(torch.tensor([ids]))[0, -1]
        ref.append({'prompt': prompt, 'prompt_ids': ids, 'generated_ids': cached,
                    'generated_text': sp.decode(cached), 'first_step_logits': first.tolist()})
        print(repr(prompt), '->', repr(sp.decode(cached)))
    with open(os.path.join(args.work, 'torch_reference.json'), 'w') as f:
        json.dump(ref, f)


if __name__ == '__main__':
    main()
