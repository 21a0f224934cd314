/**
 * Shards a model folder (or a bare .onnx file) into blocks on disk: manifest.json, block-NNN.onnx
 * graphs and block-NNN.weights external data. Weights are read by byte range from the source's external
 * data files, one block at a time.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { analyzeModel } from '../../src/core/graph/analyze';
import { buildManifest, type WrittenBlock } from '../../src/core/graph/build-manifest';
import { emitBlocks, type WeightSource } from '../../src/core/graph/emit-blocks';
import type { FileRef, Manifest } from '../../src/core/graph/manifest';
import { ModelFormatError } from '../../src/core/graph/onnx-proto';

export interface ModelLocation {
  /** Folder with config.json, tokenizer.json, ... (the .onnx's folder for bare exports). */
  root: string;
  onnx: string;
  name: string;
}

/** Finds the graph file: `onnx/model.onnx` (or `onnx/model_<dtype>.onnx`), or a lone top-level .onnx. */
export function locateModel(input: string, dtype?: string): ModelLocation {
  if (!existsSync(input)) throw new ModelFormatError(`${input}: no such file or folder`);
  if (statSync(input).isFile()) {
    const dir = path.dirname(path.resolve(input));
    const root = path.basename(dir) === 'onnx' ? path.dirname(dir) : dir;
    return { root, onnx: path.resolve(input), name: path.basename(root) };
  }
  const root = path.resolve(input);
  const wanted = dtype && dtype !== 'fp32' ? `model_${dtype}.onnx` : 'model.onnx';
  const candidates = [path.join(root, 'onnx', wanted), path.join(root, wanted)];
  for (const c of candidates) if (existsSync(c)) return { root, onnx: c, name: path.basename(root) };
  const top = readdirSync(root).filter((f) => f.endsWith('.onnx'));
  if (!dtype && top.length === 1) return { root, onnx: path.join(root, top[0]!), name: path.basename(root) };
  throw new ModelFormatError(
    `${input}: found no ONNX model (looked for ${candidates.map((c) => path.relative(root, c)).join(', ')}` +
      `${top.length > 1 ? `; several .onnx files at the top: ${top.join(', ')}: name one` : ''})`,
  );
}

function fileWeightSource(dir: string): WeightSource {
  return {
    async read(location, offset, length) {
      if (location.includes('..') || path.isAbsolute(location)) {
        throw new ModelFormatError(`external data location ${location} points outside ${dir}`);
      }
      const file = path.join(dir, location);
      if (!existsSync(file)) throw new ModelFormatError(`${file}: external data file is missing`);
      const fd = openSync(file, 'r');
      try {
        const out = new Uint8Array(length);
        let got = 0;
        while (got < length) {
          const n = readSync(fd, out, got, length - got, offset + got);
          if (n === 0) break;
          got += n;
        }
        return got === length ? out : out.subarray(0, got);
      } finally {
        closeSync(fd);
      }
    },
  };
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function writeRef(outDir: string, file: string, bytes: Uint8Array): Promise<FileRef> {
  await writeFile(path.join(outDir, file), bytes);
  return { file, sha256: sha256(bytes), bytes: bytes.length };
}

async function readJson(file: string): Promise<Record<string, unknown> | null> {
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new ModelFormatError(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

export async function shardModel(input: string, outDir: string, dtype?: string): Promise<Manifest> {
  const loc = locateModel(input, dtype);
  const graphBytes = await readFile(loc.onnx);
  const analysis = analyzeModel(graphBytes, loc.onnx);
  await mkdir(outDir, { recursive: true });
  const written: WrittenBlock[] = [];
  for await (const b of emitBlocks(analysis, fileWeightSource(path.dirname(loc.onnx)))) {
    const graph = await writeRef(outDir, b.graphFile, b.graph);
    const weights = b.weights && b.weightsFile ? await writeRef(outDir, b.weightsFile, b.weights) : null;
    const { graph: _g, weights: _w, ...rest } = b;
    written.push({ block: rest, graph, weights });
  }
  const copy = async (name: string) => {
    const src = path.join(loc.root, name);
    return existsSync(src) ? writeRef(outDir, name, await readFile(src)) : null;
  };
  const genai = await readJson(path.join(loc.root, 'genai_config.json'));
  const manifest = buildManifest(analysis, written, {
    name: loc.name,
    source: { file: path.relative(loc.root, loc.onnx), bytes: graphBytes.length },
    config: (await readJson(path.join(loc.root, 'config.json'))) ?? genai,
    generationConfig: await readJson(path.join(loc.root, 'generation_config.json')),
    tokenizer: await copy('tokenizer.json'),
    tokenizerConfig: await copy('tokenizer_config.json'),
  });
  await writeFile(path.join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  return manifest;
}
