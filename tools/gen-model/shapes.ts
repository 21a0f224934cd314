/**
 * Model shapes: the presets, the parameter-count formula, and the config.json / generation_config.json
 * a Hugging Face `LlamaForCausalLM` export carries beside its ONNX files.
 */

export interface LlamaShape {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  /** MLP (SwiGLU) width. */
  intermediate: number;
  vocab: number;
  /** hidden / heads unless a preset says otherwise, as in HF configs. */
  headDim: number;
  ropeTheta: number;
  rmsNormEps: number;
  maxPositions: number;
}

export type Dtype = 'fp32' | 'q4';

export interface GenOptions {
  shape: LlamaShape;
  dtypes: readonly Dtype[];
  /** MatMulNBits block size: 32 is what transformers.js's quantize script uses by default. */
  blockSize: number;
  /**
   * MatMulNBits accuracy_level; null leaves the attribute out, as transformers.js's quantize script does
   * by default (4 = int8 compute, what onnxruntime-genai's builder sets).
   */
  accuracyLevel: number | null;
  seed: number;
}

const base = { ropeTheta: 10000, rmsNormEps: 1e-5, maxPositions: 2048 };

/** SmolLM2-135M's geometry (HuggingFaceTB/SmolLM2-135M config.json): 134,515,008 parameters, tied. */
const smol135m: LlamaShape = {
  ...base,
  hidden: 576,
  layers: 30,
  heads: 9,
  kvHeads: 3,
  intermediate: 1536,
  vocab: 49152,
  headDim: 64,
  ropeTheta: 100000,
  maxPositions: 8192,
};

/**
 * ~30M: a SmolLM-style narrow-and-deep decoder with a Llama-2-sized vocabulary (32000), the size class of
 * TinyStories-33M or a "llama-30m"; every dimension is a multiple of 32 so 4-bit blocks tile exactly.
 */
const mini30m: LlamaShape = {
  ...base,
  hidden: 384,
  layers: 12,
  heads: 6,
  kvHeads: 2,
  intermediate: 1024,
  vocab: 32000,
  headDim: 64,
};

/** For tests: seconds to generate, shard and chain, yet every feature (GQA, RoPE, 4-bit blocks) is there. */
const tiny: LlamaShape = {
  ...base,
  hidden: 64,
  layers: 4,
  heads: 4,
  kvHeads: 2,
  intermediate: 160,
  vocab: 512,
  headDim: 16,
};

export const PRESETS: Readonly<Record<string, LlamaShape>> = {
  tiny,
  'mini-30m': mini30m,
  'smol-135m': smol135m,
};

/** Checks what the graph relies on; the error names the flag to fix. */
export function validateShape(s: LlamaShape): void {
  const ints = Object.entries(s).filter(([k]) => !['ropeTheta', 'rmsNormEps'].includes(k));
  for (const [k, v] of ints)
    if (!Number.isInteger(v) || v <= 0) throw new Error(`${k} must be a positive integer, got ${v}`);
  if (s.heads % s.kvHeads !== 0)
    throw new Error(`heads (${s.heads}) must be a multiple of kv-heads (${s.kvHeads})`);
  if (s.headDim % 2 !== 0) throw new Error(`head-dim (${s.headDim}) must be even for rotary embeddings`);
}

/** Parameters as Hugging Face counts them: the LM head is tied to the embedding, so counted once. */
export function paramCount(s: LlamaShape): number {
  const q = s.heads * s.headDim;
  const kv = s.kvHeads * s.headDim;
  const attention = s.hidden * q + 2 * s.hidden * kv + q * s.hidden;
  const mlp = 3 * s.hidden * s.intermediate;
  const norms = 2 * s.hidden;
  return s.vocab * s.hidden + s.layers * (attention + mlp + norms) + s.hidden;
}

/**
 * Parameters stored in the ONNX file: exporters fold the tied LM head into its own transposed
 * initializer (stories260k's `lm_head.MatMul.weight` too), so the embedding's values appear twice.
 */
export function storedParamCount(s: LlamaShape): number {
  return paramCount(s) + s.vocab * s.hidden;
}

export function configJson(s: LlamaShape, dtypes: readonly Dtype[]): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: 1,
    eos_token_id: 2,
    head_dim: s.headDim,
    hidden_act: 'silu',
    hidden_size: s.hidden,
    initializer_range: 0.02,
    intermediate_size: s.intermediate,
    max_position_embeddings: s.maxPositions,
    mlp_bias: false,
    num_attention_heads: s.heads,
    num_hidden_layers: s.layers,
    num_key_value_heads: s.kvHeads,
    pretraining_tp: 1,
    rms_norm_eps: s.rmsNormEps,
    rope_scaling: null,
    rope_theta: s.ropeTheta,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
    use_cache: true,
    vocab_size: s.vocab,
    'transformers.js_config': { dtype: dtypes[0] ?? 'fp32' },
  };
}

export function generationConfigJson(s: LlamaShape): Record<string, unknown> {
  return { bos_token_id: 1, eos_token_id: 2, do_sample: false, max_length: s.maxPositions };
}
