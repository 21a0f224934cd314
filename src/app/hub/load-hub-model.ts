/**
 * Opens a model straight from a Hugging Face repo in the leader's tab: fetch the repo listing, the
 * configs, the tokenizer and the dtype's graph; partition it (analyzeModel is pure, so it runs in the
 * browser); emit the blocks. No weight byte is downloaded when the graph keeps its weights in
 * external data: each block's weights become byte ranges of the hub's data file (remote-layout.ts)
 * and every phone fetches only its own ranges, from the hub, at a commit-pinned URL.
 *
 * When the graph holds its weights inline (no external data), the leader has read them anyway: its
 * blocks are hashed like a sharded model's and the leader serves them (`blockSource: 'leader'`).
 * Block graphs are always made here, so they are always served by the leader too (a few KB each).
 *
 * Errors name the model and what is wrong: unknown/private repo, a dtype the repo lacks (with the
 * ones it has), a graph referring to data files the repo does not have, a hub ignoring Range.
 */
import { analyzeModel } from '../../core/graph/analyze';
import { buildManifest, type WrittenBlock } from '../../core/graph/build-manifest';
import { emitBlocks, type WeightSource } from '../../core/graph/emit-blocks';
import type { FileRef, Manifest } from '../../core/graph/manifest';
import { sha256Hex } from '../../core/sha256';
import { type FetchFn, fetchRange } from '../delivery/remote-ranges';
import {
  checkModelId,
  dtypesIn,
  graphPathFor,
  HubError,
  hubModelUrls,
  MODEL_JSON_FILES,
  resolveUrl,
} from './hub-urls';
import { externalLocation, type RemoteDataFile, remoteBlock } from './remote-layout';

export interface HubModel {
  readonly manifest: Manifest;
  /** What the leader serves to phones by name: block graphs, leader-held weights, manifest.json. */
  readonly files: ReadonlyMap<string, Uint8Array>;
  readonly tokenizer: unknown;
  readonly tokenizerConfig: unknown;
  /** 'hub': phones fetch weight ranges from the hub; 'leader': weights were inline, the leader serves them. */
  readonly weightsFrom: 'hub' | 'leader';
  /** Bytes the leader downloaded (configs, tokenizer, graph). */
  readonly bytesDownloaded: number;
}

interface Sibling {
  readonly rfilename: string;
  readonly size?: number;
  readonly lfs?: { readonly size?: number };
}

export interface HubLoadOptions {
  /** A line per step, for the leader's status text. */
  readonly onStatus?: (line: string) => void;
}

