/**
 * The placement as a mixed-integer program (CPLEX LP text), for a MilpSolver such as HiGHS.
 *
 * A chain is one unit of flow through nodes (phone d, block b) in block order:
 *   r_d_b ∈ {0,1}    d runs block b (the flow moves from (d, b) to (d, b+1));
 *   h_d_e_k ∈ {0,1}  d hands over to e at the cut before block k (flow moves from d's row to e's);
 *   u_d ∈ [0,1]      d is entered: r_d_0 + Σ h_·_d_·  ≤ 1, so every phone runs one contiguous range.
 * Flow balance at every (d, k); Σ_d r_d_0 = 1; d may hand over at k only after running block k−1, so
 * no phone takes an empty range; memory Σ_b m_b r_d_b ≤ M_d u_d. Latency is a linear objective over
 * r and h; throughput minimises T over rows "stage time ≤ T" and "link transfer ≤ T" per phone (each
 * phone has one stage and sends once, so one row per phone suffices). Exact, but with a free phone
 * order its LP relaxation is weak: at 8 phones × 48 blocks HiGHS needs 0.2–4 s for latency and often
 * over a minute for throughput (min-max), hence chain-dp.ts is the default engine.
 */
import { type Chain, type CostTables, hopIndex, type Stage } from './cost-model';
import { PlacementError } from './types';

export type MilpMode = { readonly kind: 'latency'; readonly cap?: number } | { readonly kind: 'throughput' };

export interface PlacementMilp {
  readonly lp: string;
  /** The chain a solution's values describe. */
  decode(values: Readonly<Record<string, number>>): Chain;
}

type Term = readonly [coefficient: number, variable: string];

function num(x: number): string {
  if (!Number.isFinite(x)) throw new PlacementError(`non-finite coefficient ${x} in the placement MILP`);
  return String(Number(x.toPrecision(15)));
}

function linear(terms: readonly Term[]): string {
  return terms
    .map(([c, v], i) => {
      const sign = c < 0 ? '-' : i === 0 ? '' : '+';
      return `${sign}${sign ? ' ' : ''}${num(Math.abs(c))} ${v}`;
    })
    .join(' ');
}

const r = (d: number, b: number) => `r${d}_${b}`;
const h = (d: number, e: number, k: number) => `h${d}_${e}_${k}`;
const u = (d: number) => `u${d}`;

