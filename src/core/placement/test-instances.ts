/**
 * Seeded random placement problems for tests and benchmarks: heterogeneous phones, uneven blocks
 * (a light prologue, heavy epilogue), sparse measured links, a leader that is sometimes a phone.
 */
import { createRng, type Rng } from '../sampling/rng';
import type { BlockCost, DeviceProfile, LinkProfile, PlacementObjective, PlacementProblem } from './types';

export interface InstanceShape {
  readonly devices: number;
  readonly blocks: number;
  readonly objective: PlacementObjective;
  /** Budgets as a fraction of the whole model, drawn from [lo, hi). */
  readonly memory?: readonly [number, number];
  /** Give every phone a measured per-block time table instead of a speed. */
  readonly measured?: boolean;
}

const between = (rng: Rng, lo: number, hi: number) => lo + (hi - lo) * rng();
const int = (rng: Rng, lo: number, hi: number) => Math.floor(between(rng, lo, hi + 1));

export function randomProblem(seed: number, shape: InstanceShape): PlacementProblem {
  const rng = createRng(seed);
  const N = shape.blocks;
  const blocks: BlockCost[] = Array.from({ length: N }, (_, b) => {
    const edge = b === 0 || b === N - 1;
    return {
      flopsPerToken: b === 0 && N > 1 ? 0 : int(rng, 1, edge ? 400 : 100) * 1e7,
      attentionFlopsPerContextToken: edge ? 0 : int(rng, 0, 20) * 1e4,
      weightBytes: int(rng, edge ? 50 : 20, edge ? 200 : 100) * 2 ** 20,
      kvBytesPerToken: edge ? 0 : int(rng, 0, 8) * 1024,
    };
  });
  const contextLength = int(rng, 0, 4) * 256;
  const total = blocks.reduce((s, b) => s + b.weightBytes + b.kvBytesPerToken * contextLength, 0);
  const [lo, hi] = shape.memory ?? [0.2, 1.2];
  const devices: DeviceProfile[] = Array.from({ length: shape.devices }, (_, d) => {
    const msPerGflop = between(rng, 0.5, 8);
    return {
      id: `p${d}`,
      name: `phone ${d}`,
      msPerGflop,
      ...(shape.measured
        ? { msPerBlock: blocks.map((b) => (msPerGflop * b.flopsPerToken) / 1e9 + between(rng, 0, 3)) }
        : {}),
      fixedStepMs: between(rng, 0, 4),
      memoryBudgetBytes: Math.floor(total * between(rng, lo, hi)),
    };
  });
  const links: LinkProfile[] = [];
  const ids = [...devices.map((d) => d.id), 'leader'];
  for (const from of ids) {
    for (const to of ids) {
      if (from !== to && rng() < 0.6) {
        links.push({ from, to, latencyMs: between(rng, 1, 30), bytesPerMs: between(rng, 50, 5000) });
      }
    }
  }
  return {
    blocks,
    crossingBytes: Array.from({ length: N - 1 }, () => int(rng, 1, 64) * 1024),
    inputBytes: int(rng, 8, 64),
    outputBytes: int(rng, 32, 256) * 1024,
    devices,
    links,
    defaultLink: { latencyMs: between(rng, 2, 20), bytesPerMs: between(rng, 100, 2000) },
    leaderId: rng() < 0.5 ? 'leader' : ids[int(rng, 0, shape.devices - 1)]!,
    contextLength,
    objective: shape.objective,
  };
}
