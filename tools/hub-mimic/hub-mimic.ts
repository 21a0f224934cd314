/**
 * A local stand-in for the Hugging Face hub (there is no internet here): the URL layout, status codes
 * and Range behaviour the hub loader relies on, over the shared test model folders.
 *   GET /api/models/<id>[?blobs=true]        { id, sha, siblings: [{ rfilename, size?, lfs? }] }
 *   GET|HEAD /<id>/resolve/<rev>/<path>      the file; `Range: bytes=a-b` → 206 + Content-Range,
 *                                            unsatisfiable → 416; ETag (sha256 for LFS-like files,
 *                                            as the hub does), X-Repo-Commit; rev = main or the sha
 * Unknown repos answer 404 {"error":"Repository not found"}, missing files 404 {"error":"Entry not
 * found"}, like the hub. CORS is open (the app is cross-origin isolated and fetches the hub in CORS
 * mode) and Content-Range/ETag are exposed. Every request and the body bytes sent are recorded, so
 * tests can count what a phone moved.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface MimicModel {
  /** e.g. onnx-community/stories260k */
  readonly id: string;
  readonly dir: string;
  /** Repo path → path under `dir`. Default: every file of `dir`, at its relative path. */
  readonly files?: Readonly<Record<string, string>>;
}

export interface MimicRequest {
  readonly method: string;
  readonly path: string;
  readonly range: string | null;
  status: number;
  /** Body bytes sent so far. */
  bytes: number;
}

export interface HubMimic {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  readonly requests: MimicRequest[];
  bytesServed(filter?: (r: MimicRequest) => boolean): number;
  resetStats(): void;
  /** The commit sha the API reports for a model. */
  revisionOf(id: string): string;
  close(): Promise<void>;
}

interface Repo {
  readonly sha: string;
  readonly files: ReadonlyMap<string, string>;
}

/** Files the hub would keep in LFS: weights and graphs (their ETag is the content's sha256). */
const LFS = /\.(onnx|onnx_data|data|bin|safetensors)$|_data_\d+$/;

function walk(dir: string, prefix = ''): [string, string][] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const rel = prefix + e.name;
    const abs = path.join(dir, e.name);
    return e.isDirectory() ? walk(abs, `${rel}/`) : [[rel, abs] as [string, string]];
  });
}

const hashes = new Map<string, string>();
function fileSha256(file: string): string {
  let h = hashes.get(file);
  if (!h) {
    h = createHash('sha256').update(readFileSync(file)).digest('hex');
    hashes.set(file, h);
  }
  return h;
}

function repoOf(m: MimicModel): Repo {
  const entries = m.files
    ? Object.entries(m.files).map(([repoPath, rel]) => [repoPath, path.join(m.dir, rel)] as [string, string])
    : walk(m.dir);
  const files = new Map(entries.sort(([a], [b]) => a.localeCompare(b)));
  const digest = createHash('sha1');
  for (const [p, abs] of files) digest.update(`${p}:${statSync(abs).size}\n`);
  return { sha: digest.digest('hex'), files };
}

/** Parses one `bytes=` range against a size; null = not satisfiable, 'whole' = serve everything. */
function parseRange(header: string | undefined, size: number): [number, number] | 'whole' | null {
  if (!header) return 'whole';
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'whole'; // multi-range or odd syntax: ignore Range
  if (m[1] === '') {
    const n = Number(m[2]);
    return n === 0 ? null : [Math.max(0, size - n), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return start >= size || end < start ? null : [start, end];
}

export async function startHubMimic(opts: {
  models: readonly MimicModel[];
  host?: string;
  port?: number;
}): Promise<HubMimic> {
  const repos = new Map(opts.models.map((m) => [m.id, repoOf(m)]));
  const requests: MimicRequest[] = [];

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://mimic');
    const range = req.headers.range ?? null;
    // Recorded up front and updated as bytes leave, so counts are right the moment a client has them.
    const entry: MimicRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      range,
      status: 0,
      bytes: 0,
    };
    requests.push(entry);
    const record = () => {
      entry.status = res.statusCode;
    };
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader(
      'Access-Control-Expose-Headers',
      'Content-Range, Content-Length, ETag, X-Repo-Commit, Accept-Ranges',
    );
    res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    const json = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'Content-Type': 'application/json' });
      entry.bytes = Buffer.byteLength(text);
      res.end(text);
      record();
    };
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'Access-Control-Allow-Headers': 'Range',
        'Access-Control-Allow-Methods': 'GET, HEAD',
      });
      res.end();
      return record();
    }
    const segments = url.pathname.split('/').slice(1).map(decodeURIComponent);
    if (segments[0] === 'api' && segments[1] === 'models') {
      const id = segments.slice(2).join('/');
      const repo = repos.get(id);
      if (!repo) return json(404, { error: 'Repository not found' });
      const blobs = url.searchParams.get('blobs') === 'true';
      const siblings = [...repo.files].map(([rfilename, abs]) => {
        if (!blobs) return { rfilename };
        const size = statSync(abs).size;
        return LFS.test(rfilename)
          ? { rfilename, size, lfs: { sha256: fileSha256(abs), size } }
          : { rfilename, size };
      });
      return json(200, { id, modelId: id, sha: repo.sha, siblings });
    }
    const at = segments.indexOf('resolve');
    const repo = at > 0 ? repos.get(segments.slice(0, at).join('/')) : undefined;
    if (!repo) return json(404, { error: 'Repository not found' });
    const rev = segments[at + 1];
    if (rev !== 'main' && rev !== repo.sha) return json(404, { error: 'Revision Not Found' });
    const file = repo.files.get(segments.slice(at + 2).join('/'));
    if (!file) return json(404, { error: 'Entry not found' });
    const size = statSync(file).size;
    const rel = segments.slice(at + 2).join('/');
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('X-Repo-Commit', repo.sha);
    res.setHeader('ETag', `"${LFS.test(rel) ? fileSha256(file) : repo.sha}"`);
    res.setHeader('Content-Type', 'application/octet-stream');
    const r = parseRange(range ?? undefined, size);
    if (r === null) {
      res.writeHead(416, { 'Content-Range': `bytes */${size}` });
      res.end();
      return record();
    }
    const [start, end] = r === 'whole' ? [0, size - 1] : r;
    res.writeHead(r === 'whole' ? 200 : 206, {
      'Content-Length': String(end - start + 1),
      ...(r === 'whole' ? {} : { 'Content-Range': `bytes ${start}-${end}/${size}` }),
    });
    if (req.method === 'HEAD' || size === 0) {
      res.end();
      return record();
    }
    const stream = createReadStream(file, { start, end });
    record();
    stream.on('data', (chunk) => {
      entry.bytes += chunk.length;
    });
    stream.on('error', () => res.destroy());
    res.on('close', () => stream.destroy()); // a client that aborts stops the read
    stream.pipe(res);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    requests,
    bytesServed: (filter) => requests.filter(filter ?? (() => true)).reduce((s, r) => s + r.bytes, 0),
    resetStats: () => void requests.splice(0),
    revisionOf: (id) => repos.get(id)?.sha ?? '',
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
