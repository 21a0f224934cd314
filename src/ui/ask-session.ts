/**
 * This page's own question and its answer on screen, the same on the leader and on a member phone:
 * asked through the room's front desk (app/room/answers.ts), it shows where the answer is (queued with
 * its place, reading the prompt, writing), streams its text, and Stop ends this answer only.
 */

import type { GenerationOutput } from '../app/pipeline-driver';
import type { AnswerSink } from '../app/room/answers';
import type { AnswerState, AnswerSummary, AskInput, SamplingParams } from '../core/protocol/messages';

/** What can take a question: the leader itself, or a member asking its leader. */
export interface Asker {
  ask(requestId: string, input: AskInput, params: SamplingParams, sink: AnswerSink): void;
  cancel(requestId: string): void;
}

function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}

export function describeState(state: AnswerState, position = 1): string {
  if (state === 'queued')
    return position === 1 ? 'queued: next in line' : `queued: ${ordinal(position)} in line`;
  return state === 'prefilling' ? 'reading the prompt…' : 'writing…';
}

export class AskSession {
  busy = false;
  output = '';
  /** Where the answer is, in words; null when none runs. */
  status: string | null = null;
  summary: AnswerSummary | null = null;
  /** The whole run, on the leader (its plan view and the simulator read it). */
  full: GenerationOutput | null = null;
  error: string | null = null;
  private current: { asker: Asker; id: string } | null = null;
  private asked = 0;

  constructor(private readonly changed: () => void) {}

  /** Asks; resolves when the answer ends, however it ends. */
  ask(asker: Asker, input: AskInput, params: SamplingParams): Promise<void> {
    const id = `ask-${Date.now().toString(36)}-${++this.asked}`;
    this.current = { asker, id };
    this.busy = true;
    this.output = '';
    this.summary = null;
    this.full = null;
    this.error = null;
    this.status = 'asking the room…';
    this.changed();
    return new Promise((resolve) => {
      const mine = () => this.current?.id === id;
      asker.ask(id, input, params, {
        state: (state, position) => {
          if (!mine()) return;
          this.status = describeState(state, position);
          this.changed();
        },
        text: (delta) => {
          if (!mine()) return;
          this.output += delta;
          this.changed();
        },
        end: (summary, output) => {
          if (mine()) {
            this.busy = false;
            this.status = null;
            this.summary = summary;
            this.full = output ?? null;
            if (summary.outcome === 'failed' || summary.outcome === 'refused')
              this.error = summary.message ?? `the answer ${summary.outcome}`;
            this.current = null;
            this.changed();
          }
          resolve();
        },
      });
    });
  }

  stop(): void {
    if (this.current) this.current.asker.cancel(this.current.id);
  }

  clear(): void {
    this.current = null;
    this.busy = false;
    this.output = '';
    this.status = null;
    this.summary = null;
    this.full = null;
    this.error = null;
  }
}
