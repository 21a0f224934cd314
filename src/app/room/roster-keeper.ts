/**
 * The leader's roster: every phone's name, state, blocks and measurements, as the pure reducer in
 * core/room/roster.ts folds events, sent to every phone whenever it changes.
 */
import type { Message, PhoneInfo } from '../../core/protocol/messages';
import { applyRosterEvent, type RosterEvent } from '../../core/room/roster';

export class RosterKeeper {
  phones: PhoneInfo[] = [];

  constructor(
    /** Sends the roster to every other phone. */
    private readonly broadcast: (m: Message) => void,
    private readonly planId: () => string | null,
    private readonly onChange: () => void,
  ) {}

  update(e: RosterEvent): void {
    this.phones = applyRosterEvent(this.phones, e);
    this.broadcast({ kind: 'roster', phones: this.phones, planId: this.planId() });
    this.onChange();
  }

  nameOf(id: string): string {
    return this.phones.find((p) => p.id === id)?.name ?? id;
  }
}
