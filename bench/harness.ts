/**
 * The benchmark harness: every figure is a ratio measured side by side in one run, repeated, reported
 * as min/median/max with the machine's core count and how phones were emulated. Each benchmark writes
 * bench/results/<name>.json with a `headline` naming its main figure and the goal its issue sets.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Spread } from '../src/core/stats';

// The project's one spread/median, under the names the benchmarks import from here.
export { median, type Spread, spread } from '../src/core/stats';

export const RESULTS_DIR = path.resolve(import.meta.dirname, 'results');

export interface Headline {
  readonly metric: string;
  readonly value: number;
  readonly target: number;
  readonly better: 'higher' | 'lower';
}

/** One line of the summary table. */
export interface Row {
  readonly label: string;
  readonly value: Spread | number;
  readonly unit: string;
}

export interface BenchResult {
  readonly name: string;
  readonly headline: Headline;
  readonly emulation: string;
  readonly rows: readonly Row[];
  /** Bars for the chart: label → value (one series per benchmark). */
  readonly chart?: {
    readonly title: string;
    readonly unit: string;
    readonly bars: readonly { label: string; value: number }[];
  };
  readonly detail: Record<string, unknown>;
}

export interface BenchContext {
  readonly repeats: number;
  readonly quick: boolean;
  log(line: string): void;
}

export interface Benchmark {
  readonly name: string;
  readonly description: string;
  run(ctx: BenchContext): Promise<BenchResult>;
}

export function machine() {
  return {
    cores: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
  };
}

const fmt = (v: number) =>
  Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);

export function formatValue(v: Spread | number): string {
  return typeof v === 'number' ? fmt(v) : `${fmt(v.median)} (${fmt(v.min)}–${fmt(v.max)})`;
}

export function writeResult(result: BenchResult): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${result.name}.json`);
  const full = { ...result, machine: machine(), date: new Date().toISOString() };
  writeFileSync(file, `${JSON.stringify(full, null, 1)}\n`);
  return file;
}

export function markdownTable(results: readonly BenchResult[]): string {
  const lines = ['| benchmark | figure | value: median (min–max) | unit |', '| --- | --- | --- | --- |'];
  for (const r of results) {
    const h = r.headline;
    lines.push(
      `| **${r.name}** | **${h.metric}** (goal ${h.better === 'higher' ? '≥' : '≤'} ${h.target}) | **${fmt(h.value)}** | |`,
    );
    for (const row of r.rows) lines.push(`| | ${row.label} | ${formatValue(row.value)} | ${row.unit} |`);
  }
  const m = machine();
  lines.push(
    '',
    `Machine: ${m.cores} cores (${m.cpu}), ${m.memoryGB} GB. Emulation: ${[...new Set(results.map((r) => r.emulation))].join(' / ')}`,
  );
  return lines.join('\n');
}

/** A plain SVG bar chart, one panel per benchmark that has bars: readable in the README as is. */
export function svgChart(results: readonly BenchResult[]): string {
  const panels = results.filter((r) => r.chart && r.chart.bars.length > 0);
  const barH = 22;
  const width = 760;
  const labelW = 300;
  let y = 10;
  const parts: string[] = [];
  for (const r of panels) {
    const c = r.chart!;
    parts.push(`<text x="10" y="${y + 14}" font-weight="bold">${escapeXml(c.title)}</text>`);
    y += 24;
    const max = Math.max(...c.bars.map((b) => b.value), 1e-9);
    for (const b of c.bars) {
      const w = Math.max(1, ((width - labelW - 80) * b.value) / max);
      parts.push(`<text x="10" y="${y + 15}">${escapeXml(b.label)}</text>`);
      parts.push(
        `<rect x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${barH - 6}" fill="#5566aa"/>`,
      );
      parts.push(`<text x="${labelW + w + 6}" y="${y + 15}">${fmt(b.value)} ${escapeXml(c.unit)}</text>`);
      y += barH;
    }
    y += 12;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
${parts.join('\n')}
</svg>
`;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
