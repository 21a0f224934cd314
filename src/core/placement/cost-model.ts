/**
 * The cost model, precomputed into flat tables that the solvers read in their inner loops.
 *
 * - A stage's compute time per token: the phone's fixed step overhead + Σ of its blocks' times; a block
 *   takes msPerBlock[b], or msPerGflop × (flops + attention flops × context) / 1e9.
 * - A stage's memory: Σ of its blocks' weights + KV cache for `contextLength` tokens.
 * - A hop (one phone to the next, or to/from the leader): latency + bytes / bandwidth; a phone talking to
 *   itself (the leader running a stage) costs nothing.
 * - For throughput a link counts as a pipeline stage of its own, occupied for bytes / bandwidth only:
 *   WebRTC sends are asynchronous, so a phone computes the next token while the last one is in flight,
 *   and with many streams in flight the latency of a link overlaps and does not limit the rate.
 */
import { type LinkQuality, PlacementError, type PlacementProblem } from './types';

/** One stage of a chain: device index, blocks [first, end). */
export interface Stage {
  readonly device: number;
  readonly first: number;
  readonly end: number;
}
export type Chain = readonly Stage[];

export interface CostTables {
  readonly deviceCount: number;
  readonly blockCount: number;
  /** Per device, Σ of block times before block k (length blockCount + 1). */
  readonly timePrefix: readonly Float64Array[];
  readonly fixedMs: readonly number[];
  /** Σ of block memory (weights + KV) before block k. */
  readonly memPrefix: Float64Array;
  readonly budget: readonly number[];
  /** maxEnd[d][i]: the largest k such that blocks [i, k) fit on d (k = i: not even block i fits). */
  readonly maxEnd: readonly Int32Array[];
  /** Bytes per token crossing cut k (after block k − 1), k = 1..blockCount − 1; index 0 and last unused. */
  readonly cutBytes: Float64Array;
  /** hopMs[hopIndex(d, e, k)]: latency + transfer from d to e at cut k; hopOccMs: transfer only. */
  readonly hopMs: Float64Array;
  readonly hopOccMs: Float64Array;
  /** Leader → device (input) and device → leader (logits), full and transfer-only. */
  readonly inMs: readonly number[];
  readonly inOccMs: readonly number[];
  readonly outMs: readonly number[];
  readonly outOccMs: readonly number[];
  readonly outputBytes: number;
}

export const hopIndex = (t: CostTables, d: number, e: number, k: number): number =>
  (d * t.deviceCount + e) * (t.blockCount + 1) + k;

export const stageMs = (t: CostTables, d: number, first: number, end: number): number =>
  t.fixedMs[d]! + t.timePrefix[d]![end]! - t.timePrefix[d]![first]!;

export const stageMemory = (t: CostTables, first: number, end: number): number =>
  t.memPrefix[end]! - t.memPrefix[first]!;

function check(ok: boolean, what: string): void {
  if (!ok) throw new PlacementError(what);
}
const nonNegative = (x: number) => Number.isFinite(x) && x >= 0;

function validate(p: PlacementProblem): void {
  const n = p.blocks.length;
  check(n > 0, 'the model has no blocks');
  check(p.devices.length > 0, 'no devices to place the model on');
  check(
    p.crossingBytes.length === n - 1,
    `crossingBytes has ${p.crossingBytes.length} entries, expected ${n - 1}`,
  );
  check(nonNegative(p.contextLength), 'contextLength must be a non-negative number');
  check(
    p.crossingBytes.every(nonNegative) && nonNegative(p.inputBytes) && nonNegative(p.outputBytes),
    'bad byte counts',
  );
  for (const b of p.blocks) {
    const fields = [b.flopsPerToken, b.attentionFlopsPerContextToken, b.weightBytes, b.kvBytesPerToken];
    check(fields.every(nonNegative), 'block costs must be non-negative numbers');
  }
  check(new Set(p.devices.map((d) => d.id)).size === p.devices.length, 'device ids are not unique');
  for (const d of p.devices) {
    check(nonNegative(d.msPerGflop) && nonNegative(d.fixedStepMs), `device ${d.id} has a bad speed`);
    check(nonNegative(d.memoryBudgetBytes), `device ${d.id} has a bad memory budget`);
    if (d.msPerBlock) {
      check(
        d.msPerBlock.length === n,
        `device ${d.id}: msPerBlock has ${d.msPerBlock.length} entries, not ${n}`,
      );
      check(d.msPerBlock.every(nonNegative), `device ${d.id}: msPerBlock must be non-negative`);
    }
  }
  for (const l of [...p.links, p.defaultLink]) {
    check(nonNegative(l.latencyMs) && Number.isFinite(l.bytesPerMs) && l.bytesPerMs > 0, 'bad link quality');
  }
}

/** Link lookup: the listed direction, else the reverse, else the default; a device to itself is free. */
export function linkLookup(p: PlacementProblem): (from: string, to: string) => LinkQuality | null {
  const byPair = new Map(p.links.map((l) => [`${l.from}\u0000${l.to}`, l]));
  return (from, to) =>
    from === to
      ? null
      : (byPair.get(`${from}\u0000${to}`) ?? byPair.get(`${to}\u0000${from}`) ?? p.defaultLink);
}

