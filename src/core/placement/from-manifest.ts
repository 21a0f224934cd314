/**
 * The model half of a PlacementProblem, read from a manifest: block costs and the bytes per token that
 * cross each cut.
 *
 * The bytes crossing the cut after block k are the tensors made at or before k (or fed by the leader)
 * and read after k — what plan.ts's forwardSet sends. Their per-token sizes:
 * - graph inputs and outputs have dims in the manifest: batch and other symbolic dims count 1 (one token
 *   per decode step), except dims named like `total…`/`past…`, which grow with the context (the
 *   attention mask) and count `contextLength`;
 * - intermediate tensors have no dims in the manifest; they are taken as one hidden state,
 *   hidden_size × their element size (hidden_size × 4 bytes in fp32). That is right for the residual
 *   stream and an estimate for the rest (rotary tables, masks); `bytesPerToken` overrides any name, and
 *   `defaulted` lists every tensor sized this way.
 */
import type { IOSpec, Manifest } from '../graph/manifest';
import { elemTypeToDType } from '../graph/manifest';
import { HIDDEN_SIZE_SOURCES, modelConfigOf } from '../graph/model-config';
import { BYTES_PER_ELEMENT } from '../tensor';
import { type BlockCost, PlacementError } from './types';

export interface CrossingOptions {
  readonly contextLength: number;
  /** Defaults to the hidden size in the manifest's config (modelConfigOf). */
  readonly hiddenSize?: number;
  /** Known per-token sizes by tensor name; they win over every estimate. */
  readonly bytesPerToken?: Readonly<Record<string, number>>;
}

export interface CrossingEstimate {
  /** crossingBytes[k]: after block k, for k = 0..blocks − 2. */
  readonly crossingBytes: number[];
  readonly inputBytes: number;
  readonly outputBytes: number;
  /** Tensors sized as one hidden state because the manifest does not say. */
  readonly defaulted: string[];
}

/** Element size of an ONNX type; 4 for types Chorus cannot carry (they do not cross cuts in practice). */
const elemBytes = (elemType: number) => {
  const dtype = elemTypeToDType(elemType);
  return dtype ? BYTES_PER_ELEMENT[dtype] : 4;
};

function specBytes(spec: IOSpec, contextLength: number): number {
  const count = spec.dims.reduce<number>((acc, dim) => {
    if (typeof dim === 'number') return acc * dim;
    return /total|past/i.test(dim) ? acc * contextLength : acc;
  }, 1);
  return count * elemBytes(spec.elemType);
}

export function blockCostsOf(manifest: Manifest): BlockCost[] {
  return manifest.blocks.map((b) => ({
    flopsPerToken: b.flopsPerToken,
    attentionFlopsPerContextToken: b.attentionFlopsPerContextToken,
    weightBytes: b.weightBytes,
    kvBytesPerToken: b.kvBytesPerToken,
  }));
}

export function crossingBytesPerToken(manifest: Manifest, opts: CrossingOptions): CrossingEstimate {
  const hidden = opts.hiddenSize ?? modelConfigOf(manifest)?.hiddenSize ?? null;
  const specs = new Map([...manifest.inputs, ...manifest.outputs].map((s) => [s.name, s]));
  const defaulted: string[] = [];
  const sizeOf = (name: string, elemType: number): number => {
    const known = opts.bytesPerToken?.[name];
    if (known !== undefined) return known;
    const spec = specs.get(name);
    if (spec) return specBytes(spec, opts.contextLength);
    if (hidden === null)
      throw new PlacementError(
        `cannot size tensor ${name}: the manifest's config has no hidden size (${HIDDEN_SIZE_SOURCES})`,
      );
    defaulted.push(name);
    return hidden * elemBytes(elemType);
  };
  const sizes = new Map(manifest.tensors.map((t) => [t.name, sizeOf(t.name, t.elemType)]));
  const N = manifest.blocks.length;
  const crossingBytes = Array.from({ length: N - 1 }, (_, k) =>
    manifest.tensors
      .filter((t) => t.producer <= k && t.consumers.some((c) => c > k))
      .reduce((sum, t) => sum + sizes.get(t.name)!, 0),
  );
  const inputBytes = manifest.tensors
    .filter((t) => t.producer === -1)
    .reduce((sum, t) => sum + sizes.get(t.name)!, 0);
  const last = manifest.blocks[N - 1];
  const cache = new Set(last?.cacheOutputs ?? []);
  // What the last stage returns: its non-cache outputs (the logits, vocab × element size per token).
  const outputBytes = (last?.outputs ?? [])
    .filter((name) => !cache.has(name))
    .reduce((sum, name) => sum + sizeOf(name, 1), 0);
  return { crossingBytes, inputBytes, outputBytes, defaulted };
}
