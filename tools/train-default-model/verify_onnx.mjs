// Step 5: run public/models/chorus-kjv/onnx/model.onnx in onnxruntime-node the way the app does (prefill,
// then one token per step feeding present.* back as past_key_values.*), check that greedy decoding gives the
// same token ids as the PyTorch model (export.py wrote them), write reference.json, and print a few sampled
// continuations.  Usage: node tools/train-default-model/verify_onnx.mjs [/tmp/chorus-train]
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import * as ort from 'onnxruntime-node';

const work = process.argv[2] ?? '/tmp/chorus-train';
const dir = new URL('../../public/models/chorus-kjv/', import.meta.url).pathname;
const readJson = (p) => JSON.parse(readFileSync(p, 'utf8'));
const cfg = readJson(join(dir, 'config.json'));
const tok = new Tokenizer(
  readJson(join(dir, 'tokenizer.json')),
  readJson(join(dir, 'tokenizer_config.json')),
);
const torchRef = readJson(join(work, 'torch_reference.json'));
const session = await ort.InferenceSession.create(join(dir, 'onnx/model.onnx'));
const { num_hidden_layers: L, num_key_value_heads: kvh, head_dim: hd, vocab_size: V } = cfg;

const i64 = (rows) =>
  new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, rows[0].length]);

// Generates n tokens for a batch of left-padded prompts; pick(logitsRow, b) chooses the next token.
async function generate(prompts, n, pick) {
  const width = Math.max(...prompts.map((p) => p.length));
  let mask = prompts.map((p) => [...Array(width - p.length).fill(0), ...Array(p.length).fill(1)]);
  let input = prompts.map((p) => [...Array(width - p.length).fill(0), ...p]);
  let positions = mask.map((m) => m.map((_, j) => Math.max(0, j - (width - m.reduce((a, b) => a + b)))));
  const B = prompts.length;
  let past = {};
  for (let i = 0; i < L; i++)
    for (const kv of ['key', 'value'])
      past[`past_key_values.${i}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [B, kvh, 0, hd]);
  const out = prompts.map(() => []);
  let firstLogits = null;
  for (let step = 0; step < n; step++) {
    const r = await session.run({
      input_ids: i64(input),
      attention_mask: i64(mask),
      position_ids: i64(positions),
      ...past,
    });
    const T = input[0].length;
    const next = [];
    for (let b = 0; b < B; b++) {
      const row = r.logits.data.subarray((b * T + T - 1) * V, (b * T + T) * V);
      if (step === 0 && b === 0) firstLogits = Array.from(row);
      next.push(pick(row, b));
      out[b].push(next[b]);
    }
    past = {};
    for (let i = 0; i < L; i++)
      for (const kv of ['key', 'value']) past[`past_key_values.${i}.${kv}`] = r[`present.${i}.${kv}`];
    input = next.map((t) => [t]);
    positions = positions.map((p) => [p[p.length - 1] + 1]);
    mask = mask.map((m) => [...m, 1]);
  }
  return { out, firstLogits };
}

const argmax = (row) => row.reduce((best, x, i) => (x > row[best] ? i : best), 0);
const N = torchRef[0].generated_ids.length;
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
let ok = true;
const prompts = [];
for (const t of torchRef) {
  const ids = tok.encode(t.prompt).ids;
  const { out, firstLogits } = await generate([ids], N, argmax);
  const agree = out[0].findIndex((x, i) => x !== t.generated_ids[i]);
  const maxDiff = Math.max(...firstLogits.map((x, i) => Math.abs(x - t.first_step_logits[i])));
  const good = same(ids, t.prompt_ids) && agree === -1 && maxDiff < 1e-3;
  ok &&= good;
  console.log(
    `${good ? 'OK  ' : 'FAIL'} ${JSON.stringify(t.prompt)}: prompt ids ${same(ids, t.prompt_ids) ? 'equal' : 'DIFFER'}, ` +
      `${agree === -1 ? N : agree}/${N} greedy tokens equal to PyTorch, first-step max |logit diff| ${maxDiff.toExponential(1)}`,
  );
  const top5 = firstLogits
    .map((x, i) => [i, x])
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5);
  prompts.push({
    prompt: t.prompt,
    prompt_ids: ids,
    generated_ids: out[0],
    generated_text: tok.decode(out[0]),
    full_text: tok.decode([...ids.slice(1), ...out[0]]),
    first_step_top1_id: top5[0][0],
    first_step_top1_logit: top5[0][1],
    first_step_top5: top5,
    pytorch_agree: agree === -1,
    first_step_max_abs_logit_diff_vs_pytorch: maxDiff,
  });
}

// Batched, left-padded generation must give the same tokens as one prompt at a time.
const batch = await generate(
  prompts.map((p) => p.prompt_ids),
  N,
  argmax,
);
const batchOk = batch.out.every((o, b) => same(o, prompts[b].generated_ids));
ok &&= batchOk;
console.log(
  `${batchOk ? 'OK  ' : 'FAIL'} all ${prompts.length} prompts in one left-padded batch give the same greedy tokens`,
);

writeFileSync(
  join(dir, 'reference.json'),
  `${JSON.stringify(
    {
      model:
        "chorus-kjv (trained by tools/train-default-model), this folder's onnx/model.onnx + tokenizer.json",
      decoding:
        'greedy (argmax); BOS (id 1) prepended to every prompt (tokenizer.json post-processor); the empty prompt means BOS only; prefill the whole prompt, then one token per step with the KV cache',
      num_generated: N,
      stop_rule: 'none: exactly num_generated tokens, even past an EOS (id 2)',
      text_decoding:
        'tokenizer.json decode of prompt ids (without BOS) + generated ids; generated_text decodes the generated ids alone',
      prompts,
      validation: `onnxruntime-node ${ort.env.versions?.node ?? ''} CPU, step by step with present -> past_key_values, against the PyTorch model (export.py, with and without KV cache); also as one left-padded batch`,
    },
    null,
    1,
  )}\n`,
);

// A few sampled continuations for the README: temperature 0.8, top-k 40, seeded PRNG (mulberry32).
let seed = 1611;
const random = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const sample = (row) => {
  const top = Array.from(row, (x, i) => [i, x])
    .sort((a, b) => b[1] - a[1])
    .slice(0, 40);
  const w = top.map(([, x]) => Math.exp((x - top[0][1]) / 0.8));
  let r = random() * w.reduce((a, b) => a + b);
  for (let k = 0; k < w.length; k++) {
    r -= w[k];
    if (r <= 0) return top[k][0];
  }
  return top[top.length - 1][0];
};
for (const prompt of ['And God said,', 'Thus saith the LORD,', 'Jesus answered and said']) {
  const ids = tok.encode(prompt).ids;
  const { out } = await generate([ids], 60, sample);
  const end = out[0].indexOf(2);
  console.log(
    `sampled ${JSON.stringify(prompt)} -> ${JSON.stringify(tok.decode(end < 0 ? out[0] : out[0].slice(0, end + 1)))}`,
  );
}
console.log(ok ? 'ONNX model OK' : 'ONNX model FAILED');
process.exitCode = ok ? 0 : 1;