/** The model, or null when it is trivially infeasible (no phone can run the first block). */
export function buildPlacementMilp(t: CostTables, mode: MilpMode): PlacementMilp | null {
  const n = t.deviceCount;
  const N = t.blockCount;
  const cap = mode.kind === 'latency' ? (mode.cap ?? Number.POSITIVE_INFINITY) : Number.POSITIVE_INFINITY;
  // A variable exists only where it could be 1: the block fits on the phone alone, the link is within cap.
  const runs = (d: number, b: number) =>
    t.maxEnd[d]![b]! > b &&
    (b > 0 || t.inOccMs[d]! <= cap) &&
    (b < N - 1 || t.outOccMs[d]! <= cap) &&
    t.fixedMs[d]! + t.timePrefix[d]![b + 1]! - t.timePrefix[d]![b]! <= cap;
  const hops = (d: number, e: number, k: number) =>
    d !== e && runs(d, k - 1) && runs(e, k) && t.hopOccMs[hopIndex(t, d, e, k)]! <= cap;

  const objective: Term[] = [];
  const rows: string[] = [];
  const binaries: string[] = [];
  const blockMs = (d: number, b: number) => t.timePrefix[d]![b + 1]! - t.timePrefix[d]![b]!;
  const unit = Math.max(1, ...t.budget) / 1024; // memory in ~1/1024ths of the largest budget: sane numbers
  const starts: Term[] = [];
  const feeds: Term[] = [];

  for (let d = 0; d < n; d++) {
    for (let b = 0; b < N; b++) {
      if (!runs(d, b)) continue;
      binaries.push(r(d, b));
      const cost =
        blockMs(d, b) + (b === 0 ? t.inMs[d]! + t.fixedMs[d]! : 0) + (b === N - 1 ? t.outMs[d]! : 0);
      objective.push([cost, r(d, b)]);
    }
    if (runs(d, 0)) {
      starts.push([1, r(d, 0)]);
      feeds.push([t.inOccMs[d]!, r(d, 0)]);
    }
    for (let e = 0; e < n; e++) {
      for (let k = 1; k < N; k++) {
        if (!hops(d, e, k)) continue;
        binaries.push(h(d, e, k));
        objective.push([t.hopMs[hopIndex(t, d, e, k)]! + t.fixedMs[e]!, h(d, e, k)]);
      }
    }
  }
  if (starts.length === 0) return null; // no phone can even start the chain
  rows.push(`start: ${linear(starts)} = 1`);

  for (let d = 0; d < n; d++) {
    const entries: Term[] = runs(d, 0) ? [[1, r(d, 0)]] : [];
    const sends: Term[] = runs(d, N - 1) ? [[t.outOccMs[d]!, r(d, N - 1)]] : [];
    for (let k = 1; k < N; k++) {
      const into: Term[] = [];
      const out: Term[] = [];
      for (let e = 0; e < n; e++) {
        if (hops(e, d, k)) into.push([1, h(e, d, k)]);
        if (hops(d, e, k)) {
          out.push([1, h(d, e, k)]);
          sends.push([t.hopOccMs[hopIndex(t, d, e, k)]!, h(d, e, k)]);
        }
      }
      entries.push(...into);
      const before: Term[] = runs(d, k - 1) ? [[1, r(d, k - 1)]] : [];
      const after: Term[] = runs(d, k) ? [[-1, r(d, k)]] : [];
      const balance = [...before, ...into, ...after, ...out.map(([, v]): Term => [-1, v])];
      if (balance.length > 0) rows.push(`flow${d}_${k}: ${linear(balance)} = 0`);
      if (out.length > 0) rows.push(`after${d}_${k}: ${linear([...out, [-1, r(d, k - 1)]])} <= 0`);
    }
    rows.push(`enter${d}: ${linear([...entries, [-1, u(d)]])} = 0`);
    const blocks = Array.from({ length: N }, (_, b) => b).filter((b) => runs(d, b));
    if (blocks.length === 0) continue;
    // Budget less a hair, so that the solver's feasibility tolerance can never let a plan overflow.
    const budget = t.budget[d]! / unit - 2e-6;
    const mem = blocks.map((b): Term => [(t.memPrefix[b + 1]! - t.memPrefix[b]!) / unit, r(d, b)]);
    rows.push(`mem${d}: ${linear([...mem, [-budget, u(d)]])} <= 0`);
    const time = [...blocks.map((b): Term => [blockMs(d, b), r(d, b)]), [t.fixedMs[d]!, u(d)] as Term];
    if (mode.kind === 'throughput') {
      rows.push(`time${d}: ${linear([...time, [-1, 'T']])} <= 0`);
      if (sends.length > 0) rows.push(`send${d}: ${linear([...sends, [-1, 'T']])} <= 0`);
    } else if (cap < Number.POSITIVE_INFINITY) {
      // Links over the cap have no variable at all; only whole stages need a row.
      rows.push(`time${d}: ${linear(time)} <= ${num(cap)}`);
    }
  }
  if (mode.kind === 'throughput') rows.push(`feed: ${linear([...feeds, [-1, 'T']])} <= 0`);
  const goal = mode.kind === 'throughput' ? 'T' : objective.length > 0 ? linear(objective) : '0 T';
  const bounds = [...Array.from({ length: n }, (_, d) => ` 0 <= ${u(d)} <= 1`), ' T >= 0'];
  const lp = [
    'Minimize',
    ` obj: ${goal}`,
    'Subject To',
    ...rows.map((row) => ` ${row}`),
    'Bounds',
    ...bounds,
    'Binaries',
    ` ${binaries.join(' ')}`,
    'End',
    '',
  ].join('\n');
  return { lp, decode: (values) => decodeChain(t, values) };
}

function decodeChain(t: CostTables, values: Readonly<Record<string, number>>): Chain {
  const stages: Stage[] = [];
  for (let d = 0; d < t.deviceCount; d++) {
    const blocks: number[] = [];
    for (let b = 0; b < t.blockCount; b++) if ((values[r(d, b)] ?? 0) > 0.5) blocks.push(b);
    if (blocks.length === 0) continue;
    const first = blocks[0]!;
    const end = blocks[blocks.length - 1]! + 1;
    if (end - first !== blocks.length) throw new PlacementError(`the MILP gave phone ${d} a broken range`);
    stages.push({ device: d, first, end });
  }
  return stages.sort((a, b) => a.first - b.first);
}
