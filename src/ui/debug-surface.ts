/**
 * A typed window into a running tab, for the e2e suite, the room simulator and the benchmarks
 * (`window.__chorus`), so they never reach into private fields. Everything here is something a test
 * needs to observe or a fault it needs to inject; nothing the app itself uses.
 */

import type { BackupStatus } from '../app/backups';
import type { RoomEvent } from '../app/room/room-plans';
import type { Refusal } from '../app/room/router';
import type { LoadStats } from '../app/stage-host';
import type { PlacementProblem, PlacementResult } from '../core/placement/types';
import type { AnswerSummary, AskInput, Message, PhoneInfo, SamplingParams } from '../core/protocol/messages';
import type { StagePlan } from '../core/room/plan';

export interface StageCounters {
  /** The plan this phone's stage runs, null when it holds none. */
  readonly planId: string | null;
  readonly stepsRun: number;
  /** Steps of another plan, dropped unrun. */
  readonly stepsDropped: number;
  /** From the stage backend: loads since the tab opened, requests holding a KV cache, their bytes. */
  readonly loads: number;
  readonly activeRequests: number;
  readonly kvBytes: number;
  /** Steps that ran batched with other sequences' steps, and the largest batch. */
  readonly batchedSteps: number;
  readonly largestBatch: number;
  /** Session runs that served steps (stepsRun ÷ this = the mean batch). */
  readonly stepRuns: number;
  /** Ms this phone's runtime spent running steps since the tab opened. */
  readonly busyMs: number;
}

export interface ChorusDebug {
  readonly role: () => 'leader' | 'member' | null;
  /** This tab's phone id as others see it. */
  readonly id: () => string | null;
  readonly phones: () => PhoneInfo[];
  readonly loadStats: () => LoadStats | null;
  /** This phone's backups of its neighbours' blocks: still to fetch, fetched, why it stopped. */
  readonly backups: () => BackupStatus | null;
  readonly stage: () => Promise<StageCounters | null>;
  readonly rejectedFrames: () => number;
  /** What this tab's router refused, latest last. */
  readonly refusals: () => Refusal[];
  /** Errors stages reported to the leader, latest last (leader only). */
  readonly stageErrors: () => string[];
  /** Whether the leader has every phone of the room measured (so re-plans are solved). */
  readonly measured: () => boolean;
  /** The leader's current plan. */
  readonly plan: () => { readonly id: string; readonly stages: readonly StagePlan[] } | null;
  readonly measureRtts: (count: number) => Promise<Record<string, number[]>>;
  /** Ms to send `bytes` to a phone over the leader's link and hear back (leader only). */
  readonly probe: (peerId: string, bytes: number) => Promise<number>;
  /** Sends a message to another phone of the room over a link of this tab's (opening one if needed). */
  readonly send: (peerId: string, m: Message) => Promise<void>;
  /** Sends raw bytes as a data-channel frame (garbage-frame tests). */
  readonly sendRaw: (peerId: string, bytes: Uint8Array) => Promise<void>;
  /** Moves the room to these stages now, mid-answer if one runs (leader only). */
  readonly moveTo: (stages: readonly StagePlan[]) => Promise<void>;
  /** Tokens the answer in flight has so far (leader only; 0 when none runs). */
  readonly tokensOut: () => number;
  /** What the leader plans for now (the load's objective), and a promise of its re-plans so far. */
  readonly objective: () => 'latency' | 'throughput' | null;
  readonly loadSettled: () => Promise<void>;
  /** The room's re-plans and faults so far (leader only). */
  readonly history: () => readonly RoomEvent[];
  /** Makes this phone k times slower from now on (the simulator's --slow). */
  readonly setSlowdown: (k: number) => Promise<void>;
  /** Most sequences this phone's stage runs in one call; 1 turns batching off (benchmarks compare). */
  readonly setMaxBatch: (k: number) => Promise<void>;
  /**
   * Asks from this tab (any phone) without the prompt box, so several phones can ask at once; resolves
   * with how the answer ended, its streamed text and the states it went through.
   */
  readonly ask: (input: AskInput, params: SamplingParams) => Promise<AskedAnswer>;
  /** Stops the answers this tab asked through `ask`. */
  readonly cancelAsks: () => void;
  /** The leader's cap on answers at once, and how many run (leader only). */
  readonly admission: () => { maxInFlight: number; inFlight: number } | null;
  /** The leader's placement solver (HiGHS in its worker), for the allocation benchmark. */
  readonly solve: (problem: PlacementProblem) => Promise<PlacementResult>;
}

