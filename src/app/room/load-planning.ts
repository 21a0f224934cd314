/**
 * Plans for the load: watches how many answers the room keeps in flight and, when the load has held
 * long enough to matter (core/room/load-objective.ts), asks for a re-plan for the other objective —
 * throughput while many answers run at once, latency again once the room falls quiet. The re-plan
 * itself (solve, compare, move through the live room's transitions) belongs to the caller.
 */

import type { PlacementObjective } from '../../core/placement/types';
import { flipsIn, type LoadState, observeLoad, QUIET_ROOM } from '../../core/room/load-objective';

export interface LoadPlanningDeps {
  /** Answers in flight now. */
  readonly inFlight: () => number;
  /** Re-plans the room for `objective`; a failure keeps the plan in use. */
  readonly replan: (objective: PlacementObjective) => Promise<void>;
  readonly log: (line: string) => void;
  readonly now?: () => number;
}

export class LoadPlanning {
  private state: LoadState = QUIET_ROOM;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Re-plans one after another: a flip back while the last move runs waits for it. */
  private replans: Promise<void> = Promise.resolve();
  /** Off until a model is planned by the solver (an even room keeps its split). */
  enabled = false;

  constructor(private readonly deps: LoadPlanningDeps) {}

  /** The objective the room plans for now. */
  get objective(): PlacementObjective {
    return this.state.objective;
  }

  /** Resolves once the re-plans asked for so far are done (tests and the bench wait on it). */
  settled(): Promise<void> {
    return this.replans;
  }

  /** Call whenever the number of answers in flight may have changed (an answer starts or ends). */
  observe(): void {
    if (!this.enabled) return;
    const now = (this.deps.now ?? (() => performance.now()))();
    const before = this.state;
    this.state = observeLoad(before, this.deps.inFlight(), now);
    if (this.state.objective !== before.objective) {
      const objective = this.state.objective;
      this.deps.log(`load: ${this.deps.inFlight()} answer(s) in flight, planning for ${objective}`);
      this.replans = this.replans.then(() =>
        this.deps.replan(objective).catch((e: unknown) => {
          this.deps.log(`re-planning for ${objective} failed (${String(e)}): kept the plan before`);
        }),
      );
    }
    this.arm(now);
  }

  /** Back to the one-stream objective without a re-plan (a new model is planned from scratch). */
  reset(): void {
    this.state = QUIET_ROOM;
    this.disarm();
  }

  stop(): void {
    this.enabled = false;
    this.disarm();
  }

  /** The load may call for a flip with no answer starting or ending: look again when it would. */
  private arm(now: number): void {
    this.disarm();
    const ms = flipsIn(this.state, now);
    if (ms !== null) this.timer = setTimeout(() => this.observe(), ms + 1);
  }

  private disarm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
