/**
 * How many answers a plan can hold at once. Every answer in flight keeps a KV cache on every stage, and
 * a cache grows to the context the plan was made for; the plan fits one answer per phone by
 * construction, and the memory a phone has left beyond its blocks is what more answers can use. The cap
 * is the tightest stage's: a phone out of memory mid-answer would fail every answer at once, so an
 * answer that does not fit waits instead.
 */
export interface StageMemory {
  /** What the phone may use (its measured budget). */
  readonly budgetBytes: number;
  /** Its blocks' weights. */
  readonly weightBytes: number;
  /** KV bytes per token of context, summed over its blocks. */
  readonly kvBytesPerToken: number;
}

/** More in flight than this gains nothing on a few phones and only lengthens every answer. */
export const MAX_IN_FLIGHT = 16;

export interface AdmissionCap {
  readonly maxInFlight: number;
  /** Which stage set it, and why, for the UI and the logs. */
  readonly why: string;
}

export function admissionCap(
  stages: readonly (StageMemory & { readonly name: string })[],
  contextTokens: number,
  userCap: number = MAX_IN_FLIGHT,
): AdmissionCap {
  let cap = Math.min(MAX_IN_FLIGHT, userCap);
  let why = cap === userCap && userCap < MAX_IN_FLIGHT ? `at most ${userCap}, as asked` : `at most ${cap}`;
  for (const s of stages) {
    const perAnswer = s.kvBytesPerToken * contextTokens;
    if (perAnswer <= 0) continue;
    const fits = Math.floor((s.budgetBytes - s.weightBytes) / perAnswer);
    if (fits < cap) {
      cap = fits;
      why = `${s.name} has room for the KV caches of ${fits} answer(s) of ${contextTokens} tokens`;
    }
  }
  // The plan was made to hold one answer; a budget that shrank since still serves one at a time.
  return { maxInFlight: Math.max(1, cap), why };
}
