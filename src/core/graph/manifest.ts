/**
 * manifest.json: everything a phone or the leader needs to know about a sharded model, without reading
 * any weights. Blocks are listed in execution order; `tensors` is the data-transmission map (every
 * tensor that crosses a block boundary, who makes it and who reads it).
 */
import type { DType } from '../tensor';

export const MANIFEST_FORMAT = 'chorus-blocks/1';

export interface FileRef {
  readonly file: string;
  readonly sha256: string;
  readonly bytes: number;
}

export interface IOSpec {
  readonly name: string;
  /** ONNX element type code (1 float, 7 int64, 10 float16, ...). */
  readonly elemType: number;
  /** The runtime dtype when Chorus can carry it, else null. */
  readonly dtype: DType | null;
  /** Fixed sizes as numbers, symbolic ones (batch, sequence, past length) as their names. */
  readonly dims: readonly (number | string)[];
}

export interface TensorRoute {
  readonly name: string;
  readonly elemType: number;
  readonly dtype: DType | null;
  /** Index of the block that computes it, or -1 for a graph input the leader feeds. */
  readonly producer: number;
  readonly consumers: readonly number[];
}

export type BlockKind = 'prologue' | 'layer' | 'epilogue';

export interface BlockEntry {
  readonly index: number;
  readonly kind: BlockKind;
  readonly layer: number | null;
  /** The block's graph; its large initializers live in `weights` (ONNX external data). */
  readonly graph: FileRef;
  readonly weights: FileRef | null;
  readonly params: number;
  readonly weightBytes: number;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly cacheInputs: readonly string[];
  readonly cacheOutputs: readonly string[];
  /** Multiply-adds ×2 of the weight matrices for one token. */
  readonly flopsPerToken: number;
  /** Extra FLOPs per token for each position already in the KV cache (attention scores and mix). */
  readonly attentionFlopsPerContextToken: number;
  readonly kvBytesPerToken: number;
}

export interface Manifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly name: string;
  readonly source: { readonly file: string; readonly bytes: number };
  readonly irVersion: number;
  readonly opsets: readonly { readonly domain: string; readonly version: number }[];
  readonly numLayers: number;
  /** config.json (or genai_config.json's model section) as given, for the tokenizer and generation. */
  readonly config: Record<string, unknown> | null;
  readonly generationConfig: Record<string, unknown> | null;
  readonly files: {
    readonly tokenizer: FileRef | null;
    readonly tokenizerConfig: FileRef | null;
  };
  readonly inputs: readonly IOSpec[];
  readonly outputs: readonly IOSpec[];
  readonly tensors: readonly TensorRoute[];
  readonly blocks: readonly BlockEntry[];
  readonly totals: {
    readonly params: number;
    readonly weightBytes: number;
    readonly flopsPerToken: number;
    readonly kvBytesPerToken: number;
  };
}

export class ManifestError extends Error {
  override name = 'ManifestError';
}

/** Checks a parsed manifest.json enough that later code can trust its structure. */
export function parseManifest(json: unknown, what = 'manifest.json'): Manifest {
  const fail = (msg: string): never => {
    throw new ManifestError(`${what}: ${msg}`);
  };
  if (typeof json !== 'object' || json === null) return fail('not a JSON object');
  const m = json as Record<string, unknown>;
  if (m.format !== MANIFEST_FORMAT) return fail(`format is ${String(m.format)}, expected ${MANIFEST_FORMAT}`);
  if (!Array.isArray(m.blocks) || m.blocks.length === 0) return fail('has no blocks');
  if (!Array.isArray(m.tensors) || !Array.isArray(m.inputs) || !Array.isArray(m.outputs)) {
    return fail('lacks tensors, inputs or outputs');
  }
  const isRef = (r: unknown) =>
    typeof r === 'object' &&
    r !== null &&
    typeof (r as FileRef).file === 'string' &&
    /^[0-9a-f]{64}$/.test((r as FileRef).sha256) &&
    Number.isInteger((r as FileRef).bytes);
  (m.blocks as unknown[]).forEach((b, i) => {
    const block = b as Record<string, unknown>;
    if (block.index !== i) fail(`block ${i} has index ${String(block.index)}`);
    if (!isRef(block.graph)) fail(`block ${i} has no valid graph file reference`);
    if (block.weights !== null && !isRef(block.weights)) fail(`block ${i} has an invalid weights reference`);
    for (const key of ['inputs', 'outputs', 'cacheInputs', 'cacheOutputs']) {
      if (!Array.isArray(block[key]) || !(block[key] as unknown[]).every((s) => typeof s === 'string')) {
        fail(`block ${i}.${key} is not a list of names`);
      }
    }
    if (typeof block.file === 'string' && block.file.includes('..'))
      fail(`block ${i} refers outside its folder`);
  });
  for (const b of m.blocks as { graph: FileRef; weights: FileRef | null }[]) {
    for (const ref of [b.graph, b.weights]) {
      if (ref && (ref.file.includes('..') || ref.file.startsWith('/')))
        fail(`file ${ref.file} is outside the folder`);
    }
  }
  return json as Manifest;
}

export function elemTypeToDType(t: number): DType | null {
  switch (t) {
    case 1:
      return 'float32';
    case 10:
      return 'float16';
    case 7:
      return 'int64';
    case 6:
      return 'int32';
    case 3:
      return 'int8';
    case 2:
      return 'uint8';
    case 9:
      return 'bool';
    default:
      return null;
  }
}
