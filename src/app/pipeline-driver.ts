/**
 * The leader's side of the pipeline for one model: runs each answer's generation loop, sending every
 * step's inputs to the first stage of the current plan and waiting for the last stage's logits.
 *
 * The plan can change while answers are in flight. `pause()` holds every answer at its next token
 * boundary (no step in flight anywhere); `resume(plan, firstMoved)` switches plans and, before any answer
 * goes on, rebuilds its KV caches on every stage by prefilling the tokens it has fed so far again, in
 * prompt-sized chunks (see `rebuild`). The answer then continues as if nothing happened.
 */
import type { TextTokenizer } from '../adapters/tokenizer/hf-tokenizer';
import type { IOSpec, Manifest } from '../core/graph/manifest';
import { PendingRequests } from '../core/pending';
import { type GenerationResult, generate, stopIdsOf } from '../core/pipeline/generation';
import { stepInputs } from '../core/pipeline/model-inputs';
import { idsOf, rebuildChunks } from '../core/pipeline/rebuild';
import { TextStream } from '../core/pipeline/text-stream';
import type { AskInput, Message, MessageOf, SamplingParams } from '../core/protocol/messages';
import { leaderInputs, type Plan } from '../core/room/plan';
import type { NamedTensors } from '../core/tensor';
import { newTokensWithin, promptOf } from './prompt';
import { planContext } from './room-planner';

export interface GenerationOutput extends GenerationResult {
  readonly promptIds: number[];
  /** For a conversation: the text the model's chat template rendered, before tokenization. */
  readonly promptText?: string;
  /** The answer's text, decoded after its prompt (a continuation keeps its leading space). */
  readonly text: string;
  readonly tokensPerSecond: number;
  /** From the prefill's start to the first token. */
  readonly timeToFirstTokenMs: number | null;
}

/** What an answer adds at each token: its new text (maybe '' mid-character) and all ids so far. */
export type OnToken = (delta: string, ids: readonly number[]) => void;

/** A stage that does not answer a step within this long has failed the answer (the message says so). */
export const STEP_TIMEOUT_MS = 120_000;

/**
 * Most prompt tokens one step feeds. A longer prompt is prefilled in steps of this many, so the other
 * answers' one-token steps run between its chunks at every stage and keep streaming; 64 keeps a chunk's
 * run near the cost of a few decode steps on a phone while adding few round trips to a long prompt.
 */
export const PREFILL_CHUNK_TOKENS = 64;

interface Sequence {
  /** The last step whose logits came back (−1 before the prefill). */
  lastStep: number;
  /** A step of it is out in the pipeline. */
  busy: boolean;
  /** The token ids each step fed, for rebuilding the caches after a plan change. */
  readonly fed: (readonly number[])[];
  readonly abort: AbortController;
  /** Set when the answer cannot go on: its next step throws this instead of being sent. */
  failure: Error | null;
  readonly maxNewTokens: number;
}

/** A step cut short by a fault: the answer waits for the new plan and sends the step again. */
class Interrupted extends Error {}

export class PipelineDriver {
  /** The model's graph inputs that the leader feeds (ids, mask, positions). */
  private readonly inputSpecs: readonly IOSpec[];
  private readonly pending = new PendingRequests<string, MessageOf<'logits'>>();
  private readonly sequences = new Map<string, Sequence>();
  /** Set while the plan changes: answers wait on it at their next token boundary. */
  private gate: Promise<void> | null = null;
  private openGate: () => void = () => {};
  private readonly idleWaiters: (() => void)[] = [];
  /** Counts faults, so a resume that raced a newer fault leaves the answers held for the next one. */
  private interrupts = 0;
  /** The gate is closed because of a fault (not a planned move): steps in flight were cut short. */
  private faultHeld = false;
  /** Told of every step's answer (the room learns from steps while answers run). */
  onStep: ((m: MessageOf<'logits'>, stepMs: number) => void) | null = null;

  constructor(
    private readonly manifest: Manifest,
    private plan: Plan,
    private readonly tokenizer: TextTokenizer | null,
    /** Sends to a phone of the plan; false when that phone is gone. */
    private readonly send: (phoneId: string, m: Message) => boolean,
    private readonly log: (line: string) => void = () => {},
    private readonly prefillChunk = PREFILL_CHUNK_TOKENS,
  ) {
    const inputNames = new Set(leaderInputs(manifest));
    this.inputSpecs = manifest.inputs.filter((s) => inputNames.has(s.name));
  }

  get planId(): string {
    return this.plan.id;
  }

  /** The phone whose logits this driver accepts. */
  get lastStagePhone(): string {
    return this.plan.stages.at(-1)!.phoneId;
  }

  logits(m: MessageOf<'logits'>): void {
    if (m.planId !== this.plan.id) {
      this.log(`dropped logits of step ${m.step} of ${m.requestId}: plan ${m.planId}, not ${this.plan.id}`);
      return;
    }
    this.pending.resolve(`${m.requestId}:${m.step}`, m);
  }