async function get(fetchFn: FetchFn, url: string, what: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetchFn(url);
  } catch (e) {
    throw new HubError(
      `cannot reach ${new URL(url).origin} for ${what}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  return res;
}

export async function loadHubModel(
  hubBase: string,
  modelId: string,
  dtype: string,
  fetchFn: FetchFn = fetch,
  options: HubLoadOptions = {},
): Promise<HubModel> {
  const id = checkModelId(modelId);
  const graphPath = graphPathFor(dtype);
  const status = options.onStatus ?? (() => {});
  let downloaded = 0;

  status(`looking up ${id}`);
  const listing = await get(fetchFn, `${hubModelUrls(hubBase, id, dtype).api}?blobs=true`, id);
  if (listing.status === 404 || listing.status === 401) {
    throw new HubError(
      `no model ${id} on ${new URL(hubBase).host} (${listing.status}): check the id; private or gated repos are not supported`,
    );
  }
  if (!listing.ok) throw new HubError(`${id}: the hub answered ${listing.status} ${listing.statusText}`);
  const info = (await listing.json().catch(() => null)) as { sha?: unknown; siblings?: unknown } | null;
  if (!info || !Array.isArray(info.siblings)) throw new HubError(`${id}: the hub's answer lists no files`);
  const siblings = new Map(
    (info.siblings as Sibling[]).filter((s) => typeof s?.rfilename === 'string').map((s) => [s.rfilename, s]),
  );
  if (!siblings.has(graphPath)) {
    const have = dtypesIn(siblings.keys());
    throw new HubError(
      have.length > 0
        ? `model ${id} has no ${graphPath}; it provides: ${have.join(', ')}`
        : `model ${id} has no ONNX decoder graph under onnx/ (is it an onnx-community style export?)`,
    );
  }
  const revision = typeof info.sha === 'string' && /^[0-9a-f]{40}$/.test(info.sha) ? info.sha : 'main';
  const urls = hubModelUrls(hubBase, id, dtype, revision);

  const fetchFile = async (path: string): Promise<Uint8Array> => {
    const res = await get(fetchFn, resolveUrl(urls.resolveBase, path), `${id}/${path}`);
    if (!res.ok) throw new HubError(`${id}/${path}: the hub answered ${res.status} ${res.statusText}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    downloaded += bytes.length;
    return bytes;
  };
  const json = async (
    path: string,
  ): Promise<{ bytes: Uint8Array; value: Record<string, unknown> } | null> => {
    if (!siblings.has(path)) return null;
    const bytes = await fetchFile(path);
    try {
      return { bytes, value: JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown> };
    } catch {
      throw new HubError(`${id}/${path} is not valid JSON`);
    }
  };
  status(`fetching ${id} configs and tokenizer`);
  const [config, genai, generation, tokenizer, tokenizerConfig] = await Promise.all(
    MODEL_JSON_FILES.map(json),
  );
  status(`fetching ${id}/${graphPath}`);
  const graph = await fetchFile(graphPath);
  const analysis = analyzeModel(graph, `${id}/${graphPath}`);

  // The external-data files the graph names, relative to the graph's folder, with their sizes.
  const folder = graphPath.slice(0, graphPath.lastIndexOf('/') + 1);
  const dataFiles = new Map<string, RemoteDataFile>();
  for (const t of analysis.index.initializers.values()) {
    const ext = externalLocation(t);
    if (!ext || dataFiles.has(ext.location)) continue;
    const path = folder + ext.location;
    if (ext.location.includes('..') || !siblings.has(path)) {
      throw new HubError(`${id}/${graphPath} keeps weights in ${ext.location}, but the repo has no ${path}`);
    }
    dataFiles.set(ext.location, {
      url: resolveUrl(urls.resolveBase, path),
      bytes: await dataFileSize(fetchFn, urls.resolveBase, path, siblings.get(path)!),
    });
  }

  const weightsFrom = dataFiles.size > 0 ? 'hub' : 'leader';
  const files = new Map<string, Uint8Array>();
  const ref = async (file: string, bytes: Uint8Array): Promise<FileRef> => {
    files.set(file, bytes);
    return { file, sha256: await sha256Hex(bytes), bytes: bytes.length };
  };
  // Weights stay where they are: emitBlocks only needs bytes of the right length to lay blocks out.
  const layoutOnly: WeightSource = { read: async (_location, _offset, length) => new Uint8Array(length) };
  const inlineOnly: WeightSource = {
    read: async (location) => {
      throw new HubError(`${id}/${graphPath}: unexpected external data ${location}`);
    },
  };
  const written: WrittenBlock[] = [];
  let blocksDone = 0;
  for await (const b of emitBlocks(analysis, weightsFrom === 'hub' ? layoutOnly : inlineOnly)) {
    const { graph: g, weights: w, ...block } = b;
    if (weightsFrom === 'hub') {
      const r = remoteBlock(analysis, b, dataFiles);
      written.push({ block, graph: await ref(b.graphFile, r.graph), weights: r.weights });
    } else {
      written.push({
        block,
        graph: await ref(b.graphFile, g),
        weights: w && b.weightsFile ? await ref(b.weightsFile, w) : null,
      });
    }
    status(`partitioned ${++blocksDone} of ${analysis.partition.blocks.length} blocks`);
  }
  const built = buildManifest(analysis, written, {
    name: `${id} (${dtype})`,
    source: { file: graphPath, bytes: graph.length },
    config: config?.value ?? genai?.value ?? null,
    generationConfig: generation?.value ?? null,
    tokenizer: tokenizer ? await ref('tokenizer.json', tokenizer.bytes) : null,
    tokenizerConfig: tokenizerConfig ? await ref('tokenizer_config.json', tokenizerConfig.bytes) : null,
  });
  const manifest: Manifest = {
    ...built,
    blockSource: 'leader',
    hub: { base: hubBase, modelId: id, revision, dtype },
  };
  files.set('manifest.json', new TextEncoder().encode(JSON.stringify(manifest)));
  return {
    manifest,
    files,
    tokenizer: tokenizer?.value ?? null,
    tokenizerConfig: tokenizerConfig?.value ?? null,
    weightsFrom,
    bytesDownloaded: downloaded,
  };
}

/**
 * A data file's size: from the listing when the hub gave it, else from a one-byte Range read (whose
 * Content-Range total is the size). The read also proves early that the hub honours Range requests,
 * which every phone depends on; a hub that does not is an error here, not on five phones later.
 */
async function dataFileSize(
  fetchFn: FetchFn,
  resolveBase: string,
  path: string,
  s: Sibling,
): Promise<number> {
  const url = resolveUrl(resolveBase, path);
  let total: number | null = null;
  const probe: FetchFn = async (input, init) => {
    const res = await fetchFn(input, init);
    const m = /\/(\d+)$/.exec(res.headers.get('Content-Range') ?? '');
    if (m) total = Number(m[1]);
    return res;
  };
  try {
    await fetchRange(url, 0, 1, { fetchFn: probe });
  } catch (e) {
    throw new HubError(`${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const listed = s.lfs?.size ?? s.size;
  const size = listed ?? total;
  if (size === null) throw new HubError(`${path}: the hub tells neither its size nor a Content-Range`);
  return size;
}