export interface AskedAnswer extends AnswerSummary {
  readonly text: string;
  readonly states: readonly string[];
  /** Ms from asking to the end. */
  readonly totalMs: number;
}

declare global {
  interface Window {
    __chorus?: ChorusDebug;
  }
}

/** What the surface reads from the page's controller. */
export interface DebugSource {
  readonly leader: import('../app/leader').Leader | null;
  readonly member: import('../app/member').Member | null;
  readonly solve: (problem: PlacementProblem) => Promise<PlacementResult>;
}

export function debugSurface(src: DebugSource): ChorusDebug {
  const tab = () => src.leader ?? src.member;
  const need = <T>(v: T | null, what: string): T => {
    if (!v) throw new Error(`no ${what} in this tab`);
    return v;
  };
  const linkTo = (peerId: string) => need(tab(), 'room').linkTo(peerId);
  let asked = 0;
  const open = new Set<string>();
  return {
    role: () => (src.leader ? 'leader' : src.member ? 'member' : null),
    id: () => tab()?.id ?? null,
    phones: () => src.leader?.phones ?? src.member?.phones ?? [],
    loadStats: () => tab()?.stage.lastLoad ?? null,
    backups: () => tab()?.stage.backupStatus() ?? null,
    stage: async () => {
      const stage = tab()?.stage;
      if (!stage) return null;
      const stats = await stage.backendStats();
      const { planId, stepsRun, stepsDropped } = stage;
      return { planId, stepsRun, stepsDropped, ...stats };
    },
    rejectedFrames: () => tab()?.rejectedFrames ?? 0,
    refusals: () => [...(tab()?.router.refusals ?? [])],
    stageErrors: () => [...(src.leader?.stageErrors ?? [])],
    plan: () => src.leader?.roomPlan?.plan ?? null,
    measured: () => src.leader?.measured ?? false,
    measureRtts: (count) => need(src.leader, 'leader').measureRtts(count),
    probe: (peerId, bytes) => need(src.leader, 'leader').probe(peerId, bytes),
    send: async (peerId, m) => (await linkTo(peerId)).send(m),
    sendRaw: async (peerId, bytes) => {
      const link = (await linkTo(peerId)) as { sendRaw?: (b: Uint8Array) => void };
      if (!link.sendRaw) throw new Error('this link cannot send raw frames');
      link.sendRaw(bytes);
    },
    moveTo: async (stages) => void (await need(src.leader, 'leader').moveTo(stages, 'asked by a test')),
    tokensOut: () => src.leader?.tokensOut ?? 0,
    history: () => [...(src.leader?.history ?? [])],
    objective: () => src.leader?.objective ?? null,
    loadSettled: () => src.leader?.loadSettled() ?? Promise.resolve(),
    setSlowdown: (k) => need(tab(), 'room').stage.setSlowdown(k),
    setMaxBatch: (k) => need(tab(), 'room').stage.setMaxBatch(k),
    ask: (input, params) => {
      const asker = need(tab(), 'room');
      const id = `debug-${++asked}`;
      open.add(id);
      const t0 = performance.now();
      let text = '';
      const states: string[] = [];
      return new Promise<AskedAnswer>((resolve) =>
        asker.ask(id, input, params, {
          state: (s, position) => states.push(position ? `${s} ${position}` : s),
          text: (delta) => {
            text += delta;
          },
          end: (summary) => {
            open.delete(id);
            resolve({ ...summary, text, states, totalMs: performance.now() - t0 });
          },
        }),
      );
    },
    cancelAsks: () => {
      for (const id of open) tab()?.cancel(id);
    },
    admission: () => src.leader?.admission ?? null,
    solve: (problem) => src.solve(problem),
  };
}
