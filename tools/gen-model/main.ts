/** `npx tsx tools/gen-model/main.ts --preset smol-135m [--dtype fp32|q4|both] [--out <dir>]` */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runCli } from '../cli';
import { generateModel, mb } from './generate';
import { type Dtype, type LlamaShape, PRESETS } from './shapes';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

const SHAPE_FLAGS = {
  hidden: 'hidden',
  layers: 'layers',
  heads: 'heads',
  'kv-heads': 'kvHeads',
  'head-dim': 'headDim',
  intermediate: 'intermediate',
  vocab: 'vocab',
} as const satisfies Record<string, keyof LlamaShape>;

const HELP = `Usage: npx tsx tools/gen-model/main.ts --preset <name> [options]

Writes a Llama-architecture decoder with random weights, in the onnx-community layout
(config.json, onnx/model.onnx + model.onnx_data, onnx/model_q4.onnx + model_q4.onnx_data),
with the KV-cache inputs and outputs of real exports. For benchmarks: its output is noise.

Presets:
${Object.entries(PRESETS)
  .map(
    ([n, s]) =>
      `  ${n.padEnd(10)} hidden ${s.hidden}, ${s.layers} layers, ${s.heads}/${s.kvHeads} heads, MLP ${s.intermediate}, vocab ${s.vocab}`,
  )
  .join('\n')}

Options:
  --preset <name>        shape to start from (default tiny)
  --dtype <fp32|q4|both> variants to write (default both)
  --out <dir>            output folder (default .models/<preset> at the repo root, git-ignored)
  --seed <n>             weight seed (default 1)
  --block-size <n>       MatMulNBits block size for q4 (default 32, as transformers.js quantizes)
  --accuracy-level <n>   MatMulNBits accuracy_level 0..4 (default: attribute left out, as
                         transformers.js quantizes; 4 = int8 compute, as onnxruntime-genai builds)
  --hidden, --layers, --heads, --kv-heads, --head-dim, --intermediate, --vocab <n>
                         override one dimension of the preset (head-dim defaults to hidden / heads)
  -h, --help

Already generated with the same parameters: skipped (see <out>/.gen-model.json).
`;

function positiveInt(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${flag} must be a positive integer, got ${v}`);
  return n;
}

async function main(): Promise<number> {
  const str = { type: 'string' } as const;
  const { values } = parseArgs({
    options: {
      preset: { type: 'string' },
      dtype: { type: 'string' },
      out: { type: 'string', short: 'o' },
      seed: { type: 'string' },
      'block-size': { type: 'string' },
      'accuracy-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      hidden: str,
      layers: str,
      heads: str,
      'kv-heads': str,
      'head-dim': str,
      intermediate: str,
      vocab: str,
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const preset = values.preset ?? 'tiny';
  const base = PRESETS[preset];
  if (!base) throw new Error(`unknown preset ${preset} (known: ${Object.keys(PRESETS).join(', ')})`);
  const shape: LlamaShape = { ...base };
  const overrides: string[] = [];
  for (const [flag, key] of Object.entries(SHAPE_FLAGS)) {
    const v = values[flag as keyof typeof SHAPE_FLAGS];
    if (typeof v !== 'string') continue;
    shape[key] = positiveInt(flag, v);
    overrides.push(`${flag}${v}`);
  }
  // A custom head count implies the usual head size unless one is given.
  if ((values.hidden || values.heads) && !values['head-dim']) {
    if (shape.hidden % shape.heads !== 0) {
      throw new Error(
        `hidden (${shape.hidden}) is not a multiple of heads (${shape.heads}): give --head-dim`,
      );
    }
    shape.headDim = shape.hidden / shape.heads;
  }
  const dtypeArg = values.dtype ?? 'both';
  if (!['fp32', 'q4', 'both'].includes(dtypeArg))
    throw new Error(`--dtype must be fp32, q4 or both, got ${dtypeArg}`);
  const dtypes: Dtype[] = dtypeArg === 'both' ? ['fp32', 'q4'] : [dtypeArg as Dtype];

  const seed = values.seed ? Number(values.seed) : 1;
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
  const blockSize = values['block-size'] ? positiveInt('block-size', values['block-size']) : 32;
  const accuracyLevel = values['accuracy-level'] === undefined ? null : Number(values['accuracy-level']);
  // Non-default choices name the default folder, so variants never overwrite each other.
  if (blockSize !== 32) overrides.push(`bs${blockSize}`);
  if (accuracyLevel !== null) overrides.push(`acc${accuracyLevel}`);
  if (seed !== 1) overrides.push(`seed${seed}`);
  const name = overrides.length ? `${preset}-${overrides.join('-')}` : preset;
  const out = path.resolve(values.out ?? path.join(REPO, '.models', name));

  const t0 = performance.now();
  const result = await generateModel(out, { shape, dtypes, blockSize, accuracyLevel, seed }, (m) =>
    process.stdout.write(`  ${m}\n`),
  );
  const total = result.variants.reduce((s, v) => s + v.onnxBytes + v.dataBytes, 0);
  process.stdout.write(
    `${name}: ${result.params.toLocaleString('en-US')} parameters (tied; ${result.storedParams.toLocaleString('en-US')} stored), ` +
      `${mb(total)} on disk → ${out} in ${((performance.now() - t0) / 1000).toFixed(1)} s, ` +
      `peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB\n`,
  );
  return 0;
}

runCli(main);
