/**
 * The leader's generation loop: prefill (a long prompt in chunks), then one token per step through the
 * pipeline, sampling each next token. Where the stages run (this tab, a worker, other phones) is behind
 * `runStep`.
 */
import type { IOSpec } from '../graph/manifest';
import type { SamplingParams } from '../protocol/messages';
import { createRng, sampleToken, validateSamplingParams } from '../sampling';
import type { NamedTensors } from '../tensor';
import { stepInputs } from './model-inputs';

export interface StepOutcome {
  readonly logits: Float32Array;
  /** Time each stage spent on this step, in pipeline order. */
  readonly stageTimesMs: readonly number[];
  /** Time each stage's phone held this step, arrival to sending on (absent where stages are local). */
  readonly residentMs?: readonly number[];
}

export type RunStep = (requestId: string, step: number, inputs: NamedTensors) => Promise<StepOutcome>;

export interface GenerationRequest {
  readonly requestId: string;
  readonly promptIds: readonly number[];
  readonly params: SamplingParams;
  readonly stopIds: ReadonlySet<number>;
  /** The model's graph inputs that the leader feeds (ids, mask, positions). */
  readonly inputSpecs: readonly IOSpec[];
  readonly signal?: AbortSignal;
  readonly onToken?: (id: number, index: number) => void;
  /**
   * Most prompt tokens one step feeds (default: the whole prompt in step 0). A longer prompt is fed in
   * steps of this many, its logits used only after the last, so at every stage the one-token steps of
   * other answers run between them instead of waiting for the whole prompt.
   */
  readonly prefillChunk?: number;
}

export interface GenerationResult {
  readonly generatedIds: number[];
  readonly stoppedBy: 'stop-token' | 'max-tokens' | 'aborted';
  /**
   * Wall time of each step, in ms: the prefill first (its chunks' times summed, as are their stage and
   * resident times), then one per generated token.
   */
  readonly stepMs: number[];
  readonly stageTimesMs: (readonly number[])[];
  readonly residentMs: (readonly number[])[];
}

export async function generate(req: GenerationRequest, runStep: RunStep): Promise<GenerationResult> {
  validateSamplingParams(req.params);
  if (req.promptIds.length === 0) throw new Error('the prompt is empty (not even a BOS token)');
  const rng = createRng(req.params.seed);
  const generatedIds: number[] = [];
  const stepMs: number[] = [];
  const stageTimesMs: (readonly number[])[] = [];
  const residentMs: (readonly number[])[] = [];
  const history = [...req.promptIds];
  const chunk = prefillChunkOf(req.prefillChunk, req.promptIds.length);
  let past = 0;
  let step = 0;
  // The prompt but its last chunk: each step fills the caches; its logits are of no use.
  for (; req.promptIds.length - past > chunk; step++) {
    if (req.signal?.aborted) return { generatedIds, stoppedBy: 'aborted', stepMs, stageTimesMs, residentMs };
    const t0 = performance.now();
    const ids = req.promptIds.slice(past, past + chunk);
    const out = await runStep(req.requestId, step, stepInputs(req.inputSpecs, ids, past));
    addTimes(0, performance.now() - t0, out);
    past += ids.length;
  }
  let ids: readonly number[] = req.promptIds.slice(past);
  for (; generatedIds.length < req.params.maxNewTokens; step++) {
    if (req.signal?.aborted) return { generatedIds, stoppedBy: 'aborted', stepMs, stageTimesMs, residentMs };
    const t0 = performance.now();
    const out = await runStep(req.requestId, step, stepInputs(req.inputSpecs, ids, past));
    addTimes(generatedIds.length === 0 ? 0 : stepMs.length, performance.now() - t0, out);
    past += ids.length;
    const next = sampleToken(out.logits, req.params, history, rng);
    if (req.stopIds.has(next))
      return { generatedIds, stoppedBy: 'stop-token', stepMs, stageTimesMs, residentMs };
    generatedIds.push(next);
    history.push(next);
    req.onToken?.(next, generatedIds.length - 1);
    ids = [next];
  }
  return { generatedIds, stoppedBy: 'max-tokens', stepMs, stageTimesMs, residentMs };

  /** Adds a step's times at index `at`: a new entry, or onto the prefill's (its chunks sum up). */
  function addTimes(at: number, wall: number, out: StepOutcome): void {
    const sum = (a: readonly number[] = [], b: readonly number[] = []) => b.map((x, i) => x + (a[i] ?? 0));
    stepMs[at] = (stepMs[at] ?? 0) + wall;
    stageTimesMs[at] = sum(stageTimesMs[at], out.stageTimesMs);
    residentMs[at] = sum(residentMs[at], out.residentMs ?? []);
  }
}

function prefillChunkOf(chunk: number | undefined, promptLength: number): number {
  if (chunk === undefined) return promptLength;
  if (!(Number.isInteger(chunk) && chunk >= 1))
    throw new RangeError(`a prefill chunk must be a whole number of tokens ≥ 1, got ${chunk}`);
  return chunk;
}

/** Stop ids from the model's configs: eos (one or several) and, for llama2.c-style models, BOS. */
export function stopIdsOf(
  config: Record<string, unknown> | null,
  generationConfig: Record<string, unknown> | null,
): Set<number> {
  const ids = new Set<number>();
  const add = (v: unknown) => {
    if (typeof v === 'number') ids.add(v);
    else if (Array.isArray(v)) for (const x of v) add(x);
  };
  // onnxruntime-genai's genai_config.json keeps these under "model".
  const genai =
    config?.model && typeof config.model === 'object' ? (config.model as Record<string, unknown>) : null;
  add(generationConfig?.eos_token_id);
  add(config?.eos_token_id);
  add(genai?.eos_token_id);
  // llama2.c models (stories*) end a story by emitting BOS; a continuation never needs BOS mid-text.
  add(generationConfig?.bos_token_id ?? config?.bos_token_id ?? genai?.bos_token_id);
  return ids;
}
