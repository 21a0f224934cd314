/**
 * Runtime load balancing on the leader: while answers run, it learns from every window of decode steps
 * and asks the balance rule (core/room/balance-rule.ts) whether the best plan for what it learnt is
 * clearly faster than the plan in use; if so, the room moves there mid-answer, at a token boundary.
 */

import type { MessageOf } from '../../core/protocol/messages';
import {
  BALANCE_START,
  type BalanceState,
  decide,
  EVERY_STEPS,
  stepped,
  WINDOW_STEPS,
  worthMoving,
} from '../../core/room/balance-rule';
import type { GenerationOutput } from '../pipeline-driver';

type Timings = Pick<GenerationOutput, 'stepMs' | 'stageTimesMs' | 'residentMs'>;

export interface BalancerDeps {
  /** Folds a window of steps into what the room learnt; false when nothing could be learnt. */
  readonly learn: (window: Timings) => boolean;
  /** Predicted ms per token of the plan in use and of the best plan, with what was learnt. */
  readonly compare: () => Promise<{
    currentMs: number | null;
    bestMs: number | null;
    move: () => Promise<void>;
  } | null>;
  readonly log: (line: string) => void;
  /** Tokens the longest answer in flight may still write. */
  readonly tokensLeft: () => number;
  /** What a move is expected to pause the answers for (ms). */
  readonly pauseEstimateMs: () => number;
}

export class Balancer {
  private window: { stepMs: number; stageTimesMs: number[]; residentMs: number[] }[] = [];
  private state: BalanceState = BALANCE_START;
  private sinceCheck = 0;
  private busy = false;
  enabled = true;

  constructor(private readonly deps: BalancerDeps) {}

  /** A new plan: what the last one's steps showed says nothing about it. */
  moved(): void {
    this.window = [];
    this.state = BALANCE_START;
    this.sinceCheck = 0;
  }

  /** Every step's answer, with its wall time at the leader. */
  step(m: MessageOf<'logits'>, stepMs: number): void {
    if (!this.enabled) return;
    this.window.push({ stepMs, stageTimesMs: m.stageTimesMs, residentMs: m.residentMs });
    if (this.window.length > WINDOW_STEPS + 1) this.window.shift();
    if (++this.sinceCheck < EVERY_STEPS || this.window.length <= WINDOW_STEPS || this.busy) return;
    this.state = stepped(this.state, this.sinceCheck);
    this.sinceCheck = 0;
    void this.check();
  }

  private async check(): Promise<void> {
    this.busy = true;
    try {
      // stepBreakdown treats the first step as the prefill: the window carries one step more.
      const w = this.window;
      if (
        !this.deps.learn({
          stepMs: w.map((s) => s.stepMs),
          stageTimesMs: w.map((s) => s.stageTimesMs),
          residentMs: w.map((s) => s.residentMs),
        })
      )
        return;
      const c = await this.deps.compare();
      if (!c) return;
      const d = decide(this.state, c.currentMs, c.bestMs);
      this.state = d.state;
      const ms = (x: number | null) => (x === null ? '?' : x.toFixed(1));
      this.deps.log(
        `balance check: ${ms(c.currentMs)} ms/token now, ${ms(c.bestMs)} at best (${d.move ? 'confirmed' : `${d.state.wins} in a row`})`,
      );
      if (!d.move) return;
      const left = this.deps.tokensLeft();
      const pause = this.deps.pauseEstimateMs();
      if (!worthMoving(c.currentMs! - c.bestMs!, left, pause)) {
        this.deps.log(
          `balance check: not worth it with ${left} tokens left (saves ${ms((c.currentMs! - c.bestMs!) * left)} ms, a move pauses ~${ms(pause)} ms)`,
        );
        return;
      }
      this.deps.log(`balancing: ${c.currentMs!.toFixed(1)} → ${c.bestMs!.toFixed(1)} ms/token predicted`);
      await c.move();
    } catch (e) {
      this.deps.log(`balancing skipped: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.busy = false;
    }
  }
}
