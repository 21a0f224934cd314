/**
 * A BlockStore over Maps: for Node tests, and for browsers where IndexedDB is unavailable (some private
 * modes), so a phone still works, only without a cache across reloads.
 */
import { CachingBlockStore, type IndexEntry, type StoreBackend, type StoreOptions } from './block-store';

/** Maps as storage: for Node tests and for browsers without IndexedDB (private modes). */
export class MemoryBackend implements StoreBackend {
  readonly data = new Map<string, unknown>();
  readonly index = new Map<string, IndexEntry>();
  readonly aliases = new Map<string, string>();
  async readData(sha256: string): Promise<unknown> {
    return this.data.get(sha256);
  }
  async writeData(sha256: string, bytes: Uint8Array): Promise<void> {
    this.data.set(sha256, bytes.slice());
  }
  async deleteData(sha256: string): Promise<void> {
    this.data.delete(sha256);
  }
  async readIndex(sha256: string): Promise<IndexEntry | undefined> {
    return this.index.get(sha256);
  }
  async writeIndex(entry: IndexEntry): Promise<void> {
    this.index.set(entry.sha256, entry);
  }
  async deleteIndex(sha256: string): Promise<void> {
    this.index.delete(sha256);
  }
  async allIndex(): Promise<IndexEntry[]> {
    return [...this.index.values()];
  }
  async readAlias(key: string): Promise<string | undefined> {
    return this.aliases.get(key);
  }
  async writeAlias(key: string, sha256: string): Promise<void> {
    this.aliases.set(key, sha256);
  }
  async clear(): Promise<void> {
    this.data.clear();
    this.index.clear();
    this.aliases.clear();
  }
}

export interface MemoryStoreOptions extends Omit<StoreOptions, 'estimate'> {
  /** Pretend quota: the store's own bytes count as the usage. Unlimited when absent. */
  readonly quotaBytes?: number;
}

export class MemoryBlockStore extends CachingBlockStore {
  /** The maps behind the store: tests corrupt or inspect entries through it. */
  readonly memory: MemoryBackend;
  constructor(options: MemoryStoreOptions = {}, backend = new MemoryBackend()) {
    const quota = options.quotaBytes;
    super(backend, {
      ...options,
      reserveFraction: options.reserveFraction ?? 0,
      ...(quota === undefined
        ? {}
        : {
            estimate: async () => ({
              quota,
              usage: [...backend.index.values()].reduce((s, e) => s + e.bytes, 0),
            }),
          }),
    });
    this.memory = backend;
  }
}
