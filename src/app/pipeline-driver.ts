/**
 * The leader's side of the pipeline for one model: runs each answer's generation loop, sending every
 * step's inputs to the first stage of the current plan and waiting for the last stage's logits.
 *
 * The plan can change while answers are in flight. `pause()` holds every answer at its next token
 * boundary (no step in flight anywhere); `resume(plan, firstMoved)` switches plans and, before any answer
 * goes on, has the stages from `firstMoved` on rebuild its KV caches: the stage before them (or the
 * leader itself, from what it logged) replays every step sent so far. The answer then continues as if
 * nothing happened: the moved stages saw exactly the inputs they would have seen, step by step.
 */
import type { TextTokenizer } from '../adapters/tokenizer/hf-tokenizer';
import type { Manifest } from '../core/graph/manifest';
import { PendingRequests } from '../core/pending';
import { type GenerationResult, generate, stopIdsOf } from '../core/pipeline/generation';
import { TextStream } from '../core/pipeline/text-stream';
import type { AskInput, Message, MessageOf, SamplingParams } from '../core/protocol/messages';
import { leaderInputs, type Plan } from '../core/room/plan';
import type { NamedTensors } from '../core/tensor';

export interface GenerationOutput extends GenerationResult {
  readonly promptIds: number[];
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
  /** What the leader sent the first stage at each step, for a replay from stage 0. */
  readonly sent: NamedTensors[];
  readonly abort: AbortController;
  /** Set when the answer cannot go on: its next step throws this instead of being sent. */
  failure: Error | null;
  readonly maxNewTokens: number;
}

/** A step cut short by a fault: the answer waits for the new plan and sends the step again. */
class Interrupted extends Error {}

export class PipelineDriver {
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
  ) {}

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
   * Goes on under `plan`. Each paused answer first rebuilds the caches of stages `firstMoved` onwards
   * (nothing to rebuild when it equals the stage count). A failed rebuild fails that answer only.
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

  private async rebuild(rid: string, s: Sequence, firstMoved: number): Promise<void> {
    const through = s.lastStep;
    if (through < 0 || firstMoved >= this.plan.stages.length) return;
    const answered = this.pending.wait(`${rid}:${through}`, STEP_TIMEOUT_MS, `the replay of ${rid}`);
    const planId = this.plan.id;
    if (firstMoved === 0) {
      const first = this.plan.stages[0]!.phoneId;
      s.sent.slice(0, through + 1).forEach((tensors, step) => {
        const m = {
          kind: 'activations',
          planId,
          requestId: rid,
          step,
          tokens: tokensOf(tensors),
          tensors,
          replayThrough: through,
        } as const;
        this.send(first, { ...m, stageTimesMs: [], residentMs: [] });
      });
    } else {
      const source = this.plan.stages[firstMoved - 1]!.phoneId;
      this.send(source, { kind: 'replay', requestId: rid, planId, throughStep: through });
    }
    await answered;
  }

  private async runStep(rid: string, step: number, tensors: NamedTensors) {
    const s = this.sequences.get(rid)!;
    s.sent[step] = tensors;
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
    const promptIds = 'ids' in input ? [...input.ids] : this.encode(input.text);
    const stream = new TextStream((ids) => this.decode(ids), promptIds);
    const inputNames = new Set(leaderInputs(this.manifest));
    const seq: Sequence = {
      lastStep: -1,
      busy: false,
      sent: [],
      abort: new AbortController(),
      failure: null,
      maxNewTokens: params.maxNewTokens,
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
          params,
          stopIds: stopIdsOf(this.manifest.config, this.manifest.generationConfig),
          inputSpecs: this.manifest.inputs.filter((s) => inputNames.has(s.name)),
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
