/**
 * limit: measured single-stream tokens/s over the limit 1 / (Σ measured stage step times + hops × RTT),
 * so we know how much is lost outside the stages (encoding, worker hand-offs, scheduling).
 */
import { type Benchmark, median, type Row, spread } from './harness';
import { type BenchModel, measureRoom, modelKey } from './rooms';

const MODELS: BenchModel[] = [{ preset: 'smol-135m', dtype: 'fp32' }];

const benchmark: Benchmark = {
  name: 'limit',
  description: 'measured tokens/s as a fraction of the limit set by stage times and link RTT',
  async run(ctx) {
    const rows: Row[] = [];
    const detail: Record<string, unknown> = {};
    let headline = Number.NaN;
    for (const m of ctx.quick ? [{ preset: 'mini-30m', dtype: 'fp32' } as BenchModel] : MODELS) {
      for (const n of [2, 3]) {
        const r = await measureRoom(m, n, { repeats: ctx.repeats, tokens: 24, log: ctx.log });
        const rtt = median(r.rttMs);
        const fractions = r.steps.map((s) => {
          const limitMs = s.stageMs.reduce((a, b) => a + b, 0) + n * rtt;
          return limitMs / s.wallMs; // (measured tokens/s) / (limit tokens/s) for this token
        });
        rows.push({
          label: `${modelKey(m)}, ${n} phones: measured / limit`,
          value: spread(fractions),
          unit: '',
        });
        rows.push({ label: `${modelKey(m)}, ${n} phones: link RTT`, value: spread(r.rttMs), unit: 'ms' });
        detail[`${modelKey(m)}@${n}`] = { rttMs: r.rttMs, fractions };
        if (n === 3) headline = median(fractions);
      }
    }
    return {
      name: 'limit',
      headline: {
        metric: 'measured / limit tokens/s, 3 phones',
        value: headline,
        target: 0.9,
        better: 'higher',
      },
      emulation: 'as pipeline',
      rows,
      detail,
    };
  },
};

export default benchmark;
