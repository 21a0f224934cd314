/**
 * Dinic's max-flow / min-cut. Written here rather than taken from npm because the cut needs one thing
 * flow libraries rarely expose: a choice between the minimum cut with the smallest and the one with the
 * largest source side, which decides where work goes when several cuts send equally few tensors. A few dozen lines, unit-tested against brute force.
 */
export const INF = Number.POSITIVE_INFINITY;

export class FlowNetwork {
  private readonly head: number[];
  private readonly to: number[] = [];
  private readonly cap: number[] = [];
  private readonly next: number[] = [];

  constructor(readonly size: number) {
    this.head = new Array<number>(size).fill(-1);
  }

  addEdge(from: number, to: number, capacity: number): void {
    for (const [a, b, c] of [
      [from, to, capacity],
      [to, from, 0],
    ] as const) {
      this.to.push(b);
      this.cap.push(c);
      this.next.push(this.head[a]!);
      this.head[a] = this.to.length - 1;
    }
  }

  /** Returns the max flow value; afterwards `sinkSide()` tells the cut. */
  maxFlow(source: number, sink: number): number {
    let total = 0;
    const level = new Array<number>(this.size);
    const it = new Array<number>(this.size);
    const bfs = (): boolean => {
      level.fill(-1);
      level[source] = 0;
      const queue = [source];
      for (let qi = 0; qi < queue.length; qi++) {
        const v = queue[qi]!;
        for (let e = this.head[v]!; e !== -1; e = this.next[e]!) {
          const w = this.to[e]!;
          if (this.cap[e]! > 0 && level[w] === -1) {
            level[w] = level[v]! + 1;
            queue.push(w);
          }
        }
      }
      return level[sink] !== -1;
    };
    const dfs = (v: number, pushed: number): number => {
      if (v === sink) return pushed;
      for (; it[v]! !== -1; it[v] = this.next[it[v]!]!) {
        const e = it[v]!;
        const w = this.to[e]!;
        if (this.cap[e]! <= 0 || level[w] !== level[v]! + 1) continue;
        const got = dfs(w, Math.min(pushed, this.cap[e]!));
        if (got > 0) {
          this.cap[e] = this.cap[e]! - got;
          this.cap[e ^ 1] = this.cap[e ^ 1]! + got;
          return got;
        }
      }
      return 0;
    };
    while (bfs()) {
      for (let v = 0; v < this.size; v++) it[v] = this.head[v]!;
      for (let f = dfs(source, INF); f > 0; f = dfs(source, INF)) {
        if (f === INF) throw new Error('unbounded flow: a path of infinite capacity joins source and sink');
        total += f;
      }
    }
    return total;
  }

  /** The vertices the source still reaches in the residual graph: the smallest source side of a min cut. */
  sourceSide(source: number): boolean[] {
    const reach = new Array<boolean>(this.size).fill(false);
    reach[source] = true;
    const stack = [source];
    while (stack.length > 0) {
      const v = stack.pop()!;
      for (let e = this.head[v]!; e !== -1; e = this.next[e]!) {
        const w = this.to[e]!;
        if (!reach[w] && this.cap[e]! > 0) {
          reach[w] = true;
          stack.push(w);
        }
      }
    }
    return reach;
  }

  /**
   * The vertices that can still reach the sink in the residual graph: the smallest sink side of a
   * minimum cut (so the source side, its complement, is the largest).
   */
  sinkSide(sink: number): boolean[] {
    const reach = new Array<boolean>(this.size).fill(false);
    reach[sink] = true;
    const stack = [sink];
    // Walk residual edges backwards: u can reach v if the edge u→v has capacity left. The reverse of
    // edge e is e^1, stored at v's list, so from v we look at each e' leaving v and test its twin.
    while (stack.length > 0) {
      const v = stack.pop()!;
      for (let e = this.head[v]!; e !== -1; e = this.next[e]!) {
        const u = this.to[e]!;
        if (!reach[u] && this.cap[e ^ 1]! > 0) {
          reach[u] = true;
          stack.push(u);
        }
      }
    }
    return reach;
  }
}
