/**
 * Test page for the IndexedDB block store: exposes `window.blockStoreTest`, which the browser test
 * drives through page.evaluate with plain JSON in and out. Block bytes are made from a seed so the
 * test can tell after a reload that they are the same bytes. Corruption is written with the raw
 * IndexedDB API, underneath the adapter, as a crash or a disk error would leave it.
 */
import { DATA_DB, DATA_STORE, IdbBackend, openIdbBlockStore } from '../../src/adapters/store/idb-block-store';
import type { BlockStore, CachedModel, PutResult, StoreUsage } from '../../src/core/block-store';
import { sha256Hex } from '../../src/core/sha256';

export interface BlockStorePageApi {
  open(prefix: string, quota: number | null): void;
  /** Puts the block made from `seed`; returns its sha256 and what the store did. */
  put(
    seed: number,
    length: number,
    model: string,
    file: string,
    pinned?: string[],
  ): Promise<PutResult & { sha: string }>;
  get(sha: string): Promise<{ found: boolean; sha: string | null; corrupt: string[] }>;
  corrupt(sha: string, how: 'flip' | 'truncate' | 'string'): Promise<void>;
  list(): Promise<CachedModel[]>;
  usage(): Promise<StoreUsage>;
  clearModel(model: string): Promise<number>;
  clearAll(): Promise<void>;
  persistCalls(): number;
  storeWideCorruptReports(): [string, string][];
}

function bytesOf(seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Writes `value` as the stored block under `sha`, bypassing the adapter. */
function rawWrite(prefix: string, sha: string, value: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(prefix + DATA_DB);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction(DATA_STORE, 'readwrite');
      tx.objectStore(DATA_STORE).put(value, sha);
      tx.oncomplete = () => {
        open.result.close();
        resolve();
      };
      tx.onerror = () => reject(tx.error);
    };
  });
}

let store: BlockStore | null = null;
let prefix = '';
let persistCalls = 0;
const reports: [string, string][] = [];
const need = (): BlockStore => {
  if (!store) throw new Error('call open() first');
  return store;
};

const api: BlockStorePageApi = {
  open(p, quota) {
    prefix = p;
    const index = new IdbBackend(p);
    store = openIdbBlockStore({
      prefix: p,
      onCorrupt: (sha, reason) => reports.push([sha, reason]),
      persist: () => {
        persistCalls++;
        return navigator.storage.persist();
      },
      // A tiny pretend quota, with this store's own bytes as the usage, makes eviction testable.
      ...(quota === null
        ? {}
        : {
            estimate: async () => ({
              quota,
              usage: (await index.allIndex()).reduce((s, e) => s + e.bytes, 0),
            }),
          }),
    });
  },
  async put(seed, length, model, file, pinned = []) {
    const bytes = bytesOf(seed, length);
    const sha = await sha256Hex(bytes);
    return { sha, ...(await need().put(sha, bytes, { model, file }, { pinned: new Set(pinned) })) };
  },
  async get(sha) {
    const corrupt: string[] = [];
    const bytes = await need().get(sha, (reason) => corrupt.push(reason));
    return { found: bytes !== null, sha: bytes ? await sha256Hex(bytes) : null, corrupt };
  },
  async corrupt(sha, how) {
    const bytes = (await new IdbBackend(prefix).readData(sha)) as Uint8Array;
    const value =
      how === 'string'
        ? 'not a block'
        : how === 'truncate'
          ? bytes.slice(0, bytes.length >> 1)
          : Uint8Array.from(bytes, (b, i) => (i === 1234 % bytes.length ? b ^ 0x10 : b));
    await rawWrite(prefix, sha, value);
  },
  list: () => need().list(),
  usage: () => need().usage(),
  clearModel: (model) => need().clearModel(model),
  clearAll: () => need().clearAll(),
  persistCalls: () => persistCalls,
  storeWideCorruptReports: () => reports,
};

declare global {
  interface Window {
    blockStoreTest?: BlockStorePageApi;
  }
}

window.blockStoreTest = api;
