/**
 * The placement as a set-partitioning MILP over interval columns (CPLEX LP text), for a MilpSolver.
 *
 *   x_d_i_j ∈ {0,1}  phone d runs blocks [i, j) — one column per range that fits d's memory (and, under a
 *                    cap, whose stage time and in/out links stay within it); its cost is the stage time
 *                    plus the leader's input link when i = 0 and the logits link when j = N.
 *   z_d_e_k ≥ 0      d hands over to e at cut k, cost latency + bytes_k / bandwidth(d, e).
 *
 * Rows: Σ_d Σ_j x_d_0_j = 1 (one stage starts the chain); at every cut k, for every phone d,
 * Σ_i x_d_i_k = Σ_e z_d_e_k (what ends at k hands over) and Σ_j x_d_k_j = Σ_e z_e_d_k (what starts at k
 * was handed to); Σ x_d_·_· ≤ 1 (one stage per phone). The x and z form a path from cut 0 to cut N,
 * so the blocks are covered once, in order; with integral x exactly one phone ends and one starts at a
 * used cut, which makes z integral too. Memory is in the columns, not in a row: that, and the path
 * structure, make the LP relaxation tight (at 8 × 48 the root LP is already integral in every instance
 * measured), unlike formulation-by-blocks with a memory row.
 *
 * Throughput is not modelled as min-max (its LP bound is weak: a fractional solution may use a phone
 * twice at half weight, halving its stages). milp-plan.ts instead searches the stage/link times for the
 * least cap under which this model, minimising latency, is feasible; `levels` lists those times.
 */
import { type Chain, type CostTables, hopIndex, type Stage, stageMs } from './cost-model';
import { PlacementError } from './types';

export interface IntervalMilp {
  readonly lp: string;
  /** The chain a solution's values describe. */
  decode(values: Readonly<Record<string, number>>): Chain;
}

function num(x: number): string {
  if (!Number.isFinite(x)) throw new PlacementError(`non-finite coefficient ${x} in the placement MILP`);
  return String(Number(x.toPrecision(15)));
}

const plus = (v: string) => ` + ${v}`;
const minus = (v: string) => ` - ${v}`;

/** Visits every column and hand-over that may be 1 under `cap`, with its cost and occupancy. */
function forEachVariable(
  t: CostTables,
  cap: number,
  column: (d: number, i: number, j: number, cost: number, occupancy: number) => void,
  hop: (d: number, e: number, k: number, cost: number, occupancy: number) => void,
): void {
  const n = t.deviceCount;
  const N = t.blockCount;
  const starts = Array.from({ length: n }, () => new Uint8Array(N + 1));
  const ends = Array.from({ length: n }, () => new Uint8Array(N + 1));
  for (let d = 0; d < n; d++) {
    for (let i = 0; i < N; i++) {
      if (i === 0 && t.inOccMs[d]! > cap) continue;
      for (let j = i + 1; j <= t.maxEnd[d]![i]!; j++) {
        const ms = stageMs(t, d, i, j);
        if (ms > cap) break; // stage time grows with j
        if (j === N && t.outOccMs[d]! > cap) continue;
        const cost = ms + (i === 0 ? t.inMs[d]! : 0) + (j === N ? t.outMs[d]! : 0);
        const occupancy = Math.max(ms, i === 0 ? t.inOccMs[d]! : 0, j === N ? t.outOccMs[d]! : 0);
        column(d, i, j, cost, occupancy);
        starts[d]![i] = 1;
        ends[d]![j] = 1;
      }
    }
  }
  for (let k = 1; k < N; k++) {
    for (let d = 0; d < n; d++) {
      if (!ends[d]![k]) continue;
      for (let e = 0; e < n; e++) {
        const h = hopIndex(t, d, e, k);
        if (e !== d && starts[e]![k] && t.hopOccMs[h]! <= cap) hop(d, e, k, t.hopMs[h]!, t.hopOccMs[h]!);
      }
    }
  }
}

/** The distinct occupancies (stage times, link transfer times) a chain's bottleneck can take, ascending. */
export function bottleneckLevels(t: CostTables): Float64Array {
  const seen = new Set<number>();
  const add = (...args: number[]) => seen.add(args[4]!);
  forEachVariable(t, Number.POSITIVE_INFINITY, add, add);
  return Float64Array.from(seen).sort();
}

/** Minimum token latency over chains whose every stage and link occupancy is ≤ cap; null when no
 *  phone can even start the chain. */
export function buildIntervalMilp(t: CostTables, cap = Number.POSITIVE_INFINITY): IntervalMilp | null {
  const n = t.deviceCount;
  const N = t.blockCount;
  const objective: string[] = [];
  const names: string[] = [];
  const stages: Stage[] = [];
  const endsAt = Array.from({ length: n * (N + 1) }, (): string[] => []);
  const startsAt = Array.from({ length: n * (N + 1) }, (): string[] => []);
  const handedOut = Array.from({ length: n * (N + 1) }, (): string[] => []);
  const handedIn = Array.from({ length: n * (N + 1) }, (): string[] => []);
  const perPhone = Array.from({ length: n }, (): string[] => []);
  const at = (d: number, k: number) => d * (N + 1) + k;
  forEachVariable(
    t,
    cap,
    (d, i, j, cost) => {
      const v = `x${d}_${i}_${j}`;
      names.push(v);
      stages.push({ device: d, first: i, end: j });
      objective.push(` + ${num(cost)} ${v}`);
      endsAt[at(d, j)]!.push(v);
      startsAt[at(d, i)]!.push(v);
      perPhone[d]!.push(v);
    },
    (d, e, k, cost) => {
      const z = `z${d}_${e}_${k}`;
      if (cost > 0) objective.push(` + ${num(cost)} ${z}`);
      handedOut[at(d, k)]!.push(z);
      handedIn[at(e, k)]!.push(z);
    },
  );
  const first: string[] = [];
  for (let d = 0; d < n; d++) first.push(...startsAt[at(d, 0)]!);
  if (first.length === 0) return null;
  const rows = [` s: ${first.map(plus).join('')} = 1`];
  for (let k = 1; k < N; k++) {
    for (let d = 0; d < n; d++) {
      const ends = endsAt[at(d, k)]!;
      if (ends.length > 0) {
        rows.push(` e${d}_${k}:${ends.map(plus).join('')}${handedOut[at(d, k)]!.map(minus).join('')} = 0`);
      }
      const starts = startsAt[at(d, k)]!;
      if (starts.length > 0) {
        rows.push(` b${d}_${k}:${starts.map(plus).join('')}${handedIn[at(d, k)]!.map(minus).join('')} = 0`);
      }
    }
  }
  perPhone.forEach((columns, d) => {
    if (columns.length > 1) rows.push(` u${d}:${columns.map(plus).join('')} <= 1`);
  });
  const binaries: string[] = [];
  for (let c = 0; c < names.length; c += 16) binaries.push(` ${names.slice(c, c + 16).join(' ')}`);
  const goal = objective.length > 0 ? objective.join('') : ` 0 ${names[0]}`;
  const lp = ['Minimize', ` obj:${goal}`, 'Subject To', ...rows, 'Binaries', ...binaries, 'End', ''];
  return {
    lp: lp.join('\n'),
    decode(values) {
      const chain = stages.filter((_, c) => (values[names[c]!] ?? 0) > 0.5);
      return chain.sort((a, b) => a.first - b.first);
    },
  };
}
