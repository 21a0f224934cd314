/**
 * Seeded PRNG for sampling. mulberry32: one 32-bit word of state, a handful of integer ops per
 * draw, and only Math.imul / shifts, so every JS engine produces the same sequence for a seed —
 * which is what "same seed, same text" on different phones needs. Its 2^32 period and statistical
 * quality are far beyond what drawing one token per step requires; it is not cryptographic.
 */

/** Returns a float in [0, 1). */
export type Rng = () => number;

/** `seed` is reduced to a u32 (fractional parts dropped, negatives wrap), so any finite number works. */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new RangeError(`rng seed must be a finite number, got ${seed}`);
  let state = Math.trunc(seed) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
