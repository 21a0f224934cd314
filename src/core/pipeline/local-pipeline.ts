/**
 * Runs stages one after another in the same process, passing each the tensors it needs: the reference
 * wiring of the data-transmission map, used by Node tests and single-device runs.
 */
import type { NamedTensors } from '../tensor';
import { lastLogitsRow, type StageRunner } from './stage-runner';

export async function runStages(
  stages: readonly StageRunner[],
  requestId: string,
  step: number,
  inputs: NamedTensors,
): Promise<NamedTensors> {
  const available: NamedTensors = { ...inputs };
  for (const stage of stages) Object.assign(available, await stage.step(requestId, step, available));
  return available;
}

export async function nextLogits(
  stages: readonly StageRunner[],
  requestId: string,
  step: number,
  inputs: NamedTensors,
): Promise<Float32Array> {
  const out = await runStages(stages, requestId, step, inputs);
  const logits = out.logits;
  if (!logits) throw new Error('the last stage produced no logits');
  return lastLogitsRow(logits);
}
