import { describe, expect, it } from 'vitest';
import { FlowNetwork, INF } from './max-flow';
import { seededRandom } from './test-graphs';

type Edge = [from: number, to: number, capacity: number];

function network(size: number, edges: readonly Edge[]): FlowNetwork {
  const net = new FlowNetwork(size);
  for (const [u, v, c] of edges) net.addEdge(u, v, c);
  return net;
}

/** Capacity of the edges leaving the vertex set `inS`. */
function cutCapacity(edges: readonly Edge[], inS: readonly boolean[]): number {
  let total = 0;
  for (const [u, v, c] of edges) if (inS[u] && !inS[v]) total += c;
  return total;
}

/** Every s-t cut: vertex sets holding the source and not the sink. */
function allCuts(size: number, s: number, t: number): boolean[][] {
  const cuts: boolean[][] = [];
  for (let mask = 0; mask < 1 << size; mask++) {
    const inS = Array.from({ length: size }, (_, v) => ((mask >> v) & 1) === 1);
    if (inS[s] && !inS[t]) cuts.push(inS);
  }
  return cuts;
}

const subset = (a: readonly boolean[], b: readonly boolean[]) => a.every((x, i) => !x || b[i]);

function randomCase(rand: () => number, withInfinite: boolean) {
  const size = 2 + Math.floor(rand() * 6); // 2..7 vertices
  const s = Math.floor(rand() * size);
  let t = Math.floor(rand() * (size - 1));
  if (t >= s) t++;
  const edges: Edge[] = [];
  const m = Math.floor(rand() * 14);
  for (let k = 0; k < m; k++) {
    const u = Math.floor(rand() * size);
    const v = Math.floor(rand() * size); // self-loops, parallel and antiparallel edges all happen
    const c = withInfinite && rand() < 0.15 ? INF : Math.floor(rand() * 10);
    edges.push([u, v, c]);
  }
  return { size, s, t, edges };
}

describe('FlowNetwork.maxFlow', () => {
  it('finds the textbook (CLRS 26.1) flow of 23', () => {
    const edges: Edge[] = [
      [0, 1, 16],
      [0, 2, 13],
      [2, 1, 4],
      [1, 3, 12],
      [3, 2, 9],
      [2, 4, 14],
      [4, 3, 7],
      [3, 5, 20],
      [4, 5, 4],
    ];
    expect(network(6, edges).maxFlow(0, 5)).toBe(23);
  });

  it('is 0 with no path, and the sides are then just the terminals', () => {
    const net = network(4, [
      [0, 1, 5],
      [2, 3, 5],
    ]);
    expect(net.maxFlow(0, 3)).toBe(0);
    expect(net.sourceSide(0)).toEqual([true, true, false, false]);
    expect(net.sinkSide(3)).toEqual([false, false, true, true]);
  });

  it('equals the brute-force minimum cut on 300 random graphs with finite capacities', () => {
    const rand = seededRandom(20240601);
    let nonZero = 0;
    for (let trial = 0; trial < 300; trial++) {
      const { size, s, t, edges } = randomCase(rand, false);
      const best = Math.min(...allCuts(size, s, t).map((c) => cutCapacity(edges, c)));
      const flow = network(size, edges).maxFlow(s, t);
      expect(flow, `trial ${trial}: ${JSON.stringify({ size, s, t, edges })}`).toBe(best);
      if (flow > 0) nonZero++;
    }
    expect(nonZero).toBeGreaterThan(100); // the random graphs are not trivially disconnected
  });

  it('with infinite edges: the finite min cut, or a throw when only infinite cuts exist', () => {
    const rand = seededRandom(7);
    let unbounded = 0;
    for (let trial = 0; trial < 300; trial++) {
      const { size, s, t, edges } = randomCase(rand, true);
      const best = Math.min(...allCuts(size, s, t).map((c) => cutCapacity(edges, c)));
      const net = network(size, edges);
      if (best === INF) {
        unbounded++;
        expect(() => net.maxFlow(s, t)).toThrow(/unbounded flow/);
      } else {
        expect(net.maxFlow(s, t), `trial ${trial}`).toBe(best);
      }
    }
    expect(unbounded).toBeGreaterThan(0);
  });
});

describe('FlowNetwork cut sides', () => {
  it('a path of two unit edges: smallest source side {s}, largest {s, a}', () => {
    const net = network(3, [
      [0, 1, 1],
      [1, 2, 1],
    ]);
    expect(net.maxFlow(0, 2)).toBe(1);
    expect(net.sourceSide(0)).toEqual([true, false, false]);
    expect(net.sinkSide(2)).toEqual([false, false, true]);
  });

  it('a strict bottleneck fixes both sides to the same cut', () => {
    const net = network(4, [
      [0, 1, 5],
      [1, 2, 1],
      [2, 3, 5],
    ]);
    expect(net.maxFlow(0, 3)).toBe(1);
    expect(net.sourceSide(0)).toEqual([true, true, false, false]);
    expect(net.sinkSide(3).map((x) => !x)).toEqual([true, true, false, false]);
  });

  it('on 300 random graphs: both sides are minimum cuts, the smallest and the largest of them', () => {
    const rand = seededRandom(99);
    let distinct = 0;
    for (let trial = 0; trial < 300; trial++) {
      const { size, s, t, edges } = randomCase(rand, false);
      const net = network(size, edges);
      const flow = net.maxFlow(s, t);
      const small = net.sourceSide(s);
      const large = net.sinkSide(t).map((x) => !x);
      const why = `trial ${trial}: ${JSON.stringify({ size, s, t, edges })}`;
      expect(small[s] && !small[t], why).toBe(true);
      expect(large[s] && !large[t], why).toBe(true);
      expect(cutCapacity(edges, small), why).toBe(flow);
      expect(cutCapacity(edges, large), why).toBe(flow);
      for (const cut of allCuts(size, s, t)) {
        if (cutCapacity(edges, cut) !== flow) continue;
        expect(subset(small, cut), `${why}: a min cut ${cut} is smaller than the source side`).toBe(true);
        expect(
          subset(cut, large),
          `${why}: a min cut ${cut} is larger than the complement of the sink side`,
        ).toBe(true);
      }
      if (small.some((x, i) => x !== large[i])) distinct++;
    }
    expect(distinct).toBeGreaterThan(20); // ties happen often enough for the choice to be tested
  });
});
