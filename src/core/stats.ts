/** The room's one set of summary statistics: benchmarks, learned costs and link surveys all use these. */

export interface Spread {
  readonly min: number;
  readonly median: number;
  readonly max: number;
  /** How many finite values were summarised. */
  readonly n: number;
}

/** Min, median (the mean of the middle two for an even count) and max of the finite values; NaN when none. */
export function spread(values: readonly number[]): Spread {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return { min: Number.NaN, median: Number.NaN, max: Number.NaN, n: 0 };
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { min: s[0]!, median, max: s.at(-1)!, n: s.length };
}

export const median = (values: readonly number[]): number => spread(values).median;
