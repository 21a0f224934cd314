/**
 * A model folder opened from the leader's own disk (a file picker with `webkitdirectory`, or a folder
 * dropped on the page): partitioned in the tab as tools/shard does on disk, every block hashed and
 * kept in memory for the leader to serve to the phones (`blockSource: 'leader'`, delivery/peer-blocks).
 * Weights are read as byte ranges of the File objects, one block at a time, so an external-data file
 * is never read whole at once; the finished blocks are kept, since the leader serves them.
 *
 * Paths are the folder's relative paths ('onnx/model_q4.onnx', 'config.json'); a common top folder
 * (what `webkitRelativePath` starts with) is stripped.
 */
import { analyzeModel } from '../../core/graph/analyze';
import { buildManifest, type WrittenBlock } from '../../core/graph/build-manifest';
import { emitBlocks, type WeightSource } from '../../core/graph/emit-blocks';
import type { FileRef, Manifest } from '../../core/graph/manifest';
import { ModelFormatError } from '../../core/graph/onnx-proto';
import { sha256Hex } from '../../core/sha256';
import { DTYPE_GRAPHS, graphPathFor, MODEL_JSON_FILES } from './hub-urls';

export interface LocalModel {
  readonly manifest: Manifest;
  /** Block graphs, block weights, tokenizer files and manifest.json, by name: what the leader serves. */
  readonly files: ReadonlyMap<string, Uint8Array>;
  readonly tokenizer: unknown;
  readonly tokenizerConfig: unknown;
}

/** Strips the top folder every path shares ('SmolLM2/onnx/model.onnx' → 'onnx/model.onnx'). */
function normalise(entries: ReadonlyMap<string, Blob>): { files: Map<string, Blob>; top: string | null } {
  const paths = [...entries.keys()].map((p) => p.replace(/^\/+/, ''));
  const first = paths[0]?.split('/')[0] ?? '';
  const top = first !== '' && paths.every((p) => p.startsWith(`${first}/`)) ? first : null;
  const blobs = [...entries.values()];
  return { files: new Map(paths.map((p, i) => [top ? p.slice(top.length + 1) : p, blobs[i]!])), top };
}

function findGraph(files: ReadonlyMap<string, Blob>, dtype: string | undefined): string {
  if (dtype) {
    const wanted = graphPathFor(dtype);
    const bare = wanted.slice('onnx/'.length);
    for (const p of [wanted, bare]) if (files.has(p)) return p;
    throw new ModelFormatError(`the folder has no ${wanted} (nor ${bare}) for dtype ${dtype}`);
  }
  const graphs = [...files.keys()].filter((p) => p.endsWith('.onnx'));
  for (const p of ['onnx/model.onnx', 'model.onnx']) if (graphs.includes(p)) return p;
  if (graphs.length === 1) return graphs[0]!;
  if (graphs.length === 0) throw new ModelFormatError('the folder holds no .onnx graph');
  const known = Object.values(DTYPE_GRAPHS);
  throw new ModelFormatError(
    `the folder holds several graphs (${graphs.join(', ')}); pick a dtype${
      graphs.some((g) => known.includes(g.split('/').pop()!)) ? '' : ' or leave only one'
    }`,
  );
}

export async function openLocalModel(
  entries: ReadonlyMap<string, Blob>,
  options: { dtype?: string; name?: string; onStatus?: (line: string) => void } = {},
): Promise<LocalModel> {
  const { files, top } = normalise(entries);
  const graphPath = findGraph(files, options.dtype);
  const status = options.onStatus ?? (() => {});
  const folder = graphPath.slice(0, graphPath.lastIndexOf('/') + 1);
  const graph = new Uint8Array(await files.get(graphPath)!.arrayBuffer());
  status(`partitioning ${graphPath}`);
  const analysis = analyzeModel(graph, graphPath);
  const source: WeightSource = {
    async read(location, offset, length) {
      const blob = location.includes('..') ? undefined : files.get(folder + location);
      if (!blob)
        throw new ModelFormatError(`${graphPath} keeps weights in ${location}, which is not in the folder`);
      return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    },
  };
  const out = new Map<string, Uint8Array>();
  const ref = async (file: string, bytes: Uint8Array): Promise<FileRef> => {
    out.set(file, bytes);
    return { file, sha256: await sha256Hex(bytes), bytes: bytes.length };
  };
  const written: WrittenBlock[] = [];
  for await (const b of emitBlocks(analysis, source)) {
    const { graph: g, weights: w, ...block } = b;
    written.push({
      block,
      graph: await ref(b.graphFile, g),
      weights: w && b.weightsFile ? await ref(b.weightsFile, w) : null,
    });
    status(`partitioned ${written.length} of ${analysis.partition.blocks.length} blocks`);
  }
  const readJson = async (path: string) => {
    const blob = files.get(path);
    if (!blob) return null;
    const bytes = new Uint8Array(await blob.arrayBuffer());
    try {
      return { bytes, value: JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown> };
    } catch {
      throw new ModelFormatError(`${path} is not valid JSON`);
    }
  };
  const [config, genai, generation, tokenizer, tokenizerConfig] = await Promise.all(
    MODEL_JSON_FILES.map(readJson),
  );
  const built = buildManifest(analysis, written, {
    name: options.name ?? top ?? 'local model',
    source: { file: graphPath, bytes: graph.length },
    config: config?.value ?? genai?.value ?? null,
    generationConfig: generation?.value ?? null,
    tokenizer: tokenizer ? await ref('tokenizer.json', tokenizer.bytes) : null,
    tokenizerConfig: tokenizerConfig ? await ref('tokenizer_config.json', tokenizerConfig.bytes) : null,
  });
  const manifest: Manifest = { ...built, blockSource: 'leader' };
  out.set('manifest.json', new TextEncoder().encode(JSON.stringify(manifest)));
  return {
    manifest,
    files: out,
    tokenizer: tokenizer?.value ?? null,
    tokenizerConfig: tokenizerConfig?.value ?? null,
  };
}
