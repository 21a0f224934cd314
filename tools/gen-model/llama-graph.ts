/**
 * The decoder graph: a Hugging Face Llama as Optimum / onnx-community export it with past key/values,
 * in standard opset-17 ops (the float model is plain ONNX), with the linear layers as com.microsoft
 * MatMulNBits in the q4 variant like transformers.js's quantize script leaves them (embedding and norms
 * stay float, the tied LM head is quantized as its own MatMul).
 *
 * Interface (the names Chorus and transformers.js feed): inputs `input_ids`, `attention_mask`,
 * `position_ids` int64 and `past_key_values.{i}.key|value` float32 [batch, kv_heads, past, head_dim];
 * outputs `logits` and `present.{i}.key|value`.
 */
import { ElemType } from '../../src/core/graph/onnx-proto';
import { floats, GraphBuilder, int64s } from './graph-builder';
import type { Dtype, LlamaShape } from './shapes';
import { type Field, q4Weights, rowMajor, tensorKey, transposed } from './weights';

const BATCH = 'batch_size';
const SEQ = 'sequence_length';
const PAST = 'past_sequence_length';
const TOTAL = 'past_sequence_length + sequence_length';
/** torch.finfo(float32).min, what transformers adds for masked positions. */
const MASKED = -3.4028234663852886e38;
/** Initializer std, as `initializer_range` in the config. */
const STD = 0.02;

export interface BuildOptions {
  shape: LlamaShape;
  dtype: Dtype;
  blockSize: number;
  accuracyLevel: number | null;
  seed: number;
}

