/**
 * Generates a model folder in the Hugging Face / onnx-community layout:
 *
 *   config.json, generation_config.json, README.md
 *   onnx/model.onnx + onnx/model.onnx_data          (fp32)
 *   onnx/model_q4.onnx + onnx/model_q4.onnx_data    (q4, MatMulNBits)
 *
 * Idempotent: `.gen-model.json` records what was generated from which parameters; a variant already
 * there with the same parameters (and its files at the recorded sizes) is skipped.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildLlama } from './llama-graph';
import {
  configJson,
  type Dtype,
  type GenOptions,
  generationConfigJson,
  paramCount,
  storedParamCount,
  validateShape,
} from './shapes';
import { type WrittenOnnx, writeOnnx } from './write-onnx';

/** Bump when the graph or the weights change, so stale folders regenerate. */
export const GENERATOR_VERSION = 1;
const STAMP = '.gen-model.json';

export const onnxBaseName = (dtype: Dtype): string => (dtype === 'fp32' ? 'model' : `model_${dtype}`);

interface Stamp {
  params: {
    version: number;
    shape: GenOptions['shape'];
    seed: number;
    blockSize: number;
    accuracyLevel: number | null;
  };
  outputs: Partial<Record<Dtype, { onnxBytes: number; dataBytes: number }>>;
}

export interface GeneratedVariant extends WrittenOnnx {
  dtype: Dtype;
  skipped: boolean;
  ms: number;
}

export interface GenerateResult {
  dir: string;
  params: number;
  storedParams: number;
  variants: GeneratedVariant[];
}

async function readStamp(dir: string): Promise<Stamp | null> {
  try {
    return JSON.parse(await readFile(path.join(dir, STAMP), 'utf8')) as Stamp;
  } catch {
    return null;
  }
}

const sizeOf = (file: string) => (existsSync(file) ? statSync(file).size : -1);

export async function generateModel(
  dir: string,
  opts: GenOptions,
  log: (msg: string) => void = () => {},
): Promise<GenerateResult> {
  validateShape(opts.shape);
  if (opts.accuracyLevel !== null && ![0, 1, 2, 3, 4].includes(opts.accuracyLevel)) {
    throw new Error(`accuracy level must be 0..4 (MatMulNBits), got ${opts.accuracyLevel}`);
  }
  if (opts.blockSize < 16 || (opts.blockSize & (opts.blockSize - 1)) !== 0) {
    throw new Error(`block size must be a power of two >= 16 (MatMulNBits), got ${opts.blockSize}`);
  }
  const onnxDir = path.join(dir, 'onnx');
  await mkdir(onnxDir, { recursive: true });
  const params: Stamp['params'] = {
    version: GENERATOR_VERSION,
    shape: opts.shape,
    seed: opts.seed,
    blockSize: opts.blockSize,
    accuracyLevel: opts.accuracyLevel,
  };
  const old = await readStamp(dir);
  const sameParams = old !== null && JSON.stringify(old.params) === JSON.stringify(params);
  if (old && !sameParams) {
    // Another shape or seed was generated here: drop its variants so no folder mixes two models.
    for (const d of Object.keys(old.outputs) as Dtype[]) {
      for (const ext of ['.onnx', '.onnx_data'])
        await rm(path.join(onnxDir, onnxBaseName(d) + ext), { force: true });
    }
  }
  const stamp: Stamp = { params, outputs: sameParams ? { ...old.outputs } : {} };

  const variants: GeneratedVariant[] = [];
  for (const dtype of opts.dtypes) {
    const name = onnxBaseName(dtype);
    const onnxFile = path.join(onnxDir, `${name}.onnx`);
    const dataFile = path.join(onnxDir, `${name}.onnx_data`);
    const had = stamp.outputs[dtype];
    if (had && sizeOf(onnxFile) === had.onnxBytes && sizeOf(dataFile) === had.dataBytes) {
      log(`${dtype}: up to date (${path.relative(dir, onnxFile)}), skipped`);
      variants.push({ dtype, skipped: true, ms: 0, onnxFile, dataFile, ...had });
      continue;
    }
    const t0 = performance.now();
    const graph = buildLlama({ ...opts, dtype });
    const opsets = [{ domain: '', version: 17 }];
    if (dtype === 'q4') opsets.push({ domain: 'com.microsoft', version: 1 });
    const written = await writeOnnx(graph, onnxDir, name, opsets);
    const ms = performance.now() - t0;
    stamp.outputs[dtype] = { onnxBytes: written.onnxBytes, dataBytes: written.dataBytes };
    await writeFile(path.join(dir, STAMP), `${JSON.stringify(stamp, null, 1)}\n`);
    log(
      `${dtype}: wrote ${path.relative(dir, onnxFile)} (${mb(written.onnxBytes)}) + data (${mb(written.dataBytes)}) in ${(ms / 1000).toFixed(1)} s`,
    );
    variants.push({ dtype, skipped: false, ms, ...written });
  }

  const have = (Object.keys(stamp.outputs) as Dtype[]).sort();
  await writeJson(
    path.join(dir, 'config.json'),
    configJson(opts.shape, have.includes('fp32') ? ['fp32'] : have),
  );
  await writeJson(path.join(dir, 'generation_config.json'), generationConfigJson(opts.shape));
  await writeFile(path.join(dir, 'README.md'), readme(opts, have));
  await writeFile(path.join(dir, STAMP), `${JSON.stringify(stamp, null, 1)}\n`);
  return { dir, params: paramCount(opts.shape), storedParams: storedParamCount(opts.shape), variants };
}

const writeJson = (file: string, v: unknown) => writeFile(file, `${JSON.stringify(v, null, 2)}\n`);
export const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

function readme(opts: GenOptions, dtypes: readonly Dtype[]): string {
  const s = opts.shape;
  return `# Random-weight Llama (generated, not a trained model)

Written by \`tools/gen-model\` (generator version ${GENERATOR_VERSION}, seed ${opts.seed}) for benchmarks:
the shapes of a real decoder, weights from a seeded generator (std 0.02), so its output is noise.

hidden ${s.hidden}, ${s.layers} layers, ${s.heads} heads, ${s.kvHeads} KV heads, head dim ${s.headDim},
MLP ${s.intermediate}, vocab ${s.vocab}; ${paramCount(s).toLocaleString('en-US')} parameters (LM head tied
to the embedding; the ONNX files store it as its own initializer).

Variants: ${dtypes.map((d) => `\`onnx/${onnxBaseName(d)}.onnx\``).join(', ')}${dtypes.includes('q4') ? ` (q4: MatMulNBits, block size ${opts.blockSize}, symmetric, accuracy_level ${opts.accuracyLevel ?? 'unset'})` : ''}.
No tokenizer: feed token ids.
`;
}