  /**
   * An answer cannot go on (a stage's error, or the room could not re-plan): for one request, or for all
   * when `requestId` is absent — which also lets every answer held at the gate fail instead of waiting.
   */
  failed(message: string, requestId?: string): void {
    if (requestId && this.gate && this.faultHeld) {
      // A fault holds the answers: a stage's error about a step cut short is part of that fault, and
      // the step is sent again on the new plan (where a real error shows again).
      this.log(`while the room re-plans, ignored an error for ${requestId}: ${message}`);
      return;
    }
    const error = new Error(message);
    for (const [rid, s] of this.sequences) if (!requestId || rid === requestId) s.failure ??= error;
    this.pending.rejectWhere(error, (key) => !requestId || key.startsWith(`${requestId}:`));
    if (!requestId && this.gate) {
      this.gate = null;
      this.faultHeld = false;
      this.openGate();
    }
  }

  /** True when `phoneId` runs a stage of the current plan. */
  uses(phoneId: string): boolean {
    return this.plan.stages.some((s) => s.phoneId === phoneId);
  }

  get inFlight(): number {
    return this.sequences.size;
  }

  /** Tokens the oldest answer in flight has so far (0 when none runs). */
  get tokensOut(): number {
    const first = this.sequences.values().next().value;
    return first ? first.lastStep + 1 : 0;
  }

  /** Tokens the longest answer in flight may still write (its length limit; it may stop sooner). */
  get tokensLeft(): number {
    let left = 0;
    for (const s of this.sequences.values()) left = Math.max(left, s.maxNewTokens - (s.lastStep + 1));
    return left;
  }

  encode(text: string): number[] {
    if (!this.tokenizer) throw new Error('this model has no tokenizer.json: give token ids');
    return this.tokenizer.encode(text);
  }

  decode(ids: readonly number[]): string {
    return this.tokenizer ? this.tokenizer.decode(ids) : ids.join(' ');
  }

  /** Stops every answer, or only `requestId`, at its next token; the ids so far stay its result. */
  stop(requestId?: string): void {
    for (const [rid, s] of this.sequences) if (!requestId || rid === requestId) s.abort.abort();
  }

  /**
   * A phone of the plan is gone: the steps out in the pipeline will never come back. Holds every answer
   * like `pause`, and has each step in flight sent again once the room has a new plan (`resume`).
   */
  interrupt(why: string): Promise<void> {
    this.interrupts++;
    this.faultHeld = true;
    if (!this.gate) this.gate = new Promise((resolve) => (this.openGate = resolve));
    this.pending.rejectWhere(new Interrupted(why));
    return this.pause();
  }

  /** Holds every answer at its next token boundary; resolves once no step is in flight. */
  async pause(): Promise<void> {
    if (!this.gate) this.gate = new Promise((resolve) => (this.openGate = resolve));
    while ([...this.sequences.values()].some((s) => s.busy)) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
  }

  /**
   * Goes on under `plan`. When any stage moved (`firstMoved` below the stage count), each paused answer
   * first rebuilds its caches (see `rebuild`). A failed rebuild fails that answer only.
   */
  async resume(plan: Plan, firstMoved: number): Promise<void> {
    this.plan = plan;
    const faults = this.interrupts;
    await Promise.all(
      [...this.sequences].map(([rid, s]) =>
        this.rebuild(rid, s, firstMoved).catch((e: unknown) => {
          if (e instanceof Interrupted) return; // a newer fault: its re-plan rebuilds this answer
          this.log(`could not rebuild ${rid} on plan ${plan.id}: ${String(e)}`);
          this.failed(`the room moved to a new plan and this answer could not follow: ${String(e)}`, rid);
        }),
      ),
    );
    if (this.interrupts !== faults) return;
    this.gate = null;
    this.faultHeld = false;
    this.openGate();
  }

  /**
   * Rebuilds one answer's KV caches on every stage of the new plan: the tokens it fed through its last
   * answered step are prefilled again from the first stage, in chunks of the prompt's size, all sent at
   * once so the chunks pipeline through the stages; the last chunk's logits say it is done. Its steps
   * are numbered from 0, which resets a stage's cache, and the answer's next step follows on as usual.
   * This is the replay Petals does, as one prefill rather than step by step: a 24-token answer re-sent a
   * step at a time cost 25 pipeline round trips on fresh sessions (1.5 s in the failover bench). Stages
   * that kept their blocks recompute too, but a chunk costs about what a few decode steps do, and it
   * needs nothing from a phone that may have left.
   */
  private async rebuild(rid: string, s: Sequence, firstMoved: number): Promise<void> {
    const through = s.lastStep;
    if (through < 0 || firstMoved >= this.plan.stages.length) return;
    const planId = this.plan.id;
    const first = this.plan.stages[0]!.phoneId;
    const chunks = rebuildChunks(s.fed, this.prefillChunk, through);
    const done = this.pending.wait(`${rid}:${chunks.length - 1}`, STEP_TIMEOUT_MS, `the rebuild of ${rid}`);
    let past = 0;
    for (const { step, ids } of chunks) {
      const tensors = stepInputs(this.inputSpecs, ids, past);
      past += ids.length;
      const m = { kind: 'activations', planId, requestId: rid, step, tokens: ids.length, tensors } as const;
      this.send(first, { ...m, stageTimesMs: [], residentMs: [] });
    }
    await done;
  }

