/**
 * Partial selection of the highest scores: a size-k min-heap over indices, O(V log k) time and O(k)
 * memory, so a 50k+ vocabulary is never fully sorted when only a few dozen candidates matter.
 *
 * Order is by score descending, then index ascending, so ties resolve the same way everywhere.
 * NaN scores rank as -Infinity (they can never be sampled).
 */

function rank(scores: Float32Array, i: number): number {
  const s = scores[i]!;
  return Number.isNaN(s) ? Number.NEGATIVE_INFINITY : s;
}

/** True when index `a` ranks strictly below index `b`. */
function ranksBelow(scores: Float32Array, a: number, b: number): boolean {
  const sa = rank(scores, a);
  const sb = rank(scores, b);
  return sa < sb || (sa === sb && a > b);
}

/** Index of the highest score (lowest index on ties), or -1 when every score is -Infinity or NaN. */
export function argmax(scores: Float32Array): number {
  let best = -1;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (s > bestScore) {
      bestScore = s;
      best = i;
    }
  }
  return best;
}

/** The indices of the `k` best scores, best first. `k` is clamped to the vocabulary size. */
export function topIndices(scores: Float32Array, k: number): Int32Array {
  const size = Math.min(k, scores.length);
  // heap[0] is the worst index kept so far; a new index enters only if it ranks above it.
  const heap = new Int32Array(size);
  let filled = 0;

  const siftUp = (start: number): void => {
    let child = start;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (!ranksBelow(scores, heap[child]!, heap[parent]!)) return;
      const tmp = heap[child]!;
      heap[child] = heap[parent]!;
      heap[parent] = tmp;
      child = parent;
    }
  };
  const siftDown = (): void => {
    let parent = 0;
    for (;;) {
      const left = 2 * parent + 1;
      const right = left + 1;
      let worst = parent;
      if (left < filled && ranksBelow(scores, heap[left]!, heap[worst]!)) worst = left;
      if (right < filled && ranksBelow(scores, heap[right]!, heap[worst]!)) worst = right;
      if (worst === parent) return;
      const tmp = heap[worst]!;
      heap[worst] = heap[parent]!;
      heap[parent] = tmp;
      parent = worst;
    }
  };

  for (let i = 0; i < scores.length && size > 0; i++) {
    if (filled < size) {
      heap[filled] = i;
      siftUp(filled);
      filled++;
    } else if (ranksBelow(scores, heap[0]!, i)) {
      heap[0] = i;
      siftDown();
    }
  }
  return heap.sort((a, b) => (ranksBelow(scores, a, b) ? 1 : ranksBelow(scores, b, a) ? -1 : 0));
}

/**
 * For nuclei too big for `topIndices` to be cheap: reorders `order[0..count)` (indices with
 * positive weight) in place so that its first `n` entries are the smallest best-first set whose
 * weight reaches `target`, and returns `n`. Quickselect guided by mass: expected O(count) and no
 * sort; the prefix is left in partition order, which is deterministic (no random pivots), so a
 * draw walking it is reproducible.
 */
export function selectNucleus(
  scores: Float32Array,
  weights: Float64Array,
  order: Int32Array,
  count: number,
  target: number,
): number {
  let lo = 0; // order[0..lo) is already inside the nucleus
  let hi = count; // order[lo..hi) is still undecided; order[hi..count) is outside
  let remaining = target;
  while (hi - lo > 1) {
    const pivotAt = medianOfThree(scores, order, lo, (lo + hi) >> 1, hi - 1);
    swap(order, pivotAt, hi - 1);
    const pivot = order[hi - 1]!;
    // Lomuto partition: entries ranking above the pivot move to the front, summing their weight.
    let store = lo;
    let massAbove = 0;
    for (let j = lo; j < hi - 1; j++) {
      const id = order[j]!;
      if (ranksBelow(scores, pivot, id)) {
        massAbove += weights[id]!;
        swap(order, store, j);
        store++;
      }
    }
    swap(order, store, hi - 1);
    if (massAbove >= remaining) {
      hi = store; // the nucleus ends among the entries above the pivot
      continue;
    }
    remaining -= massAbove + weights[pivot]!;
    if (remaining <= 0) return store + 1;
    lo = store + 1;
  }
  // One undecided entry left (it is needed, since mass is still missing), or none through rounding.
  return hi;
}

/** Whichever of positions a, b, c holds the median-ranked index (a pivot that resists sorted input). */
function medianOfThree(scores: Float32Array, order: Int32Array, a: number, b: number, c: number): number {
  const x = order[a]!;
  const y = order[b]!;
  const z = order[c]!;
  if (ranksBelow(scores, x, y)) {
    if (ranksBelow(scores, y, z)) return b;
    return ranksBelow(scores, x, z) ? c : a;
  }
  if (ranksBelow(scores, x, z)) return a;
  return ranksBelow(scores, y, z) ? c : b;
}

function swap(order: Int32Array, i: number, j: number): void {
  const tmp = order[i]!;
  order[i] = order[j]!;
  order[j] = tmp;
}
