/**
 * `npx tsx tools/gen-model/check.ts <model-dir> [--dtype fp32|q4] [--threads 1] [--prompt 16] [--tokens 32] [--shard [--shard-out <dir>]]`
 *
 * Checks a generated model at full size in onnxruntime-node: load time, prefill and per-token decode
 * time through the KV cache, finite logits; with --shard, cuts it into blocks and checks that a
 * two-stage split in the middle reproduces the whole model's logits.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runStages } from '../../src/core/pipeline/local-pipeline';
import { stepInputs } from '../../src/core/pipeline/model-inputs';
import { lastLogitsRow } from '../../src/core/pipeline/stage-runner';
import { median } from '../../src/core/stats';
import { runCli } from '../cli';
import { shardModel } from '../shard/shard-model';
import { openStage } from '../shard/stage-files';
import { greedyWithCache, loadModel, maxAbsDiff } from './decode';
import { onnxBaseName } from './generate';
import type { Dtype } from './shapes';

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      dtype: { type: 'string' },
      threads: { type: 'string' },
      prompt: { type: 'string' },
      tokens: { type: 'string' },
      shard: { type: 'boolean' },
      'shard-out': { type: 'string' },
    },
  });
  const dir = positionals[0];
  if (!dir) throw new Error('give the generated model folder (e.g. .models/smol-135m)');
  const dtype = (values.dtype ?? 'q4') as Dtype;
  const threads = Number(values.threads ?? 1);
  const promptLen = Number(values.prompt ?? 16);
  const steps = Number(values.tokens ?? 32);
  const onnxFile = path.join(dir, 'onnx', `${onnxBaseName(dtype)}.onnx`);
  // Arbitrary ids below every preset's vocabulary.
  const prompt = Array.from({ length: promptLen }, (_, i) => (i * 37 + 1) % 500);

  const t0 = performance.now();
  const m = await loadModel(onnxFile, { threads });
  const loadMs = performance.now() - t0;
  await greedyWithCache(m, prompt.slice(0, 4), 2); // warm-up: first runs allocate and plan
  const run = await greedyWithCache(m, prompt, steps);
  const finite = run.rows.every((r) => r.every(Number.isFinite));
  const decode = median(run.decodeMs);
  process.stdout.write(
    `${path.basename(path.resolve(dir))} ${dtype}, ${threads} thread(s): load ${loadMs.toFixed(0)} ms, ` +
      `prefill ${promptLen} tokens ${run.prefillMs.toFixed(1)} ms, decode median ${decode.toFixed(2)} ms/token ` +
      `(${(1000 / decode).toFixed(1)} tokens/s, min ${Math.min(...run.decodeMs).toFixed(2)}, max ${Math.max(...run.decodeMs).toFixed(2)}), ` +
      `logits finite: ${finite}, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB\n`,
  );
  await m.session.release();
  if (!finite) return 1;
  if (!values.shard) return 0;

  const out = values['shard-out'] ?? mkdtempSync(path.join(tmpdir(), 'chorus-gen-check-'));
  const t1 = performance.now();
  const manifest = await shardModel(dir, out, dtype);
  const layers = manifest.blocks.filter((b) => b.kind === 'layer').length;
  process.stdout.write(
    `sharded in ${(performance.now() - t1).toFixed(0)} ms: ${manifest.blocks.length} blocks ` +
      `(${layers} layers + ${manifest.blocks.length - layers}), ${manifest.totals.params.toLocaleString('en-US')} stored parameters\n`,
  );
  const cut = Math.floor(manifest.blocks.length / 2);
  const stages = [
    await openStage(out, manifest, 0, cut - 1, { threads }),
    await openStage(out, manifest, cut, manifest.blocks.length - 1, { threads }),
  ];
  const dataSpecs = manifest.inputs.filter((s) => !s.name.startsWith('past'));
  let worst = 0;
  let ids = prompt;
  let seen = 0;
  const chainSteps = Math.min(steps, 8);
  for (let step = 0; step <= chainSteps; step++) {
    const res = await runStages(stages, 'r', step, stepInputs(dataSpecs, ids, seen));
    seen += ids.length;
    worst = Math.max(worst, maxAbsDiff(run.rows[step]!, lastLogitsRow(res.logits!)));
    ids = [run.tokens[step]!];
  }
  for (const s of stages) await s.close();
  process.stdout.write(
    `2 stages [0..${cut - 1}] [${cut}..${manifest.blocks.length - 1}], ${chainSteps + 1} steps: worst max abs diff ${worst}\n`,
  );
  return worst <= 1e-5 ? 0 : 1;
}

runCli(main);
