/**
 * The leader's front desk: every phone's questions, its own included. Each answer is asked by one phone
 * and told only to it (its sink: a link to that phone, or the leader's own page). Answers wait their
 * turn in a fair queue (core/room/answer-queue.ts) under a cap the plan's memory sets
 * (core/room/admission.ts); the ones admitted run side by side through the pipeline, so while one
 * answer's step is on phone 2 another's is on phone 1. Stop, and the asking phone leaving, end an
 * answer wherever it is; the pipeline then frees its KV caches on every stage.
 */

import type { Link } from '../../core/ports';
import type { AnswerState, AnswerSummary, AskInput, SamplingParams } from '../../core/protocol/messages';
import { AnswerQueue, DEFAULT_MAX_WAITING } from '../../core/room/answer-queue';
import { validateSamplingParams } from '../../core/sampling';
import type { GenerationOutput, OnToken } from '../pipeline-driver';

/** Where one answer's news goes. */
export interface AnswerSink {
  state(state: AnswerState, position?: number): void;
  text(delta: string, ids: number[]): void;
  /** The end; `output` is the full run, for the leader's own page (its plan view and tests). */
  end(summary: AnswerSummary, output?: GenerationOutput): void;
}

export interface AnswersDeps {
  /** Runs one answer through the room's pipeline under `requestId`. */
  readonly run: (
    input: AskInput,
    params: SamplingParams,
    requestId: string,
    onToken: OnToken,
  ) => Promise<GenerationOutput>;
  /** Stops a running answer at its next token. */
  readonly stop: (requestId: string) => void;
  readonly log: (line: string) => void;
}

interface Job {
  /** The pipeline's name for it: unique in the room, whatever the asker called it. */
  readonly id: string;
  readonly phone: string;
  readonly requestId: string;
  readonly input: AskInput;
  readonly params: SamplingParams;
  readonly sink: AnswerSink;
  readonly askedAt: number;
  firstTokenAt: number | null;
  stopped: boolean;
  /** The place in the queue the asker was last told. */
  told: number;
}

let counter = 0;

export class Answers {
  private readonly queue = new AnswerQueue<Job>({ maxInFlight: 1, maxWaiting: DEFAULT_MAX_WAITING });
  private readonly jobs = new Map<string, Job>();

  constructor(private readonly deps: AnswersDeps) {}

  get inFlight(): number {
    return this.queue.inFlight;
  }

  get maxInFlight(): number {
    return this.queue.maxInFlight;
  }

  /** A new cap (a new plan, or the user's); answers waiting start if it rose. */
  setMaxInFlight(n: number): void {
    this.startAll(this.queue.setLimits({ maxInFlight: n, maxWaiting: DEFAULT_MAX_WAITING }));
  }

  ask(phone: string, requestId: string, input: AskInput, params: SamplingParams, sink: AnswerSink): void {
    const key = keyOf(phone, requestId);
    const refuse = (message: string) =>
      sink.end({
        ...NO_ANSWER,
        outcome: 'refused',
        message,
        promptIds: 'ids' in input ? [...input.ids] : [],
      });
    if (this.jobs.has(key)) {
      refuse(`an answer named ${requestId} is already asked from this phone`);
      return;
    }
    try {
      validateSamplingParams(params);
    } catch (e) {
      refuse(e instanceof Error ? e.message : String(e));
      return;
    }
    const job: Job = {
      id: `a${++counter}-${Math.random().toString(36).slice(2, 8)}`,
      phone,
      requestId,
      input,
      params,
      sink,
      askedAt: performance.now(),
      firstTokenAt: null,
      stopped: false,
      told: 0,
    };
    const admission = this.queue.submit(job);
    if (admission.kind === 'refused') {
      refuse(admission.reason);
      return;
    }
    this.jobs.set(key, job);
    if (admission.kind === 'run') this.start(job);
    else this.tellPositions();
  }

  /** The asker stops its answer: a waiting one leaves the queue, a running one stops at its next token. */
  cancel(phone: string, requestId: string): void {
    const job = this.jobs.get(keyOf(phone, requestId));
    if (!job) return;
    job.stopped = true;
    if (this.queue.withdraw(job.id)) {
      this.jobs.delete(keyOf(phone, requestId));
      job.sink.end({ ...NO_ANSWER, outcome: 'stopped', message: 'stopped before it started' });
      this.tellPositions();
    } else this.deps.stop(job.id);
  }

