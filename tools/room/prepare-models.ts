/**
 * Turns model folders into servable shard folders under .chorus/shards/<name>/, sharding only when the
 * source changed since last time (a stamp of the source files' sizes and mtimes).
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ModelMount } from '../../signaling-server/server';
import { locateModel, shardModel } from '../shard/shard-model';

export const REPO = path.resolve(import.meta.dirname, '../..');
export const SHARDS_DIR = path.join(REPO, '.chorus', 'shards');
/** The embedded default model (see public/models/): what `npm start` and `npm run room` use. */
export const DEFAULT_MODEL = path.join(REPO, 'public', 'models', 'chorus-kjv');

function stampOf(root: string, onnx: string): string {
  const files = [onnx, ...readdirSync(root).map((f) => path.join(root, f))].filter((f) =>
    statSync(f).isFile(),
  );
  const dataDir = path.dirname(onnx);
  for (const f of readdirSync(dataDir)) if (/\.(onnx_data|data)$/.test(f)) files.push(path.join(dataDir, f));
  return JSON.stringify(
    [...new Set(files)].sort().map((f) => [path.basename(f), statSync(f).size, statSync(f).mtimeMs]),
  );
}

export async function prepareModel(
  input: string,
  log: (line: string) => void = () => {},
  dtype?: string,
): Promise<ModelMount> {
  const loc = locateModel(input, dtype);
  const name = dtype ? `${loc.name}-${dtype}` : loc.name;
  const dir = path.join(SHARDS_DIR, name);
  const stampFile = path.join(dir, 'source-stamp.json');
  const stamp = stampOf(loc.root, loc.onnx);
  if (!existsSync(stampFile) || readFileSync(stampFile, 'utf8') !== stamp) {
    const t0 = performance.now();
    const m = await shardModel(input, dir, dtype);
    writeFileSync(stampFile, stamp);
    log(`sharded ${name} into ${m.blocks.length} blocks in ${(performance.now() - t0).toFixed(0)} ms`);
  }
  return { name, dir };
}
