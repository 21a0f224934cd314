/**
 * pipeline: per-token time of 1, 2 and 3 phones, side by side with one device running the whole model
 * in the same kind of page (a 1-phone room), at each model size, single stream; and the cost per hop.
 */
import { type Benchmark, median, type Row, spread } from './harness';
import { type BenchModel, measureRoom, modelKey } from './rooms';

// fp32, not q4: onnxruntime-web 1.30's WASM MatMulNBits is 5–8× slower than a plain MatMul (measured
// by tools/gen-model/check.ts), so q4 would measure that kernel rather than the pipeline.
export const PIPELINE_MODELS: BenchModel[] = [
  { preset: 'mini-30m', dtype: 'fp32' },
  { preset: 'smol-135m', dtype: 'fp32' },
];

/** Time a step spends outside every stage: encoding, hops, worker hand-offs, the leader's sampling. */
export function outsideStagesMs(steps: { wallMs: number; stageMs: number[] }[]): number[] {
  return steps.map((s) => s.wallMs - s.stageMs.reduce((a, b) => a + b, 0));
}

const benchmark: Benchmark = {
  name: 'pipeline',
  description: 'per-token time of 1/2/3 phones vs one device, and the cost of one hop',
  async run(ctx) {
    const models = ctx.quick ? PIPELINE_MODELS.slice(0, 1) : PIPELINE_MODELS;
    const rows: Row[] = [];
    const bars: { label: string; value: number }[] = [];
    const detail: Record<string, unknown> = {};
    let hop135 = Number.NaN;
    for (const m of models) {
      const one = await measureRoom(m, 1, { repeats: ctx.repeats, tokens: 24, log: ctx.log });
      const baseOutside = median(outsideStagesMs(one.steps));
      rows.push({ label: `${modelKey(m)}: 1 device, ms/token`, value: spread(one.tokenMs), unit: 'ms' });
      bars.push({ label: `${modelKey(m)} · 1 device`, value: median(one.tokenMs) });
      const perModel: Record<string, unknown> = { 1: one };
      for (const n of [2, 3]) {
        const r = await measureRoom(m, n, { repeats: ctx.repeats, tokens: 24, log: ctx.log });
        // Each repeat's ratio against the single device's median: the spread shows run-to-run noise.
        const ratios = r.tokenMs.map((t) => t / median(one.tokenMs));
        // N phones with the leader as stage 1: N network hops per token (N−1 between stages, 1 back).
        const hops = outsideStagesMs(r.steps).map((o) => (o - baseOutside) / n);
        rows.push({
          label: `${modelKey(m)}: ${n} phones / 1 device, per-token time`,
          value: spread(ratios),
          unit: '×',
        });
        rows.push({ label: `${modelKey(m)}: ${n} phones, cost per hop`, value: spread(hops), unit: 'ms' });
        bars.push({ label: `${modelKey(m)} · ${n} phones`, value: median(r.tokenMs) });
        perModel[n] = r;
        if (m.preset === 'smol-135m' && n === 3) hop135 = median(hops);
      }
      detail[modelKey(m)] = perModel;
    }
    if (Number.isNaN(hop135)) {
      const last = detail[modelKey(models.at(-1)!)] as Record<
        number,
        { steps: { wallMs: number; stageMs: number[] }[] }
      >;
      hop135 = median(outsideStagesMs(last[3]!.steps)) / 3;
    }
    return {
      name: 'pipeline',
      headline: {
        metric: 'median cost per hop, 135M hidden state, 3 phones (ms)',
        value: hop135,
        target: 1,
        better: 'lower',
      },
      emulation:
        'phones = pages of one headless Chromium (one browser context each, inference in a Web Worker on 1 thread), sharing this machine’s cores; WebRTC over a private network namespace',
      rows,
      chart: { title: 'Per-token time (median ms, single stream)', unit: 'ms', bars },
      detail,
    };
  },
};

export default benchmark;
