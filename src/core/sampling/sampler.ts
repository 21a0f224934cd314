/**
 * Logits → next token id. Runs on the leader once per generated token, over a 50k+ vocabulary, so
 * it avoids full sorts and allocations proportional to the vocabulary where it can: the only such
 * allocation is one copy of the logits when a repetition penalty is active (the caller's array is
 * never modified).
 *
 * Order of operations (the Hugging Face `generate` order): repetition penalty → (temperature ≤ 0:
 * greedy argmax) → temperature → top-k → top-p → softmax → one draw from the rng.
 */
import type { SamplingParams } from '../protocol/messages';
import type { Rng } from './rng';
import { argmax, selectNucleus, topIndices } from './top-candidates';

export const DEFAULT_SAMPLING: SamplingParams = Object.freeze({
  temperature: 0,
  topK: 0,
  topP: 1,
  repetitionPenalty: 1,
  seed: 0,
  maxNewTokens: 64,
});

/** Top-p without top-k first tries this many best candidates before selecting over the whole vocabulary. */
const NUCLEUS_FIRST_GUESS = 64;

/** Throws an Error naming the first invalid field. */
export function validateSamplingParams(p: SamplingParams): void {
  const fail = (field: keyof SamplingParams, rule: string): never => {
    throw new Error(`invalid sampling params: ${field} ${rule}, got ${String(p[field])}`);
  };
  // temperature ≤ 0 is meaningful (greedy), so only non-numbers and non-finite values are invalid.
  if (typeof p.temperature !== 'number' || !Number.isFinite(p.temperature)) {
    fail('temperature', 'must be a finite number');
  }
  if (!Number.isSafeInteger(p.topK) || p.topK < 0) fail('topK', 'must be an integer ≥ 0 (0 = off)');
  if (typeof p.topP !== 'number' || !(p.topP > 0 && p.topP <= 1)) fail('topP', 'must be in (0, 1] (1 = off)');
  if (
    typeof p.repetitionPenalty !== 'number' ||
    !Number.isFinite(p.repetitionPenalty) ||
    p.repetitionPenalty <= 0
  ) {
    fail('repetitionPenalty', 'must be a finite number > 0 (1 = off)');
  }
  if (typeof p.seed !== 'number' || !Number.isFinite(p.seed)) fail('seed', 'must be a finite number');
  if (!Number.isSafeInteger(p.maxNewTokens) || p.maxNewTokens < 0)
    fail('maxNewTokens', 'must be an integer ≥ 0');
}

/**
 * CTRL / Hugging Face repetition penalty: each previously seen id's logit is divided by the penalty
 * when positive and multiplied when negative, so it always moves towards "less likely". Computed
 * from the original logit, so ids seen several times are penalised once. Ids outside the
 * vocabulary (e.g. tokenizer-only special tokens) are ignored.
 */
export function applyRepetitionPenalty(
  logits: Float32Array,
  previousIds: readonly number[],
  penalty: number,
): Float32Array {
  if (penalty === 1 || previousIds.length === 0) return logits;
  const out = logits.slice();
  for (const id of previousIds) {
    if (!Number.isInteger(id) || id < 0 || id >= logits.length) continue;
    const v = logits[id]!;
    out[id] = v > 0 ? v / penalty : v * penalty;
  }
  return out;
}

/**
 * Picks the next token. Deterministic for a given rng state; draws exactly one rng value per call
 * unless the choice is forced (greedy, top-k = 1, or a +Infinity logit), in which case it draws none.
 */
