/**
 * `npm run bench [-- <name> ...] [--quick] [--repeats N]`: runs the benchmarks (all, or the named ones),
 * writes bench/results/<name>.json, bench/results/summary.md and bench/results/chart.svg, and prints
 * the table. Runs itself inside ../shared/tools/netns-run where WebRTC needs it (as the e2e suite does).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureAppBuilt } from '../tools/app-build';
import { reexecInNetns } from '../tools/netns';
import {
  type Benchmark,
  type BenchResult,
  markdownTable,
  RESULTS_DIR,
  svgChart,
  writeResult,
} from './harness';

await reexecInNetns();
await ensureAppBuilt((line) => process.stderr.write(`${line}\n`));

async function loadBenchmarks(): Promise<Benchmark[]> {
  const files = readdirSync(import.meta.dirname)
    .filter((f) => f.endsWith('.bench.ts'))
    .sort();
  const mods = await Promise.all(
    files.map((f) => import(path.join(import.meta.dirname, f)) as Promise<{ default: Benchmark }>),
  );
  return mods.map((m) => m.default);
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      quick: { type: 'boolean' },
      repeats: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const all = await loadBenchmarks();
  if (values.help) {
    process.stdout.write(
      `Usage: npm run bench [-- <name> ...] [--quick] [--repeats N]\n\n${all.map((b) => `  ${b.name.padEnd(12)} ${b.description}`).join('\n')}\n`,
    );
    return 0;
  }
  const unknown = positionals.filter((p) => !all.some((b) => b.name === p));
  if (unknown.length)
    throw new Error(`no benchmark named ${unknown.join(', ')} (have: ${all.map((b) => b.name).join(', ')})`);
  const chosen = positionals.length ? all.filter((b) => positionals.includes(b.name)) : all;
  const ctx = {
    repeats: Number(values.repeats ?? 3),
    quick: !!values.quick,
    log: (l: string) => process.stderr.write(`${l}\n`),
  };
  const t0 = performance.now();
  const results: BenchResult[] = [];
  for (const b of chosen) {
    ctx.log(`— ${b.name}: ${b.description}`);
    const r = await b.run(ctx);
    ctx.log(`  wrote ${writeResult(r)}`);
    results.push(r);
  }
  // The summary and chart cover every result on disk, so running one benchmark alone keeps the others'.
  const onDisk = readdirSync(RESULTS_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(path.join(RESULTS_DIR, f), 'utf8')) as BenchResult);
  const table = markdownTable(onDisk);
  writeFileSync(path.join(RESULTS_DIR, 'summary.md'), `${table}\n`);
  writeFileSync(path.join(RESULTS_DIR, 'chart.svg'), svgChart(onDisk));
  process.stdout.write(`${table}\n\n(${((performance.now() - t0) / 60000).toFixed(1)} min)\n`);
  return 0;
}

main().then(
  (c) => process.exit(c),
  (e: unknown) => {
    process.stderr.write(`error: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
