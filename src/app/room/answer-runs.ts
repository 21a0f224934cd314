/**
 * The room's answers as runs it learns from, on the leader. An answer waits for a phone measuring
 * itself (its timing would slow the answer), tells the load planner when it starts and ends, and once
 * finished is folded into what the room knows — only when its timings are sound: it ran alone in the
 * pipeline, on one plan, and the balancer did not learn from it already while it ran. The warm-up is
 * one such run, learnt by its own rule. Split from room-plans.ts, which decides what plan to run.
 */
import type { AskInput, SamplingParams } from '../../core/protocol/messages';
import type { GenerationOutput, OnToken, PipelineDriver } from '../pipeline-driver';
import type { RoomPlan } from '../room-planner';

export type RunTimings = Pick<GenerationOutput, 'stepMs' | 'stageTimesMs' | 'residentMs'>;

/** What runs the answers: the pipeline driver of the plan in force. */
export type AnswerDriver = Pick<PipelineDriver, 'inFlight' | 'generate'>;

export interface AnswerRunsDeps {
  readonly driver: () => AnswerDriver | null;
  /** The plan the room runs now. */
  readonly current: () => RoomPlan | null;
  /** Resolves once no phone measures itself. */
  readonly measured: () => Promise<void>;
  /** An answer started or ended: the load planner looks at what is in flight. */
  readonly loadChanged: () => void;
  /** Turns balancing mid-answer off (the warm-up) and back. */
  readonly setBalancing: (on: boolean) => boolean;
  /** Folds a run's timings into what the room knows; true when it learnt. */
  readonly learn: (r: RunTimings, warmUp: boolean) => boolean;
  readonly log: (line: string) => void;
}

/** The warm-up's request: greedy, long enough that its later steps measure the plan as it runs. */
const WARM_UP = {
  ids: [0, 0, 0, 0, 0, 0, 0, 0],
  params: { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0, maxNewTokens: 24 },
} as const;

export const newId = () => Math.random().toString(36).slice(2, 10);

export class AnswerRuns {
  /** The plan, with its predictions as they stood when the last answer started. */
  lastRunPlan: RoomPlan | null = null;
  /**
   * Whether the pipeline runs its warm-up now. Every session's first run happens then (on a software
   * GPU adapter, shader compiles of seconds), so the phones' pages are at their most starved; and no
   * user waits on it, so silence is judged as between answers (the leader's heartbeat).
   */
  warmingUp = false;
  /** Mid-answer learning already took this answer's steps in: the answer's end adds nothing. */
  private learntMidAnswer = false;
  /** Answers started while another ran: their steps timed each other's, so neither is learnt from. */
  private overlaps = 0;
  /** Answers asked for but waiting for a phone to finish measuring itself. */
  private waiting = 0;

  constructor(private readonly deps: AnswerRunsDeps) {}

  /** The balancer learnt from the answer running now. */
  learntMidway(): void {
    this.learntMidAnswer = true;
  }

  /** Resolves once no answer runs or waits to (polled: a measurement can wait a moment). */
  async idle(): Promise<void> {
    while (this.waiting > 0 || (this.deps.driver()?.inFlight ?? 0) > 0)
      await new Promise((r) => setTimeout(r, 200));
  }

  generate(
    input: AskInput,
    params: SamplingParams,
    onToken: OnToken,
    requestId: string = newId(),
  ): Promise<GenerationOutput> {
    const driver = this.deps.driver();
    if (!driver) return Promise.reject(new Error('load a model first'));
    this.waiting++;
    return this.deps.measured().then(() => {
      this.waiting--;
      return this.run(driver, input, params, onToken, requestId);
    });
  }

  /**
   * One throwaway request through the whole pipeline: the runtime's first run of a session costs
   * 100–300 ms and a fresh data channel stalls on its first transfer; neither should land on the
   * user's first token. Its later steps are the first measurement of the plan as it runs. Resolves
   * with why it failed, or null.
   */
  async warmUp(): Promise<string | null> {
    this.warmingUp = true;
    // Warm-ups learn by their own rule (later steps only, replaced by the first answer): no balancing.
    const balancing = this.deps.setBalancing(false);
    try {
      const r = await this.deps.driver()!.generate({ ids: WARM_UP.ids }, WARM_UP.params, newId(), () => {});
      this.deps.learn(r, true);
      this.lastRunPlan = null;
      return null;
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      this.deps.log(`warm-up failed: ${why}`);
      return why;
    } finally {
      this.deps.setBalancing(balancing);
      this.warmingUp = false;
    }
  }

  private run(
    driver: AnswerDriver,
    input: AskInput,
    params: SamplingParams,
    onToken: OnToken,
    requestId: string,
  ): Promise<GenerationOutput> {
    const before = this.deps.current();
    if (driver.inFlight > 0) this.overlaps++;
    const overlapsAtStart = this.overlaps;
    const alone = driver.inFlight === 0;
    this.learntMidAnswer = false;
    const answer = driver.generate(input, params, requestId, onToken);
    this.deps.loadChanged();
    answer.then(this.deps.loadChanged, this.deps.loadChanged);
    return answer.then((r) => {
      // The plan's predictions as they stood before this run: what the run is judged against.
      this.lastRunPlan = before;
      // An answer that spanned a plan change measured two plans, and one the balancer learnt from
      // while it ran was learnt already: nothing more to learn.
      const samePlan = this.deps.current()?.plan.id === before?.plan.id;
      const solo = alone && this.overlaps === overlapsAtStart;
      if (this.deps.driver() === driver && samePlan && solo && !this.learntMidAnswer)
        this.deps.learn(r, false);
      return r;
    });
  }
}
