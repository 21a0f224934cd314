/**
 * The model's shape, read once from the manifest's `config` (config.json as shipped, or
 * onnxruntime-genai's genai_config.json when there is no config.json). Every reader — block costs,
 * the calibration kernel, the placement's crossing sizes — takes its numbers from here.
 *
 * Precedence, per field, first positive number wins:
 * 1. config.json's top level, Llama-family names first (hidden_size, num_hidden_layers,
 *    num_attention_heads, num_key_value_heads, head_dim, intermediate_size, max_position_embeddings),
 *    then GPT-2's (n_embd, n_layer, n_head, n_inner, n_positions, n_ctx);
 * 2. genai_config.json's `model.decoder` (hidden_size, num_hidden_layers, num_attention_heads,
 *    num_key_value_heads, head_size) and `model` (vocab_size, context_length);
 * 3. genai's older flat GPT-2 layout: `model.n_embd`, `model.n_layer`, `model.n_head`. Its
 *    `model.hidden_size` is the head size, not the width, and is never read.
 * Then, what is not stated is derived: kv heads = heads (no GQA), head dim = hidden / heads, and the MLP
 * width 4 × hidden. A GPT-2-named width (n_embd) takes its MLP width from n_inner only: intermediate_size
 * is no GPT-2 field (hf-internal-testing's tiny GPT-2 carries a stray 37; its MLP is 4 × 32 wide).
 * Without a hidden size there is no ModelConfig (null): callers treat the shape as unknown.
 */
import type { Manifest } from './manifest';

export interface ModelConfig {
  readonly hiddenSize: number;
  /** Decoder layers; null when the config does not say. */
  readonly numLayers: number | null;
  /** Query heads; null when the config does not say. */
  readonly numHeads: number | null;
  /** Key/value heads: fewer than numHeads with grouped-query attention; numHeads when not stated. */
  readonly numKvHeads: number | null;
  /** Stated, or hiddenSize / numHeads when that divides; null when unknown. */
  readonly headDim: number | null;
  /** Width of the K (and V) projection: numKvHeads × headDim, or hiddenSize when those are unknown. */
  readonly kvDim: number;
  /** MLP width: stated, or 4 × hiddenSize. */
  readonly intermediateSize: number;
  readonly vocabSize: number | null;
  /** The model's own context limit (position embeddings); null when the config does not say. */
  readonly contextLength: number | null;
}

/** Names of the places a hidden size is looked for, for error messages. */
export const HIDDEN_SIZE_SOURCES = 'hidden_size, n_embd, model.decoder.hidden_size or model.n_embd';

type Json = Record<string, unknown>;

const section = (o: unknown, key: string): Json | null => {
  const v = typeof o === 'object' && o !== null ? (o as Json)[key] : undefined;
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : null;
};

const num = (o: Json | null, key: string): number | null => {
  const v = o?.[key];
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : null;
};

const first = (...values: (number | null)[]): number | null => values.find((v) => v !== null) ?? null;

function parse(config: Json): ModelConfig | null {
  const model = section(config, 'model');
  const decoder = section(model, 'decoder');
  const llamaHidden = num(config, 'hidden_size');
  const gpt2Hidden = num(config, 'n_embd');
  const genaiHidden = num(decoder, 'hidden_size');
  const hiddenSize = first(llamaHidden, gpt2Hidden, genaiHidden, num(model, 'n_embd'));
  if (hiddenSize === null) return null;
  // The width came from n_embd (top level, or genai's flat GPT-2 `model`): GPT-2 naming throughout.
  const gpt2Named = llamaHidden === null && (gpt2Hidden !== null || genaiHidden === null);
  const numHeads = first(
    num(config, 'num_attention_heads'),
    num(config, 'n_head'),
    num(decoder, 'num_attention_heads'),
    num(model, 'n_head'),
  );
  const numKvHeads = first(num(config, 'num_key_value_heads'), num(decoder, 'num_key_value_heads'), numHeads);
  const divided = numHeads === null ? null : hiddenSize / numHeads;
  const headDim = first(
    num(config, 'head_dim'),
    num(decoder, 'head_size'),
    divided !== null && Number.isInteger(divided) ? divided : null,
  );
  return {
    hiddenSize,
    numLayers: first(
      num(config, 'num_hidden_layers'),
      num(config, 'n_layer'),
      num(decoder, 'num_hidden_layers'),
      num(model, 'n_layer'),
    ),
    numHeads,
    numKvHeads,
    headDim,
    kvDim: numKvHeads !== null && headDim !== null ? numKvHeads * headDim : hiddenSize,
    intermediateSize:
      (gpt2Named
        ? num(config, 'n_inner')
        : first(num(config, 'intermediate_size'), num(config, 'n_inner'))) ?? 4 * hiddenSize,
    vocabSize: first(num(config, 'vocab_size'), num(model, 'vocab_size')),
    contextLength: first(
      num(config, 'max_position_embeddings'),
      num(config, 'n_positions'),
      num(config, 'n_ctx'),
      num(model, 'context_length'),
    ),
  };
}

const parsed = new WeakMap<object, ModelConfig | null>();

/** The ModelConfig of a raw config object (parsed once per object); null without a hidden size. */
export function readModelConfig(config: Readonly<Record<string, unknown>> | null): ModelConfig | null {
  if (!config) return null;
  let c = parsed.get(config);
  if (c === undefined) {
    c = parse(config);
    parsed.set(config, c);
  }
  return c;
}

/** The ModelConfig of a manifest; null when its config gives no hidden size. */
export function modelConfigOf(manifest: Pick<Manifest, 'config'>): ModelConfig | null {
  return readModelConfig(manifest.config);
}
