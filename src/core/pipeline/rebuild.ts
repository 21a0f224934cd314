/**
 * Rebuilding an answer's KV caches after a plan change, as one prefill of what it has fed so far (pure:
 * the leader's pipeline driver sends these steps).
 */
import type { NamedTensors } from '../tensor';

/** The ids a step feeds (its `input_ids`). */
export function idsOf(tensors: NamedTensors): number[] {
  const ids = tensors.input_ids;
  if (!ids) throw new Error('a step of the leader feeds no input_ids');
  return Array.from(ids.data as ArrayLike<number | bigint>, Number);
}

/**
 * The steps of a rebuild: the ids fed by steps 0 … `through` (of `fed`, one array a step), in chunks of
 * at most `chunk` ids, numbered 0 (it resets the stages' caches), 1, … Never more chunks than steps were
 * (each step fed at least one id, a prompt's steps at most `chunk`), so the answer's next step,
 * `through` + 1, still comes after the last of them.
 */
export function rebuildChunks(
  fed: readonly (readonly number[])[],
  chunk: number,
  through: number,
): { step: number; ids: number[] }[] {
  const all = fed.slice(0, through + 1).flat();
  return Array.from({ length: Math.ceil(all.length / chunk) }, (_, step) => ({
    step,
    ids: all.slice(step * chunk, (step + 1) * chunk),
  }));
}
