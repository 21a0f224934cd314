import { describe, expect, it } from 'vitest';
import { AnswerQueue } from './answer-queue';

const ask = (id: string, phone: string) => ({ id, phone });

describe('AnswerQueue', () => {
  it('runs up to the cap at once, then queues with each answer’s place', () => {
    const q = new AnswerQueue({ maxInFlight: 2, maxWaiting: 8 });
    expect(q.submit(ask('a1', 'A'))).toEqual({ kind: 'run' });
    expect(q.submit(ask('a2', 'A'))).toEqual({ kind: 'run' });
    expect(q.submit(ask('a3', 'A'))).toEqual({ kind: 'queued', position: 1 });
    expect(q.submit(ask('a4', 'A'))).toEqual({ kind: 'queued', position: 2 });
    expect(q.inFlight).toBe(2);
    expect(q.finish('a1').map((a) => a.id)).toEqual(['a3']);
    expect(q.positions()).toEqual(new Map([['a4', 1]]));
  });

  it('gives free slots to the phones in turn: a long queue from one phone does not starve another', () => {
    const q = new AnswerQueue({ maxInFlight: 1, maxWaiting: 16 });
    q.submit(ask('a0', 'A'));
    for (let i = 1; i <= 4; i++) q.submit(ask(`a${i}`, 'A'));
    q.submit(ask('b1', 'B'));
    q.submit(ask('c1', 'C'));
    // B asked after A's four, yet goes first: A was served last.
    expect([...q.positions()]).toEqual([
      ['b1', 1],
      ['c1', 2],
      ['a1', 3],
      ['a2', 4],
      ['a3', 5],
      ['a4', 6],
    ]);
    const served: string[] = [];
    let running = 'a0';
    for (;;) {
      const next = q.finish(running);
      if (!next.length) break;
      running = next[0]!.id;
      served.push(running);
    }
    expect(served).toEqual(['b1', 'c1', 'a1', 'a2', 'a3', 'a4']);
  });

  it('interleaves two busy phones one for one', () => {
    const q = new AnswerQueue({ maxInFlight: 1, maxWaiting: 16 });
    q.submit(ask('x', 'A'));
    for (const id of ['a1', 'a2', 'a3']) q.submit(ask(id, 'A'));
    for (const id of ['b1', 'b2']) q.submit(ask(id, 'B'));
    expect([...q.positions().keys()]).toEqual(['b1', 'a1', 'b2', 'a2', 'a3']);
  });

  it('a new answer waits behind those already waiting, even when a slot is free', () => {
    const q = new AnswerQueue({ maxInFlight: 1, maxWaiting: 4 });
    q.submit(ask('a1', 'A'));
    q.submit(ask('b1', 'B'));
    q.setLimits({ maxInFlight: 1, maxWaiting: 4 });
    expect(q.submit(ask('c1', 'C'))).toEqual({ kind: 'queued', position: 2 });
  });

  it('refuses beyond the waiting limit, with a message that says why', () => {
    const q = new AnswerQueue({ maxInFlight: 1, maxWaiting: 1 });
    q.submit(ask('a1', 'A'));
    q.submit(ask('a2', 'A'));
    const r = q.submit(ask('a3', 'B'));
    expect(r.kind).toBe('refused');
    expect(r.kind === 'refused' && r.reason).toMatch(/busy.*1 answers are running and 1 are waiting/);
    expect(q.waitingCount).toBe(1);
  });

  it('a withdrawn answer leaves the queue; a running one is not withdrawn', () => {
    const q = new AnswerQueue({ maxInFlight: 1, maxWaiting: 4 });
    q.submit(ask('a1', 'A'));
    q.submit(ask('b1', 'B'));
    q.submit(ask('b2', 'B'));
    expect(q.withdraw('a1')).toBe(false);
    expect(q.withdraw('b1')).toBe(true);
    expect(q.positions()).toEqual(new Map([['b2', 1]]));
    expect(q.finish('a1').map((a) => a.id)).toEqual(['b2']);
  });

  it('a raised cap starts waiting answers at once', () => {
    const q = new AnswerQueue({ maxInFlight: 1, maxWaiting: 4 });
    q.submit(ask('a1', 'A'));
    q.submit(ask('b1', 'B'));
    q.submit(ask('c1', 'C'));
    expect(q.setLimits({ maxInFlight: 3, maxWaiting: 4 }).map((a) => a.id)).toEqual(['b1', 'c1']);
    expect(q.inFlight).toBe(3);
  });

  it('rejects the same id twice and a cap below 1', () => {
    const q = new AnswerQueue({ maxInFlight: 1, maxWaiting: 4 });
    q.submit(ask('a1', 'A'));
    expect(() => q.submit(ask('a1', 'B'))).toThrow(/asked already/);
    expect(() => new AnswerQueue({ maxInFlight: 0, maxWaiting: 1 })).toThrow(/≥ 1/);
  });
});
