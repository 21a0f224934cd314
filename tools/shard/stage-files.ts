/** Node-side helpers: load a shard folder's blocks as stage sessions (tests, tools, benches). */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createNodeSession, type NodeSessionOptions } from '../../src/adapters/ort/node';
import type { Manifest } from '../../src/core/graph/manifest';
import { mergeStage } from '../../src/core/graph/merge-stage';
import { StageRunner } from '../../src/core/pipeline/stage-runner';

/**
 * Merges blocks first..last and opens them as one stage. The merged graph is written beside the
 * blocks because onnxruntime-node resolves external data relative to the model file.
 */
export async function openStage(
  dir: string,
  manifest: Manifest,
  first: number,
  last: number,
  opts?: NodeSessionOptions,
): Promise<StageRunner> {
  const graphs = manifest.blocks
    .slice(first, last + 1)
    .map((b) => readFileSync(path.join(dir, b.graph.file)));
  const stage = mergeStage(manifest, first, last, graphs);
  const file = path.join(dir, `stage-${first}-${last}.onnx`);
  writeFileSync(file, stage.graph);
  const session = await createNodeSession(file, opts);
  const specs = new Map(manifest.inputs.map((s) => [s.name, s]));
  return new StageRunner(session, stage, specs);
}

/** Every way to cut blocks 0..n-1 into `parts` contiguous, non-empty stages: lists of [first, last]. */
export function contiguousSplits(n: number, parts: number): [number, number][][] {
  if (parts === 1) return [[[0, n - 1]]];
  const out: [number, number][][] = [];
  const rec = (start: number, left: number, acc: [number, number][]) => {
    if (left === 1) return void out.push([...acc, [start, n - 1]]);
    for (let end = start; end <= n - left; end++) rec(end + 1, left - 1, [...acc, [start, end]]);
  };
  rec(0, parts, []);
  return out;
}
