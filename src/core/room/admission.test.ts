import { describe, expect, it } from 'vitest';
import { admissionCap, MAX_IN_FLIGHT } from './admission';

const MB = 1 << 20;

describe('admissionCap', () => {
  it('is set by the stage with the least room for KV caches', () => {
    const cap = admissionCap(
      [
        { name: 'Phone 1', budgetBytes: 500 * MB, weightBytes: 100 * MB, kvBytesPerToken: 16384 },
        { name: 'Phone 2', budgetBytes: 200 * MB, weightBytes: 150 * MB, kvBytesPerToken: 16384 },
      ],
      1024,
    );
    // Phone 2: 50 MB left ÷ 16 MB per answer (16 KB × 1024 tokens) = 3.
    expect(cap.maxInFlight).toBe(3);
    expect(cap.why).toMatch(/Phone 2 has room for the KV caches of 3 answer/);
  });

  it('never exceeds the fixed ceiling or the user’s cap, and never goes below one', () => {
    const roomy = [{ name: 'P', budgetBytes: 4096 * MB, weightBytes: MB, kvBytesPerToken: 1 }];
    expect(admissionCap(roomy, 2048).maxInFlight).toBe(MAX_IN_FLIGHT);
    expect(admissionCap(roomy, 2048, 2)).toEqual({ maxInFlight: 2, why: 'at most 2, as asked' });
    const full = [{ name: 'P', budgetBytes: 10 * MB, weightBytes: 10 * MB, kvBytesPerToken: 1024 }];
    expect(admissionCap(full, 2048).maxInFlight).toBe(1);
  });
});
