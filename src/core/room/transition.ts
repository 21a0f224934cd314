/**
 * From the plan a room runs to the plan it should run, as a pure function (exo's placement → transition
 * → apply): what each phone must do, and from which stage on the answers in flight must rebuild their KV
 * caches. The executor (src/app/room/plan-executor.ts) carries it out; nothing here touches a phone.
 */
import type { Plan } from './plan';

/** First and last block a phone holds, inclusive. */
export type BlockRange = readonly [first: number, last: number];

export type PhoneStep =
  /** Holds exactly these blocks already: keeps its session and KV caches, takes the new wiring. */
  | { readonly kind: 'keep'; readonly phoneId: string; readonly blocks: BlockRange }
  /** Holds no blocks: loads these. */
  | { readonly kind: 'load'; readonly phoneId: string; readonly blocks: BlockRange }
  /** Holds other blocks: replaces them with these (its caches of the old blocks are gone). */
  | {
      readonly kind: 'migrate';
      readonly phoneId: string;
      readonly from: BlockRange;
      readonly blocks: BlockRange;
    }
  /** Left out of the target: frees what it holds. */
  | { readonly kind: 'unload'; readonly phoneId: string; readonly from: BlockRange };

export interface Transition {
  /** One step per phone that holds blocks now or will in the target, target stages first, in order. */
  readonly steps: readonly PhoneStep[];
  /**
   * Index of the first target stage that does not carry on as it ran: another phone, other blocks, or a
   * phone that does not hold them. Equals `target.stages.length` when every stage carries on, and the
   * answers in flight keep their KV caches; otherwise they rebuild them (the leader's pipeline driver).
   */
  readonly firstMoved: number;
}

const same = (a: BlockRange | null | undefined, b: BlockRange): boolean =>
  !!a && a[0] === b[0] && a[1] === b[1];

/**
 * `holdings`: what each phone holds now (from its last `ready`), null or absent for nothing. `current`:
 * the plan the room runs (null before the first load).
 */
export function transition(
  current: Plan | null,
  target: Plan,
  holdings: ReadonlyMap<string, BlockRange | null>,
): Transition {
  const steps: PhoneStep[] = [];
  const inTarget = new Set<string>();
  for (const s of target.stages) {
    const blocks: BlockRange = [s.firstBlock, s.lastBlock];
    const held = holdings.get(s.phoneId) ?? null;
    inTarget.add(s.phoneId);
    if (same(held, blocks)) steps.push({ kind: 'keep', phoneId: s.phoneId, blocks });
    else if (held) steps.push({ kind: 'migrate', phoneId: s.phoneId, from: held, blocks });
    else steps.push({ kind: 'load', phoneId: s.phoneId, blocks });
  }
  for (const [phoneId, held] of holdings) {
    if (held && !inTarget.has(phoneId)) steps.push({ kind: 'unload', phoneId, from: held });
  }
  let firstMoved = 0;
  while (firstMoved < target.stages.length) {
    const t = target.stages[firstMoved]!;
    const c = current?.stages[firstMoved];
    const carriesOn =
      c?.phoneId === t.phoneId &&
      c.firstBlock === t.firstBlock &&
      c.lastBlock === t.lastBlock &&
      same(holdings.get(t.phoneId), [t.firstBlock, t.lastBlock]);
    if (!carriesOn) break;
    firstMoved++;
  }
  return { steps, firstMoved };
}