export function sampleToken(
  logits: Float32Array,
  params: SamplingParams,
  previousIds: readonly number[],
  rng: Rng,
): number {
  validateSamplingParams(params);
  if (logits.length === 0) throw new Error('cannot sample from empty logits');
  const scores = applyRepetitionPenalty(logits, previousIds, params.repetitionPenalty);
  const best = argmax(scores);
  if (best < 0) throw new Error('cannot sample: every logit is -Infinity or NaN');
  const maxScore = scores[best]!;
  const vocab = scores.length;
  const k = params.topK === 0 ? vocab : Math.min(params.topK, vocab);
  // An infinite logit takes all the probability mass; softmax would compute Infinity - Infinity.
  if (params.temperature <= 0 || k === 1 || maxScore === Number.POSITIVE_INFINITY) return best;

  const invTemperature = 1 / params.temperature;
  // exp((s - max) / T) is softmax(s / T) up to the normaliser, and never overflows.
  const weight = (i: number): number => {
    const s = scores[i]!;
    return s > Number.NEGATIVE_INFINITY ? Math.exp((s - maxScore) * invTemperature) : 0;
  };

  if (k === vocab && params.topP === 1) return drawFromWholeVocabulary(vocab, weight, best, rng);

  if (k < vocab) {
    const candidates = topIndices(scores, k);
    const keep =
      params.topP === 1
        ? candidates.length
        : nucleusSize(candidates, params.topP * sumWeights(candidates, candidates.length, weight), weight);
    return drawFromCandidates(candidates, keep, weight, rng);
  }

  // Top-p over the whole vocabulary. The nucleus is usually a few dozen tokens, so try a small top
  // set first; only a flat distribution (high temperature) needs the selection over everything.
  let mass = 0;
  for (let i = 0; i < vocab; i++) mass += weight(i);
  const target = params.topP * mass;
  const guess = topIndices(scores, NUCLEUS_FIRST_GUESS);
  if (sumWeights(guess, guess.length, weight) >= target) {
    return drawFromCandidates(guess, nucleusSize(guess, target, weight), weight, rng);
  }
  return drawFromLargeNucleus(scores, weight, target, rng);
}

function sumWeights(candidates: Int32Array, count: number, weight: (i: number) => number): number {
  let sum = 0;
  for (let j = 0; j < count; j++) sum += weight(candidates[j]!);
  return sum;
}

/** Smallest prefix of the best-first `candidates` whose weight reaches `target` (at least one). */
function nucleusSize(candidates: Int32Array, target: number, weight: (i: number) => number): number {
  let cumulative = 0;
  for (let j = 0; j < candidates.length; j++) {
    cumulative += weight(candidates[j]!);
    if (cumulative >= target) return j + 1;
  }
  // Only reachable through rounding when topP is within an ulp of 1: keep everything.
  return candidates.length;
}

/** The nucleus-by-selection path: allocates weights and an index list once, then never sorts. */
function drawFromLargeNucleus(
  scores: Float32Array,
  weight: (i: number) => number,
  target: number,
  rng: Rng,
): number {
  const weights = new Float64Array(scores.length);
  const order = new Int32Array(scores.length);
  let count = 0;
  for (let i = 0; i < scores.length; i++) {
    const w = weight(i);
    weights[i] = w;
    if (w > 0) order[count++] = i;
  }
  const keep = selectNucleus(scores, weights, order, count, target);
  return drawFromCandidates(order, keep, (i) => weights[i]!, rng);
}

function drawFromCandidates(
  candidates: Int32Array,
  count: number,
  weight: (i: number) => number,
  rng: Rng,
): number {
  const u = rng() * sumWeights(candidates, count, weight);
  let cumulative = 0;
  for (let j = 0; j < count; j++) {
    cumulative += weight(candidates[j]!);
    if (u < cumulative) return candidates[j]!;
  }
  // Rounding can leave u at the very top; the first candidate always has positive weight.
  return candidates[0]!;
}

/** No filtering: walk the vocabulary in index order twice (sum, then draw) instead of allocating. */
function drawFromWholeVocabulary(
  vocab: number,
  weight: (i: number) => number,
  best: number,
  rng: Rng,
): number {
  let total = 0;
  for (let i = 0; i < vocab; i++) total += weight(i);
  const u = rng() * total;
  let cumulative = 0;
  for (let i = 0; i < vocab; i++) {
    cumulative += weight(i);
    if (u < cumulative) return i;
  }
  return best;
}
