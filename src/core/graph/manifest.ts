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

/**
 * A block's weights that stay byte ranges of someone else's file (a Hugging Face repo's ONNX external
 * data): the leader never downloads them, so nobody can hash them in advance and `sha256` is null.
 * A phone fetches each range with an HTTP Range request and places it at `at` in a buffer of `bytes`
 * bytes; the block graph's external-data offsets point into that buffer. What stands in for the hash:
 * the URLs are pinned to a commit (immutable content), each answer must be a 206 whose Content-Range
 * matches the range and whose total matches `sourceBytes`, the body must have exactly `length` bytes,
 * and once cached the block is keyed by the sha256 the phone computed, so later reads are verified.
 */
export interface RemoteRange {
  /** Absolute, revision-pinned URL of the external-data file. */
  readonly url: string;
  readonly offset: number;
  readonly length: number;
  /** Where these bytes go in the block's weights buffer. */
  readonly at: number;
}

export interface RemoteWeightsRef {
  /** The name the block graph's external data uses for this buffer. */
  readonly file: string;
  readonly sha256: null;
  readonly bytes: number;
  readonly ranges: readonly RemoteRange[];
  /** Size of each source file (by URL) when the leader looked; a different total means it changed. */
  readonly sourceBytes: Readonly<Record<string, number>>;
}

export type WeightsRef = FileRef | RemoteWeightsRef;

export function isRemoteWeights(ref: WeightsRef | null): ref is RemoteWeightsRef {
  return ref !== null && ref.sha256 === null;
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
  readonly weights: WeightsRef | null;
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
  /** Ops the block runs per step: each costs a fixed dispatch overhead whatever its size. */
  readonly nodeCount: number;
  /** Weight bytes one decode step reads (embedding tables only gathered from are left out). */
  readonly streamedBytesPerToken: number;
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
  /**
   * Where graph files and hashed weights files come from: 'server' (HTTP, relative to the model's
   * base URL; the default when absent) or 'leader' (over the data channel: the leader built the
   * blocks in its tab from a local folder or a hub graph). Remote weight ranges always come from
   * their own URLs.
   */
  readonly blockSource?: 'server' | 'leader';
  /** Set for a model opened from a Hugging Face repo (for display and cache grouping). */
  readonly hub?: {
    readonly base: string;
    readonly modelId: string;
    readonly revision: string;
    readonly dtype: string;
  };
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
  const isRemoteRef = (r: unknown) => {
    if (typeof r !== 'object' || r === null) return false;
    const w = r as RemoteWeightsRef;
    const int = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
    return (
      w.sha256 === null &&
      typeof w.file === 'string' &&
      int(w.bytes) &&
      typeof w.sourceBytes === 'object' &&
      w.sourceBytes !== null &&
      Array.isArray(w.ranges) &&
      w.ranges.every(
        (g) =>
          typeof g === 'object' &&
          g !== null &&
          /^https?:\/\//.test(String(g.url)) &&
          int(g.offset) &&
          int(g.length) &&
          int(g.at) &&
          g.at + g.length <= w.bytes,
      )
    );
  };
  if (m.blockSource !== undefined && m.blockSource !== 'server' && m.blockSource !== 'leader')
    fail(`blockSource is ${String(m.blockSource)}, expected server or leader`);
  (m.blocks as unknown[]).forEach((b, i) => {
    if (typeof b !== 'object' || b === null) fail(`block ${i} is not an object`);
    const block = b as Record<string, unknown>;
    if (block.index !== i) fail(`block ${i} has index ${String(block.index)}`);
    if (!isRef(block.graph)) fail(`block ${i} has no valid graph file reference`);
    if (block.weights !== null && !isRef(block.weights) && !isRemoteRef(block.weights))
      fail(`block ${i} has an invalid weights reference`);
    for (const key of ['inputs', 'outputs', 'cacheInputs', 'cacheOutputs']) {
      if (!Array.isArray(block[key]) || !(block[key] as unknown[]).every((s) => typeof s === 'string')) {
        fail(`block ${i}.${key} is not a list of names`);
      }
    }
    if (typeof block.file === 'string' && block.file.includes('..'))
      fail(`block ${i} refers outside its folder`);
  });
  for (const b of m.blocks as { graph: FileRef; weights: WeightsRef | null }[]) {
    for (const ref of [b.graph, b.weights]) {
      // Files are relative to the manifest's folder: no way up, no other host.
      if (
        ref &&
        (ref.file.includes('..') || ref.file.startsWith('/') || /^[a-z][a-z0-9+.-]*:/i.test(ref.file))
      )
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
