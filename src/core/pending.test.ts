import { afterEach, describe, expect, it, vi } from 'vitest';
import { PendingRequests } from './pending';

afterEach(() => vi.useRealTimers());

describe('PendingRequests', () => {
  it('resolves the waiter of a key once', async () => {
    const p = new PendingRequests<string, number>();
    const w = p.wait('a', 1000, 'answer a');
    expect(p.resolve('a', 7)).toBe(true);
    expect(p.resolve('a', 8)).toBe(false);
    await expect(w).resolves.toBe(7);
    expect(p.size).toBe(0);
  });

  it('times out with the thing it waited for in the message', async () => {
    vi.useFakeTimers();
    const p = new PendingRequests<number, string>();
    const w = p.wait(1, 250, 'pong from phone 2');
    vi.advanceTimersByTime(251);
    await expect(w).rejects.toThrow('pong from phone 2 timed out after 250 ms');
    expect(p.has(1)).toBe(false);
  });

  it('rejects the matching waits and leaves the others', async () => {
    const p = new PendingRequests<string, number>();
    const a = p.wait('r1:0', Number.POSITIVE_INFINITY, 'x');
    const b = p.wait('r2:0', Number.POSITIVE_INFINITY, 'y');
    p.rejectWhere(new Error('phone left'), (k) => k.startsWith('r1:'));
    await expect(a).rejects.toThrow('phone left');
    expect(p.has('r2:0')).toBe(true);
    p.resolve('r2:0', 1);
    await expect(b).resolves.toBe(1);
  });

  it('a second wait on a key supersedes the first', async () => {
    const p = new PendingRequests<string, number>();
    const first = p.wait('k', 1000, 'first');
    const second = p.wait('k', 1000, 'second');
    await expect(first).rejects.toThrow('superseded');
    p.resolve('k', 2);
    await expect(second).resolves.toBe(2);
  });
});