  private async runStep(rid: string, step: number, tensors: NamedTensors) {
    const s = this.sequences.get(rid)!;
    s.fed[step] = idsOf(tensors);
    for (;;) {
      while (this.gate) await this.gate;
      if (s.failure) throw s.failure;
      s.busy = true;
      const key = `${rid}:${step}`;
      try {
        const answered = this.pending.wait(key, STEP_TIMEOUT_MS, `step ${step} of ${rid}`);
        const sentAt = performance.now();
        const tokens = tokensOf(tensors);
        const m = {
          kind: 'activations',
          planId: this.plan.id,
          requestId: rid,
          step,
          tokens,
          tensors,
        } as const;
        if (!this.send(this.plan.stages[0]!.phoneId, { ...m, stageTimesMs: [], residentMs: [] })) {
          const why = 'the first stage’s phone has left';
          this.pending.reject(key, this.gate ? new Interrupted(why) : new Error(why));
        }
        const r = await answered;
        s.lastStep = step;
        // The prompt's later chunks are neither a prefill nor a decode step to learn from.
        if (step === 0 || tokens === 1) this.onStep?.(r, performance.now() - sentAt);
        return {
          logits: r.logits.data as Float32Array,
          stageTimesMs: r.stageTimesMs,
          residentMs: r.residentMs,
        };
      } catch (e) {
        // Cut short by a fault: once the room has re-planned (and rebuilt this answer's caches), again.
        if (!(e instanceof Interrupted)) throw e;
      } finally {
        s.busy = false;
        for (const w of this.idleWaiters.splice(0)) w();
      }
    }
  }

  async generate(
    input: AskInput,
    params: SamplingParams,
    requestId: string,
    onToken: OnToken,
  ): Promise<GenerationOutput> {
    const prompt = promptOf(input, this.tokenizer);
    const promptIds = prompt.ids;
    // The answer ends where the room's context does, whatever it asked for.
    const maxNewTokens = newTokensWithin(
      prompt,
      params.maxNewTokens,
      planContext(this.manifest),
      'chat' in input,
    );
    const stream = new TextStream((ids) => this.decode(ids), promptIds);
    const seq: Sequence = {
      lastStep: -1,
      busy: false,
      fed: [],
      abort: new AbortController(),
      failure: null,
      maxNewTokens,
    };
    this.sequences.set(requestId, seq);
    const ids: number[] = [];
    const t0 = performance.now();
    let firstTokenMs: number | null = null;
    try {
      const result = await generate(
        {
          requestId,
          promptIds,
          params: { ...params, maxNewTokens },
          stopIds: new Set([
            ...stopIdsOf(this.manifest.config, this.manifest.generationConfig),
            ...prompt.stopIds,
          ]),
          inputSpecs: this.inputSpecs,
          signal: seq.abort.signal,
          prefillChunk: this.prefillChunk,
          onToken: (id) => {
            ids.push(id);
            firstTokenMs ??= performance.now() - t0;
            onToken(stream.push(id), ids);
          },
        },
        (rid, step, tensors) => this.runStep(rid, step, tensors),
      );
      const seconds = (performance.now() - t0) / 1000;
      const decodeMs = result.stepMs.slice(1).reduce((a, b) => a + b, 0);
      const rest = stream.flush();
      if (rest) onToken(rest, ids);
      return {
        ...result,
        promptIds,
        ...(prompt.renderedText === null ? {} : { promptText: prompt.renderedText }),
        text: stream.text,
        timeToFirstTokenMs: firstTokenMs,
        tokensPerSecond:
          decodeMs > 0
            ? (result.stepMs.length - 1) / (decodeMs / 1000)
            : result.generatedIds.length / seconds,
      };
    } finally {
      this.sequences.delete(requestId);
      const planId = this.plan.id;
      for (const s of this.plan.stages) this.send(s.phoneId, { kind: 'release', planId, requestId });
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }
}

/** The positions a step adds: the length of the ids it feeds (1 in a decode step). */
function tokensOf(tensors: NamedTensors): number {
  const ids = tensors.input_ids;
  return ids ? ids.dims[ids.dims.length - 1]! : 1;
}