export function buildCostTables(p: PlacementProblem): CostTables {
  validate(p);
  const N = p.blocks.length;
  const n = p.devices.length;
  const memPrefix = new Float64Array(N + 1);
  p.blocks.forEach((b, i) => {
    memPrefix[i + 1] = memPrefix[i]! + b.weightBytes + b.kvBytesPerToken * p.contextLength;
  });
  const timePrefix = p.devices.map((d) => {
    const prefix = new Float64Array(N + 1);
    p.blocks.forEach((b, i) => {
      const flops = b.flopsPerToken + b.attentionFlopsPerContextToken * p.contextLength;
      prefix[i + 1] = prefix[i]! + (d.msPerBlock?.[i] ?? (d.msPerGflop * flops) / 1e9);
    });
    return prefix;
  });
  const maxEnd = p.devices.map((d) => {
    const ends = new Int32Array(N);
    let k = 0;
    for (let i = 0; i < N; i++) {
      k = Math.max(k, i);
      while (k < N && memPrefix[k + 1]! - memPrefix[i]! <= d.memoryBudgetBytes) k++;
      ends[i] = k;
    }
    return ends;
  });
  const cutBytes = new Float64Array(N + 1);
  p.crossingBytes.forEach((bytes, i) => {
    cutBytes[i + 1] = bytes;
  });
  const link = linkLookup(p);
  const ms = (q: LinkQuality | null, bytes: number) => (q ? q.latencyMs + bytes / q.bytesPerMs : 0);
  const occ = (q: LinkQuality | null, bytes: number) => (q ? bytes / q.bytesPerMs : 0);
  const hopMs = new Float64Array(n * n * (N + 1));
  const hopOccMs = new Float64Array(n * n * (N + 1));
  const tables: CostTables = {
    deviceCount: n,
    blockCount: N,
    timePrefix,
    fixedMs: p.devices.map((d) => d.fixedStepMs),
    memPrefix,
    budget: p.devices.map((d) => d.memoryBudgetBytes),
    maxEnd,
    cutBytes,
    hopMs,
    hopOccMs,
    inMs: p.devices.map((d) => ms(link(p.leaderId, d.id), p.inputBytes)),
    inOccMs: p.devices.map((d) => occ(link(p.leaderId, d.id), p.inputBytes)),
    outMs: p.devices.map((d) => ms(link(d.id, p.leaderId), p.outputBytes)),
    outOccMs: p.devices.map((d) => occ(link(d.id, p.leaderId), p.outputBytes)),
    outputBytes: p.outputBytes,
  };
  p.devices.forEach((from, d) => {
    p.devices.forEach((to, e) => {
      const q = link(from.id, to.id);
      for (let k = 1; k < N; k++) {
        hopMs[hopIndex(tables, d, e, k)] = ms(q, cutBytes[k]!);
        hopOccMs[hopIndex(tables, d, e, k)] = occ(q, cutBytes[k]!);
      }
    });
  });
  return tables;
}

export interface ChainCost {
  readonly tokenMs: number;
  readonly bottleneckMs: number;
  readonly inputMs: number;
  readonly stages: readonly {
    readonly computeMs: number;
    readonly sendMs: number;
    readonly sendBytes: number;
    readonly memoryBytes: number;
  }[];
}

/** Whether the chain covers every block once, in order, on distinct devices, each within its budget. */
export function chainIsValid(t: CostTables, chain: Chain): boolean {
  const seen = new Set<number>();
  let next = 0;
  for (const s of chain) {
    if (s.first !== next || s.end <= s.first || seen.has(s.device)) return false;
    if (s.end > t.maxEnd[s.device]![s.first]!) return false;
    seen.add(s.device);
    next = s.end;
  }
  return chain.length > 0 && next === t.blockCount;
}

export function evaluateChain(t: CostTables, chain: Chain): ChainCost {
  const first = chain[0]!;
  const last = chain[chain.length - 1]!;
  const stages = chain.map((s, i) => {
    const next = chain[i + 1];
    const h = next ? hopIndex(t, s.device, next.device, s.end) : -1;
    return {
      computeMs: stageMs(t, s.device, s.first, s.end),
      sendMs: next ? t.hopMs[h]! : t.outMs[s.device]!,
      sendOccMs: next ? t.hopOccMs[h]! : t.outOccMs[s.device]!,
      sendBytes: next ? t.cutBytes[s.end]! : t.outputBytes,
      memoryBytes: stageMemory(t, s.first, s.end),
    };
  });
  const inputMs = t.inMs[first.device]!;
  const tokenMs = stages.reduce((sum, s) => sum + s.computeMs + s.sendMs, inputMs);
  const bottleneckMs = stages.reduce(
    (m, s) => Math.max(m, s.computeMs, s.sendOccMs),
    Math.max(t.inOccMs[first.device]!, t.outOccMs[last.device]!),
  );
  return {
    tokenMs,
    bottleneckMs,
    inputMs,
    stages: stages.map(({ computeMs, sendMs, sendBytes, memoryBytes }) => ({
      computeMs,
      sendMs,
      sendBytes,
      memoryBytes,
    })),
  };
}

/**
 * The cost of a given plan (stages by device id, in chain order) under a problem's cost model, or null
 * when a stage's device is not in the problem. Memory is not checked: this prices plans already made
 * (an even split, the plan in use) so they can be compared with a new solution on the same terms.
 */
export function costOfPlan(
  p: PlacementProblem,
  t: CostTables,
  stages: readonly { readonly deviceId: string; readonly firstBlock: number; readonly lastBlock: number }[],
): ChainCost | null {
  const index = new Map(p.devices.map((d, i) => [d.id, i]));
  const chain: Stage[] = [];
  for (const s of stages) {
    const device = index.get(s.deviceId);
    if (device === undefined) return null;
    chain.push({ device, first: s.firstBlock, end: s.lastBlock + 1 });
  }
  return chain.length > 0 ? evaluateChain(t, chain) : null;
}
