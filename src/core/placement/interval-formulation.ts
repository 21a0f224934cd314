/**
 * PROTOTYPE: interval (set-partitioning) MILP.
 */
import { type Chain, type CostTables, hopIndex, type Stage, stageMs } from './cost-model';
import { PlacementError } from './types';

export type IntervalMode =
  | { readonly kind: 'latency'; readonly cap?: number }
  | { readonly kind: 'throughput' }
  | { readonly kind: 'feasible'; readonly cap: number }
  | { readonly kind: 'stair'; readonly cap: number };

export interface IntervalMilp {
  readonly lp: string;
  readonly columns: number;
  decode(values: Readonly<Record<string, number>>): Chain;
}

function num(x: number): string {
  if (!Number.isFinite(x)) throw new PlacementError(`non-finite coefficient ${x} in the placement MILP`);
  return String(Number(x.toPrecision(15)));
}

/** `+ c v` / `- c v` terms, a leading '+' is accepted by the LP reader. */
function term(c: number, v: string): string {
  if (c === 1) return ` + ${v}`;
  if (c === -1) return ` - ${v}`;
  return c < 0 ? ` - ${num(-c)} ${v}` : ` + ${num(c)} ${v}`;
}

export function buildIntervalMilp(t: CostTables, mode: IntervalMode): IntervalMilp | null {
  const n = t.deviceCount;
  const N = t.blockCount;
  const cap = mode.kind === 'throughput' ? Number.POSITIVE_INFINITY : (mode.cap ?? Number.POSITIVE_INFINITY);
  const stair: [number, string][] = [];
  const ok = (occ: number) => occ <= cap;
  // Columns: phone d runs [i, j).
  const colName: string[] = [];
  const colD: number[] = [];
  const colI: number[] = [];
  const colJ: number[] = [];
  const objective: string[] = [];
  const endsAt: string[][][] = Array.from({ length: n }, () => Array.from({ length: N + 1 }, () => []));
  const startsAt: string[][][] = Array.from({ length: n }, () => Array.from({ length: N + 1 }, () => []));
  const stageRow: string[][] = Array.from({ length: n }, () => []);
  const sendRow: string[][] = Array.from({ length: n }, () => []);
  const feed: string[] = [];
  for (let d = 0; d < n; d++) {
    for (let i = 0; i < N; i++) {
      if (i === 0 && !ok(t.inOccMs[d]!)) continue;
      const maxEnd = t.maxEnd[d]![i]!;
      for (let j = i + 1; j <= maxEnd; j++) {
        if (j === N && !ok(t.outOccMs[d]!)) continue;
        const ms = stageMs(t, d, i, j);
        if (!ok(ms)) break;
        const v = `x${d}_${i}_${j}`;
        colName.push(v);
        colD.push(d);
        colI.push(i);
        colJ.push(j);
        endsAt[d]![j]!.push(v);
        startsAt[d]![i]!.push(v);
        if (mode.kind === 'latency') {
          const cost = ms + (i === 0 ? t.inMs[d]! : 0) + (j === N ? t.outMs[d]! : 0);
          objective.push(term(cost, v));
        } else if (mode.kind === 'stair') {
          stair.push([Math.max(ms, i === 0 ? t.inOccMs[d]! : 0, j === N ? t.outOccMs[d]! : 0), v]);
        } else if (mode.kind === 'throughput') {
          stageRow[d]!.push(term(ms, v));
          if (i === 0 && t.inOccMs[d]! > 0) feed.push(term(t.inOccMs[d]!, v));
          if (j === N && t.outOccMs[d]! > 0) sendRow[d]!.push(term(t.outOccMs[d]!, v));
        }
      }
    }
  }
  if (colName.length === 0) return null;
  const rows: string[] = [];
  const first: string[] = [];
  for (let d = 0; d < n; d++) first.push(...startsAt[d]![0]!);
  if (first.length === 0) return null;
  rows.push(` s:${first.map((v) => ` + ${v}`).join('')} = 1`);
  const zs: string[] = [];
  for (let k = 1; k < N; k++) {
    const into: string[][] = Array.from({ length: n }, () => []);
    for (let d = 0; d < n; d++) {
      const ends = endsAt[d]![k]!;
      if (ends.length === 0) continue;
      const out: string[] = [];
      for (let e = 0; e < n; e++) {
        if (e === d || startsAt[e]![k]!.length === 0) continue;
        const h = hopIndex(t, d, e, k);
        if (!ok(t.hopOccMs[h]!)) continue;
        const z = `z${d}_${e}_${k}`;
        zs.push(z);
        out.push(` - ${z}`);
        into[e]!.push(` - ${z}`);
        if (mode.kind === 'latency') objective.push(term(t.hopMs[h]!, z));
        else if (mode.kind === 'stair') stair.push([t.hopOccMs[h]!, z]);
        else if (mode.kind === 'throughput' && t.hopOccMs[h]! > 0) sendRow[d]!.push(term(t.hopOccMs[h]!, z));
      }
      rows.push(` e${d}_${k}:${ends.map((v) => ` + ${v}`).join('')}${out.join('')} = 0`);
    }
    for (let e = 0; e < n; e++) {
      const starts = startsAt[e]![k]!;
      if (starts.length === 0) continue;
      rows.push(` b${e}_${k}:${starts.map((v) => ` + ${v}`).join('')}${into[e]!.join('')} = 0`);
    }
  }
  // One stage per phone.
  for (let d = 0; d < n; d++) {
    const all: string[] = [];
    for (let i = 0; i < N; i++) all.push(...startsAt[d]![i]!);
    if (all.length > 1) rows.push(` u${d}:${all.map((v) => ` + ${v}`).join('')} <= 1`);
    if (mode.kind === 'throughput') {
      if (stageRow[d]!.length > 0) rows.push(` t${d}:${stageRow[d]!.join('')} - T <= 0`);
      if (sendRow[d]!.length > 0) rows.push(` c${d}:${sendRow[d]!.join('')} - T <= 0`);
    }
  }
  if (mode.kind === 'throughput' && feed.length > 0) rows.push(` f:${feed.join('')} - T <= 0`);
  const gs: string[] = [];
  if (mode.kind === 'stair') {
    const levels = [...new Set(stair.map(([v]) => v))].sort((a, b) => a - b);
    const rank = new Map(levels.map((v, r) => [v, r]));
    for (let r = 1; r < levels.length; r++) {
      gs.push(`g${r}`);
      objective.push(term(levels[r]! - levels[r - 1]!, `g${r}`));
      if (r > 1) rows.push(` m${r}: g${r} - g${r - 1} <= 0`);
    }
    for (const [v, x] of stair) {
      const r = rank.get(v)!;
      if (r > 0) rows.push(` l${x}: ${x} - g${r} <= 0`);
    }
  }
  const goal = mode.kind === 'stair' ? objective.join('') || ' 0 T' : mode.kind === 'throughput' ? ' T' : mode.kind === 'feasible' ? ' 0 T' : objective.join('');
  const lp = [
    'Minimize',
    ` obj:${goal}`,
    'Subject To',
    ...rows,
    'Binaries',
    ...chunk(colName),
    ...chunk(gs),
    'End',
    '',
  ].join('\n');
  return {
    lp,
    columns: colName.length + zs.length,
    decode(values) {
      const stages: Stage[] = [];
      colName.forEach((v, c) => {
        if ((values[v] ?? 0) > 0.5) stages.push({ device: colD[c]!, first: colI[c]!, end: colJ[c]! });
      });
      return stages.sort((a, b) => a.first - b.first);
    },
  };
}

function chunk(names: readonly string[]): string[] {
  const lines: string[] = [];
  for (let i = 0; i < names.length; i += 20) lines.push(` ${names.slice(i, i + 20).join(' ')}`);
  return lines;
}