  /** Every answer a phone asked ends with it: nobody is left to read them. */
  phoneLeft(phone: string, name: string): void {
    const its = [...this.jobs.values()].filter((j) => j.phone === phone);
    for (const job of its) this.cancel(phone, job.requestId);
    if (its.length) this.deps.log(`${its.length} answer(s) of ${name} stopped: the phone left`);
  }

  /** Stops every answer (the room is ending). */
  stopAll(): void {
    for (const job of [...this.jobs.values()]) this.cancel(job.phone, job.requestId);
  }

  private startAll(jobs: readonly Job[]): void {
    for (const j of jobs) this.start(j);
    this.tellPositions();
  }

  private start(job: Job): void {
    job.sink.state('prefilling');
    let sent = 0;
    const onToken: OnToken = (delta, ids) => {
      // Stopped while it waited for the pipeline (a phone measuring itself): it ends here.
      if (job.stopped) this.deps.stop(job.id);
      if (job.firstTokenAt === null) {
        job.firstTokenAt = performance.now();
        job.sink.state('generating');
      }
      const fresh = ids.slice(sent);
      sent = ids.length;
      if (delta || fresh.length) job.sink.text(delta, fresh);
    };
    this.deps
      .run(job.input, job.params, job.id, onToken)
      .then(
        (r) => {
          const outcome = job.stopped || r.stoppedBy === 'aborted' ? 'stopped' : 'done';
          job.sink.end(
            {
              outcome,
              promptIds: r.promptIds,
              ...(r.promptText === undefined ? {} : { promptText: r.promptText }),
              generatedIds: r.generatedIds,
              tokensPerSecond: r.tokensPerSecond,
              timeToFirstTokenMs: job.firstTokenAt === null ? null : job.firstTokenAt - job.askedAt,
            },
            r,
          );
        },
        (e: unknown) => {
          const message = e instanceof Error ? e.message : String(e);
          this.deps.log(`answer ${job.id} from ${job.phone} failed: ${message}`);
          job.sink.end({ ...NO_ANSWER, outcome: 'failed', message });
        },
      )
      .finally(() => {
        this.jobs.delete(keyOf(job.phone, job.requestId));
        this.startAll(this.queue.finish(job.id));
      });
  }

  private tellPositions(): void {
    const byId = new Map([...this.jobs.values()].map((j) => [j.id, j]));
    for (const [id, position] of this.queue.positions()) {
      const job = byId.get(id);
      if (!job || job.told === position) continue;
      job.told = position;
      job.sink.state('queued', position);
    }
  }
}

/** An answer that never produced anything (refused, failed, or stopped before it started). */
export const NO_ANSWER: AnswerSummary = {
  outcome: 'failed',
  promptIds: [],
  generatedIds: [],
  tokensPerSecond: 0,
  timeToFirstTokenMs: null,
};

const keyOf = (phone: string, requestId: string) => `${phone}\u0000${requestId}`;

/** An answer asked over a link: its news goes back on that link, to the asking phone only. */
export function linkSink(link: Link, requestId: string): AnswerSink {
  return {
    state: (state, position) =>
      link.send({ kind: 'answer-state', requestId, state, ...(position ? { position } : {}) }),
    text: (text, ids) => link.send({ kind: 'answer-text', requestId, text, ids }),
    end: (summary) => link.send({ kind: 'answer-end', requestId, ...summary }),
  };
}

/**
 * An answer asked on the leader's own page as a promise of its full run: rejects with the reason when it
 * fails or is refused. `onToken` gets the text so far and the ids so far.
 */
export function collected(
  ask: (sink: AnswerSink) => void,
  onToken: (text: string, ids: readonly number[]) => void,
): Promise<GenerationOutput> {
  return new Promise((resolve, reject) => {
    let text = '';
    const ids: number[] = [];
    ask({
      state: () => {},
      text: (delta, fresh) => {
        text += delta;
        ids.push(...fresh);
        onToken(text, ids);
      },
      end: (summary, output) => {
        if (output) resolve(output);
        else reject(new Error(summary.message ?? `the answer ${summary.outcome}`));
      },
    });
  });
}
