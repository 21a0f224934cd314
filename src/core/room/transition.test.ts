import { describe, expect, it } from 'vitest';
import type { Plan } from './plan';
import { type BlockRange, transition } from './transition';

/** `plan('a:0-2', 'b:3-6')`: phones and their inclusive block ranges, in order. */
function plan(...stages: string[]): Plan {
  return {
    id: stages.join('|'),
    stages: stages.map((s) => {
      const [phoneId, range] = s.split(':');
      const [first, last] = range!.split('-').map(Number);
      return { phoneId: phoneId!, firstBlock: first!, lastBlock: last! };
    }),
  };
}

/** What each phone holds when it runs `p` fully loaded. */
const holding = (p: Plan, extra: [string, BlockRange | null][] = []) =>
  new Map<string, BlockRange | null>([
    ...p.stages.map((s) => [s.phoneId, [s.firstBlock, s.lastBlock]] as [string, BlockRange]),
    ...extra,
  ]);

describe('transition', () => {
  it('first load: every phone loads, nothing carries on', () => {
    const t = transition(null, plan('a:0-2', 'b:3-6'), new Map());
    expect(t.steps.map((s) => s.kind)).toEqual(['load', 'load']);
    expect(t.firstMoved).toBe(0);
  });

  it('the same placement under a new plan id keeps every phone', () => {
    const p = plan('a:0-2', 'b:3-4', 'c:5-6');
    const t = transition(p, { ...p, id: 'next' }, holding(p));
    expect(t.steps.map((s) => s.kind)).toEqual(['keep', 'keep', 'keep']);
    expect(t.firstMoved).toBe(3);
  });

  it('a moved boundary migrates only the two phones around it; stages before it carry on', () => {
    const from = plan('a:0-2', 'b:3-4', 'c:5-6');
    const t = transition(from, plan('a:0-2', 'b:3-5', 'c:6-6'), holding(from));
    expect(t.steps).toEqual([
      { kind: 'keep', phoneId: 'a', blocks: [0, 2] },
      { kind: 'migrate', phoneId: 'b', from: [3, 4], blocks: [3, 5] },
      { kind: 'migrate', phoneId: 'c', from: [5, 6], blocks: [6, 6] },
    ]);
    expect(t.firstMoved).toBe(1);
  });

  it('a phone left out unloads; a newcomer loads', () => {
    const from = plan('a:0-3', 'b:4-6');
    const t = transition(from, plan('a:0-3', 'c:4-6'), holding(from, [['c', null]]));
    expect(t.steps).toEqual([
      { kind: 'keep', phoneId: 'a', blocks: [0, 3] },
      { kind: 'load', phoneId: 'c', blocks: [4, 6] },
      { kind: 'unload', phoneId: 'b', from: [4, 6] },
    ]);
    expect(t.firstMoved).toBe(1);
  });

  it('a stage whose phone lost its blocks does not carry on, even in an unchanged plan', () => {
    const p = plan('a:0-2', 'b:3-6');
    const t = transition(p, { ...p, id: 'again' }, holding(p, [['b', null]]));
    expect(t.steps.map((s) => s.kind)).toEqual(['keep', 'load']);
    expect(t.firstMoved).toBe(1);
  });

  it('the same ranges on swapped phones move from the first stage', () => {
    const from = plan('a:0-2', 'b:3-6');
    const t = transition(from, plan('b:0-2', 'a:3-6'), holding(from));
    expect(t.steps.map((s) => s.kind)).toEqual(['migrate', 'migrate']);
    expect(t.firstMoved).toBe(0);
  });
});
