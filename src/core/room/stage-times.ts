/** Measured time of each stage over a generation: the median over decode steps (the prefill excluded). */
export function measuredStageMs(
  result: { stageTimesMs: readonly (readonly number[])[] } | null,
): number[] | null {
  if (!result || result.stageTimesMs.length < 2) return null;
  const decode = result.stageTimesMs.slice(1);
  const stages = decode[0]!.length;
  return Array.from({ length: stages }, (_, k) => {
    const xs = decode
      .map((s) => s[k] ?? Number.NaN)
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    return xs.length ? xs[xs.length >> 1]! : Number.NaN;
  });
}
