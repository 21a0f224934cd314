import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Heartbeat } from './heartbeat';

describe('Heartbeat', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
  });
  afterEach(() => vi.useRealTimers());

  const room = () => {
    const dead: string[] = [];
    const hb = new Heartbeat({
      watched: () => ['a', 'b'],
      everyone: () => ['a', 'b'],
      ping: () => {},
      dead: (id) => dead.push(id),
    });
    return { hb, dead };
  };

  it('declares a silent phone gone within 2 s of its last message, and not one that answers', () => {
    const { hb, dead } = room();
    vi.advanceTimersByTime(500); // the first tick starts watching both
    for (let t = 0; t < 1400; t += 100) {
      hb.seen('a');
      vi.advanceTimersByTime(100);
    }
    expect(dead).toEqual([]);
    for (let t = 0; t < 600; t += 100) {
      hb.seen('a');
      vi.advanceTimersByTime(100);
    }
    expect(dead).toEqual(['b']);
    hb.stop();
  });

  it('between answers, gives a silent phone 10 s; an answer starting brings the 2 s rule back', () => {
    const dead: string[] = [];
    let answering = false;
    const hb = new Heartbeat({
      watched: () => ['a'],
      everyone: () => ['a'],
      ping: () => {},
      dead: (id) => dead.push(id),
      answering: () => answering,
    });
    vi.advanceTimersByTime(500);
    vi.advanceTimersByTime(4000); // silent 4 s, nobody waiting on it
    expect(dead).toEqual([]);
    answering = true;
    vi.advanceTimersByTime(1000);
    expect(dead).toEqual(['a']);
    hb.stop();
  });

  it('judges nobody while pardoned, and judges again after', () => {
    const { hb, dead } = room();
    hb.pardon(3000);
    vi.advanceTimersByTime(2900);
    expect(dead).toEqual([]);
    vi.advanceTimersByTime(2600);
    expect(dead.sort()).toEqual(['a', 'b']);
    hb.stop();
  });
});