export function buildLlama(o: BuildOptions): GraphBuilder {
  const s = o.shape;
  const g = new GraphBuilder();
  const field = (name: string, rows: number, cols: number, mean = 0, std = STD): Field => ({
    key: tensorKey(o.seed, name),
    rows,
    cols,
    std,
    mean,
  });
  const int = (scope: string, values: number[], dims?: number[]) => g.constant(scope, int64s(values, dims));
  const flt = (scope: string, value: number) => g.constant(scope, floats([value], []));

  /** A bias-free linear `module` (HF name) from `inF` to `outF` features, over the last axis of `x`. */
  const linear = (scope: string, module: string, x: string, f: Field, outputs?: string[]): string => {
    const inF = f.cols;
    const outF = f.rows;
    if (o.dtype === 'fp32') {
      const w = g.weight(`${module}.MatMul.weight`, [inF, outF], transposed(f));
      return g.op(scope, 'MatMul', [x, w], {}, { outputs });
    }
    const { packed, scales } = q4Weights(f, o.blockSize);
    const blocks = Math.ceil(inF / o.blockSize);
    const b = g.weight(`${module}.MatMul.weight_Q4`, [outF, blocks, o.blockSize / 2], packed, ElemType.UINT8);
    const sc = g.weight(`${module}.MatMul.weight_scales`, [outF * blocks], scales);
    // The quantizer renames the node `<MatMul>_Q4` and keeps its output tensor.
    const attrs: Record<string, number> = { K: inF, N: outF, bits: 4, block_size: o.blockSize };
    if (o.accuracyLevel !== null) attrs.accuracy_level = o.accuracyLevel;
    return g.op(scope, 'MatMulNBits', [x, b, sc], attrs, {
      domain: 'com.microsoft',
      name: `${scope}/MatMul_Q4`,
      outputs: outputs ?? [`${scope}/MatMul_output_0`],
    });
  };

  /** RMSNorm in the decomposed form torch exports: x · 1/sqrt(mean(x²) + eps) · weight. */
  const rmsNorm = (scope: string, module: string, x: string): string => {
    const w = g.weight(`${module}.weight`, [s.hidden], rowMajor(field(`${module}.weight`, 1, s.hidden, 1)));
    const sq = g.op(scope, 'Pow', [x, flt(scope, 2)]);
    const mean = g.op(scope, 'ReduceMean', [sq], { axes: [-1], keepdims: 1 });
    const root = g.op(scope, 'Sqrt', [g.op(scope, 'Add', [mean, flt(scope, s.rmsNormEps)])]);
    const scaled = g.op(scope, 'Mul', [x, g.op(scope, 'Div', [flt(scope, 1), root])]);
    return g.op(scope, 'Mul', [w, scaled]);
  };

  // Interface.
  const ids = g.input('input_ids', ElemType.INT64, [BATCH, SEQ]);
  const attentionMask = g.input('attention_mask', ElemType.INT64, [BATCH, TOTAL]);
  const positionIds = g.input('position_ids', ElemType.INT64, [BATCH, SEQ]);
  for (let i = 0; i < s.layers; i++) {
    for (const kv of ['key', 'value'])
      g.input(`past_key_values.${i}.${kv}`, ElemType.FLOAT, [BATCH, s.kvHeads, PAST, s.headDim]);
  }
  g.output('logits', ElemType.FLOAT, [BATCH, SEQ, s.vocab]);
  for (let i = 0; i < s.layers; i++) {
    for (const kv of ['key', 'value'])
      g.output(`present.${i}.${kv}`, ElemType.FLOAT, [BATCH, s.kvHeads, TOTAL, s.headDim]);
  }

  // Embedding; its field is also the tied LM head's.
  const embedField = field('model.embed_tokens.weight', s.vocab, s.hidden);
  const embed = g.weight('model.embed_tokens.weight', [s.vocab, s.hidden], rowMajor(embedField));
  let h = g.op('/model/embed_tokens', 'Gather', [embed, ids]);

  // Rotary tables, once for all layers: cos/sin of position × inv_freq, [batch, 1, seq, head_dim].
  const rs = '/model/rotary_emb';
  const half = s.headDim / 2;
  const invFreq = Array.from({ length: half }, (_, j) => 1 / s.ropeTheta ** ((2 * j) / s.headDim));
  const pos = g.op(rs, 'Cast', [g.op(rs, 'Unsqueeze', [positionIds, int(rs, [2])])], { to: ElemType.FLOAT });
  const freqs = g.op(rs, 'Mul', [pos, g.constant(rs, floats(invFreq))]);
  const angles = g.op(rs, 'Concat', [freqs, freqs], { axis: -1 });
  const cos = g.op(rs, 'Unsqueeze', [g.op(rs, 'Cos', [angles]), int(rs, [1])]);
  const sin = g.op(rs, 'Unsqueeze', [g.op(rs, 'Sin', [angles]), int(rs, [1])]);

  // Causal + padding mask, once: key j is visible to query i iff j <= past + i and attention_mask[j] = 1.
  // The past length comes from the mask's width, not from a cache input, so no layer owns this work.
  const ms = '/model';
  const seqLen = g.op(ms, 'Gather', [g.op(ms, 'Shape', [ids]), int(ms, [1], [])], { axis: 0 });
  const total = g.op(ms, 'Gather', [g.op(ms, 'Shape', [attentionMask]), int(ms, [1], [])], { axis: 0 });
  const past = g.op(ms, 'Sub', [total, seqLen]);
  const one = int(ms, [1], []);
  const queryPos = g.op(ms, 'Unsqueeze', [g.op(ms, 'Range', [past, total, one]), int(ms, [1])]);
  const keyPos = g.op(ms, 'Range', [int(ms, [0], []), total, one]);
  const causal = g.op(ms, 'LessOrEqual', [keyPos, queryPos]);
  const padded = g.op(ms, 'Unsqueeze', [attentionMask, int(ms, [1, 2])]);
  const keep = g.op(ms, 'Greater', [padded, int(ms, [0], [])]);
  const allowed = g.op(ms, 'And', [causal, keep]);
  const maskBias = g.op(ms, 'Where', [allowed, flt(ms, 0), flt(ms, MASKED)]);

  const qDim = s.heads * s.headDim;
  const kvDim = s.kvHeads * s.headDim;
  const groups = s.heads / s.kvHeads;
  for (let i = 0; i < s.layers; i++) {
    const ls = `/model/layers.${i}`;
    const lm = `model.layers.${i}`;
    const as = `${ls}/self_attn`;
    const am = `${lm}.self_attn`;
    const x = rmsNorm(`${ls}/input_layernorm`, `${lm}.input_layernorm`, h);
    /** [batch, seq, heads·head_dim] → [batch, heads, seq, head_dim]. */
    const heads = (t: string, n: number) =>
      g.op(as, 'Transpose', [g.op(as, 'Reshape', [t, int(as, [0, 0, n, s.headDim])])], {
        perm: [0, 2, 1, 3],
      });
    const proj = (name: string, out: number) =>
      linear(`${as}/${name}`, `${am}.${name}`, x, field(`${am}.${name}.weight`, out, s.hidden));
    const q = heads(proj('q_proj', qDim), s.heads);
    const k = heads(proj('k_proj', kvDim), s.kvHeads);
    const v = heads(proj('v_proj', kvDim), s.kvHeads);
    // Rotary embedding, "rotate half": x·cos + concat(−x₂, x₁)·sin.
    const rope = (t: string) => {
      const x1 = g.op(as, 'Slice', [t, int(as, [0]), int(as, [half]), int(as, [-1])]);
      const x2 = g.op(as, 'Slice', [t, int(as, [half]), int(as, [s.headDim]), int(as, [-1])]);
      const rotated = g.op(as, 'Concat', [g.op(as, 'Neg', [x2]), x1], { axis: -1 });
      return g.op(as, 'Add', [g.op(as, 'Mul', [t, cos]), g.op(as, 'Mul', [rotated, sin])]);
    };
    const presentK = g.op(
      as,
      'Concat',
      [`past_key_values.${i}.key`, rope(k)],
      { axis: 2 },
      { outputs: [`present.${i}.key`] },
    );
    const presentV = g.op(
      as,
      'Concat',
      [`past_key_values.${i}.value`, v],
      { axis: 2 },
      { outputs: [`present.${i}.value`] },
    );
    // Grouped-query attention: each KV head serves `groups` query heads (HF repeat_kv: expand, reshape).
    const repeat = (t: string) => {
      if (groups === 1) return t;
      const wide = g.op(as, 'Expand', [
        g.op(as, 'Unsqueeze', [t, int(as, [2])]),
        int(as, [1, 1, groups, 1, 1]),
      ]);
      return g.op(as, 'Reshape', [wide, int(as, [0, s.heads, -1, s.headDim])]);
    };
    const keysT = g.op(as, 'Transpose', [repeat(presentK)], { perm: [0, 1, 3, 2] });
    const scores = g.op(as, 'Div', [g.op(as, 'MatMul', [rope(q), keysT]), flt(as, Math.sqrt(s.headDim))]);
    const probs = g.op(as, 'Softmax', [g.op(as, 'Add', [scores, maskBias])], { axis: -1 });
    const context = g.op(as, 'Transpose', [g.op(as, 'MatMul', [probs, repeat(presentV)])], {
      perm: [0, 2, 1, 3],
    });
    const merged = g.op(as, 'Reshape', [context, int(as, [0, 0, qDim])]);
    const attnOut = linear(
      `${as}/o_proj`,
      `${am}.o_proj`,
      merged,
      field(`${am}.o_proj.weight`, s.hidden, qDim),
    );
    const mid = g.op(ls, 'Add', [h, attnOut]);

    // SwiGLU MLP: down(silu(gate(x)) · up(x)).
    const y = rmsNorm(`${ls}/post_attention_layernorm`, `${lm}.post_attention_layernorm`, mid);
    const mp = `${ls}/mlp`;
    const mm = `${lm}.mlp`;
    const gate = linear(
      `${mp}/gate_proj`,
      `${mm}.gate_proj`,
      y,
      field(`${mm}.gate_proj.weight`, s.intermediate, s.hidden),
    );
    const up = linear(
      `${mp}/up_proj`,
      `${mm}.up_proj`,
      y,
      field(`${mm}.up_proj.weight`, s.intermediate, s.hidden),
    );
    const act = g.op(mp, 'Mul', [g.op(mp, 'Mul', [gate, g.op(mp, 'Sigmoid', [gate])]), up]);
    const down = linear(
      `${mp}/down_proj`,
      `${mm}.down_proj`,
      act,
      field(`${mm}.down_proj.weight`, s.hidden, s.intermediate),
    );
    h = g.op(ls, 'Add', [mid, down]);
  }

  const final = rmsNorm('/model/norm', 'model.norm', h);
  // Tied: the LM head is the embedding's field again, stored as its own (transposed or packed) initializer.
  linear('/lm_head', 'lm_head', final, embedField, ['logits']);
  return g;
}
