/**
 * Predicts how long a block takes on a phone from that phone's calibration (calibration-model.ts) and
 * the block's static costs from the manifest. One decode step reads each weight once, so its time is
 * weight bytes × (ms per byte) — memory bandwidth, not FLOPs, sets it — plus ops × (ms per op) and the
 * attention over the cached context. Checked against measured stage times after every run.
 */
import type { BlockEntry } from '../graph/manifest';
import {
  KERNEL_OPS_PER_LAYER,
  kernelCopies,
  kernelFlopsPerToken,
  type LayerShape,
  layerBytes,
} from './calibration-model';

export interface Calibration {
  readonly shape: LayerShape;
  readonly threads: number;
  readonly backend: string;
  /** The layer kernel at one token (decode) and at `prefillTokens` tokens. */
  readonly decodeMs: number;
  readonly prefillMs: number;
  readonly prefillTokens: number;
  /** The fixed cost of one op (from the dispatch chain). */
  readonly perOpMs: number;
}

export interface Rates {
  /** Decode: ms per weight byte read (bandwidth-bound). */
  readonly msPerByte: number;
  /** Prefill and attention: ms per FLOP (compute-bound). */
  readonly msPerFlop: number;
  readonly perOpMs: number;
}

/** The op overhead is taken out of the kernel times so it is not counted twice. */
export function ratesOf(c: Calibration): Rates {
  const copies = kernelCopies(c.shape);
  const ops = copies * KERNEL_OPS_PER_LAYER * c.perOpMs;
  const decode = Math.max(c.decodeMs - ops, c.decodeMs * 0.1);
  const prefill = Math.max(c.prefillMs - ops, c.prefillMs * 0.1);
  return {
    msPerByte: decode / (copies * layerBytes(c.shape)),
    msPerFlop: prefill / (copies * kernelFlopsPerToken(c.shape) * c.prefillTokens),
    perOpMs: c.perOpMs,
  };
}

/** Predicted time of one decode step of `block` with `context` tokens already cached. */
export function predictBlockMs(block: BlockEntry, rates: Rates, context = 0): number {
  return (
    block.streamedBytesPerToken * rates.msPerByte +
    block.attentionFlopsPerContextToken * context * rates.msPerFlop +
    block.nodeCount * rates.perOpMs
  );
}
