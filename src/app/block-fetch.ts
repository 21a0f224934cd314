/**
 * Downloads a model's manifest and one stage's blocks, verifying every file against the sha256 the
 * manifest gives before it is used. (Caching in IndexedDB and peer-to-peer delivery come later and
 * slot in here.)
 */
import { type FileRef, type Manifest, parseManifest } from '../core/graph/manifest';

export interface FetchProgress {
  readonly loadedBytes: number;
  readonly totalBytes: number;
  readonly filesDone: number;
  readonly filesTotal: number;
}

export async function fetchManifest(base: string): Promise<Manifest> {
  const url = new URL('manifest.json', base).href;
  const res = await fetch(url);
  if (!res.ok) throw new Error(`model not found: ${url} answered ${res.status} ${res.statusText}`);
  let json: unknown;
  try {
    json = await res.json();
  } catch {
    throw new Error(`${url} is not JSON`);
  }
  return parseManifest(json, url);
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function fetchVerified(base: string, ref: FileRef, onBytes: (n: number) => void): Promise<Uint8Array> {
  const url = new URL(ref.file, base).href;
  const res = await fetch(url);
  if (!res.ok || !res.body) throw new Error(`${url} answered ${res.status} ${res.statusText}`);
  const out = new Uint8Array(ref.bytes);
  let at = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (at + value.length > out.length)
      throw new Error(`${ref.file} is larger than the manifest says (${ref.bytes} bytes)`);
    out.set(value, at);
    at += value.length;
    onBytes(value.length);
  }
  if (at !== ref.bytes) throw new Error(`${ref.file} is truncated: ${at} of ${ref.bytes} bytes`);
  const hash = await sha256Hex(out);
  if (hash !== ref.sha256)
    throw new Error(`${ref.file} failed its sha256 check (corrupt download): got ${hash}`);
  return out;
}

export interface StageFiles {
  readonly graphs: Uint8Array[];
  readonly weights: Record<string, Uint8Array>;
}

export async function fetchStageFiles(
  base: string,
  manifest: Manifest,
  first: number,
  last: number,
  onProgress: (p: FetchProgress) => void,
): Promise<StageFiles> {
  const blocks = manifest.blocks.slice(first, last + 1);
  const refs = blocks.flatMap((b) => (b.weights ? [b.graph, b.weights] : [b.graph]));
  const totalBytes = refs.reduce((s, r) => s + r.bytes, 0);
  let loadedBytes = 0;
  let filesDone = 0;
  const report = () => onProgress({ loadedBytes, totalBytes, filesDone, filesTotal: refs.length });
  report();
  const graphs: Uint8Array[] = [];
  const weights: Record<string, Uint8Array> = {};
  for (const b of blocks) {
    for (const ref of b.weights ? [b.graph, b.weights] : [b.graph]) {
      const bytes = await fetchVerified(base, ref, (n) => {
        loadedBytes += n;
        report();
      });
      if (ref === b.graph) graphs.push(bytes);
      else weights[ref.file] = bytes;
      filesDone++;
      report();
    }
  }
  return { graphs, weights };
}
