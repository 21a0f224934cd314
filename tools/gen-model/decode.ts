/**
 * Runs a generated model whole in onnxruntime-node, the way Chorus's leader feeds it: a prefill, then
 * one token per step through the KV cache, greedy. Used by the tests and by `bench.ts` (ms/token).
 */
import { readFileSync } from 'node:fs';
import { createNodeSession, type NodeSessionOptions } from '../../src/adapters/ort/node';
import { analyzeModel } from '../../src/core/graph/analyze';
import { pairCacheTensors } from '../../src/core/graph/cache-tensors';
import type { IOSpec } from '../../src/core/graph/manifest';
import { emptyCache, stepInputs } from '../../src/core/pipeline/model-inputs';
import { lastLogitsRow } from '../../src/core/pipeline/stage-runner';
import type { ModelSession } from '../../src/core/ports';
import type { NamedTensors } from '../../src/core/tensor';

export interface LoadedModel {
  session: ModelSession;
  dataSpecs: IOSpec[];
  cacheSpecs: IOSpec[];
  /** [past input, present output] per cache tensor. */
  pairs: [string, string][];
}

export async function loadModel(onnxFile: string, opts?: NodeSessionOptions): Promise<LoadedModel> {
  const a = analyzeModel(readFileSync(onnxFile), onnxFile);
  const cacheSpecs = a.inputs.filter((s) => s.name.startsWith('past'));
  const pairs = pairCacheTensors(
    cacheSpecs.map((s) => s.name),
    a.outputs.map((s) => s.name).filter((n) => n !== 'logits'),
  );
  const session = await createNodeSession(onnxFile, opts);
  return { session, dataSpecs: a.inputs.filter((s) => !s.name.startsWith('past')), cacheSpecs, pairs };
}

export const argmax = (row: Float32Array): number => {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
};

export const emptyPast = (m: LoadedModel): NamedTensors =>
  Object.fromEntries(m.cacheSpecs.map((s) => [s.name, emptyCache(s)]));

export interface GreedyRun {
  /** Generated tokens (after the prompt). */
  tokens: number[];
  /** The last-position logits of every step: prefill, then each decode step. */
  rows: Float32Array[];
  prefillMs: number;
  /** Wall time of each decode step. */
  decodeMs: number[];
}

export async function greedyWithCache(
  m: LoadedModel,
  prompt: readonly number[],
  decodeSteps: number,
): Promise<GreedyRun> {
  let past = emptyPast(m);
  let ids = [...prompt];
  let seen = 0;
  const run: GreedyRun = { tokens: [], rows: [], prefillMs: 0, decodeMs: [] };
  for (let step = 0; step <= decodeSteps; step++) {
    const t0 = performance.now();
    const out = await m.session.run({ ...stepInputs(m.dataSpecs, ids, seen), ...past });
    const ms = performance.now() - t0;
    if (step === 0) run.prefillMs = ms;
    else run.decodeMs.push(ms);
    seen += ids.length;
    past = Object.fromEntries(m.pairs.map(([p, present]) => [p, out[present]!]));
    const row = lastLogitsRow(out.logits!);
    run.rows.push(row);
    ids = [argmax(row)];
    run.tokens.push(ids[0]!);
  }
  return run;
}

/** The whole sequence in one pass, no cache: the reference the cached steps must reproduce. */
export async function fullPassLastRow(m: LoadedModel, ids: readonly number[]): Promise<Float32Array> {
  const out = await m.session.run({ ...stepInputs(m.dataSpecs, ids, 0), ...emptyPast(m) });
  return lastLogitsRow(out.logits!);
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
