/**
 * The block cache port: a phone keeps the blocks it ran so the next join with the same model moves no
 * bytes. Entries are keyed by the sha256 of their content, so a block shared by two models or two
 * plans is stored once; a small index entry per block records which models/files use it, its size and
 * when it was last used (for least-recently-used eviction and for the "cached models" list).
 *
 * Every read re-hashes: a corrupt or truncated entry is deleted, reported through `onCorrupt`, and
 * reads as a miss, so the caller fetches it again and nothing else is lost.
 *
 * Blocks whose content hash is not known in advance (weights that are byte ranges of a hub file) are
 * hashed by the phone after their first download and found again through an alias
 * (a key describing the ranges → that sha256).
 *
 * `CachingBlockStore` holds the logic over a small key-value `StoreBackend`; the IndexedDB adapter
 * (src/adapters/store/idb-block-store.ts) and `MemoryBlockStore` (Node tests) only supply backends.
 */
import { sha256Hex } from './sha256';

export interface BlockMeta {
  readonly model: string;
  readonly file: string;
}

export interface CachedModel {
  readonly model: string;
  /** Blocks of this model in the cache. */
  readonly files: number;
  /** Their bytes (a block shared with another model counts for both). */
  readonly bytes: number;
  readonly lastUsed: number;
}

export interface StoreUsage {
  readonly blocks: number;
  /** Bytes of all cached blocks. */
  readonly bytes: number;
  /** What the browser reports for the whole origin, when it does. */
  readonly usage: number | null;
  readonly quota: number | null;
  /** Result of `navigator.storage.persist()`, null before it was asked. */
  readonly persisted: boolean | null;
}

export interface PutOptions {
  /** Blocks that must survive this put's eviction (the stage being loaded). */
  readonly pinned?: ReadonlySet<string>;
  /** Store only where it fits without evicting anything (a backup must not push out what is in use). */
  readonly noEvict?: boolean;
}

export interface PutResult {
  readonly stored: boolean;
  /** sha256s evicted to make room, oldest first. */
  readonly evicted: readonly string[];
  /** Why it was not stored (no room, storage error). */
  readonly reason?: string;
}

export type CorruptHandler = (sha256: string, reason: string) => void;

export interface BlockStore {
  /** Whether an entry is cached (unverified: a later `get` still checks it). */
  has(sha256: string): Promise<boolean>;
  /** The verified bytes, or null on a miss or a corrupt entry (deleted and reported). */
  get(sha256: string, onCorrupt?: (reason: string) => void): Promise<Uint8Array | null>;
  /**
   * Caches `bytes` under `sha256`, which the caller has already checked (a put does not re-hash: the
   * bytes were just verified, and every get verifies again). A known sha only gains the new reference.
   */
  put(sha256: string, bytes: Uint8Array, meta: BlockMeta, options?: PutOptions): Promise<PutResult>;
  /** The sha256 a phone computed for content known by another key (see remoteWeightsKey). */
  getAlias(key: string): Promise<string | null>;
  setAlias(key: string, sha256: string): Promise<void>;
  list(): Promise<CachedModel[]>;
  /** Drops the model's references; blocks no other model uses are deleted. Returns bytes freed. */
  clearModel(model: string): Promise<number>;
  clearAll(): Promise<void>;
  usage(): Promise<StoreUsage>;
}

export interface IndexEntry {
  readonly sha256: string;
  readonly bytes: number;
  readonly lastUsed: number;
  readonly refs: readonly BlockMeta[];
}

/** The storage a CachingBlockStore needs: block bytes, index entries and aliases, by key. */
export interface StoreBackend {
  /** Whatever is stored (untrusted: storage can hold anything), or undefined. */
  readData(sha256: string): Promise<unknown>;
  writeData(sha256: string, bytes: Uint8Array): Promise<void>;
  deleteData(sha256: string): Promise<void>;
  readIndex(sha256: string): Promise<IndexEntry | undefined>;
  writeIndex(entry: IndexEntry): Promise<void>;
  deleteIndex(sha256: string): Promise<void>;
  allIndex(): Promise<IndexEntry[]>;
  readAlias(key: string): Promise<string | undefined>;
  writeAlias(key: string, sha256: string): Promise<void>;
  clear(): Promise<void>;
}

export interface StoreOptions {
  /** `navigator.storage.estimate` (or a test double); without it nothing is evicted up front. */
  readonly estimate?: () => Promise<{ usage?: number; quota?: number }>;
  /** `navigator.storage.persist`; asked once, on the first put. */
  readonly persist?: () => Promise<boolean>;
  /** Share of the quota kept free for everything else the origin stores. Default 0.05. */
  readonly reserveFraction?: number;
  readonly onCorrupt?: CorruptHandler;
  readonly now?: () => number;
}

function asBytes(value: unknown): Uint8Array | null {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return null;
}

function isQuotaError(e: unknown): boolean {
  return e instanceof Error && (e.name === 'QuotaExceededError' || /quota/i.test(e.message));
}

export class CachingBlockStore implements BlockStore {
  /** Writes, evictions and index updates run one at a time so they never see each other half done. */
  private queue: Promise<unknown> = Promise.resolve();
  private persisted: boolean | null = null;
  private persistAsked = false;
  private lastStamp = 0;

  constructor(
    private readonly backend: StoreBackend,
    private readonly options: StoreOptions = {},
  ) {}

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => {});
    return run;
  }

  /** Strictly increasing, so blocks used in the same millisecond still have an LRU order. */
  private stamp(): number {
    this.lastStamp = Math.max((this.options.now ?? Date.now)(), this.lastStamp + 1);
    return this.lastStamp;
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.backend.readIndex(sha256)) !== undefined;
  }

  async get(sha256: string, onCorrupt?: (reason: string) => void): Promise<Uint8Array | null> {
    const entry = await this.backend.readIndex(sha256);
    const raw = await this.backend.readData(sha256);
    if (raw === undefined) {
      // Nothing stored (or only a stale index entry left by an interrupted write): a plain miss.
      if (entry) await this.serial(() => this.backend.deleteIndex(sha256));
      return null;
    }
    const bytes = asBytes(raw);
    let reason: string | null = null;
    if (!bytes) reason = 'stored value is not bytes';
    else if (entry && bytes.length !== entry.bytes)
      reason = `truncated: ${bytes.length} of ${entry.bytes} bytes`;
    else {
      const got = await sha256Hex(bytes);
      if (got !== sha256) reason = `content hash is ${got.slice(0, 12)}…, not ${sha256.slice(0, 12)}…`;
    }
    if (reason !== null || !bytes) {
      const why = reason ?? 'unreadable';
      await this.serial(async () => {
        await this.backend.deleteData(sha256);
        await this.backend.deleteIndex(sha256);
      });
      onCorrupt?.(why);
      this.options.onCorrupt?.(sha256, why);
      return null;
    }
    // The use is stamped in the write queue, ahead of any later put's eviction, but not waited for: a
    // stage loading 14 blocks from the cache waited 0.5 s for these writes on a busy phone.
    const stamp = this.stamp();
    void this.serial(async () => {
      const now = await this.backend.readIndex(sha256);
      const e = now ?? { sha256, bytes: bytes.length, lastUsed: 0, refs: [] };
      await this.backend.writeIndex({ ...e, lastUsed: Math.max(e.lastUsed, stamp) });
    }).catch(() => {});
    return bytes;
  }

  put(sha256: string, bytes: Uint8Array, meta: BlockMeta, options: PutOptions = {}): Promise<PutResult> {
    return this.serial(async () => {
      if (!this.persistAsked && this.options.persist) {
        this.persistAsked = true;
        this.persisted = await this.options.persist().catch(() => false);
      }
      const existing = await this.backend.readIndex(sha256);
      if (existing) {
        const known = existing.refs.some((r) => r.model === meta.model && r.file === meta.file);
        const refs = known ? existing.refs : [...existing.refs, meta];
        await this.backend.writeIndex({ ...existing, refs, lastUsed: this.stamp() });
        return { stored: true, evicted: [] };
      }
      const pinned = new Set(options.pinned ?? []);
      pinned.add(sha256);
      const evicted: string[] = [];
      const room = options.noEvict
        ? await this.fitsAsIs(bytes.length)
        : await this.makeRoom(bytes.length, pinned, evicted);
      if (!room) return { stored: false, evicted, reason: 'not enough storage space for this block' };
      // A view into a larger buffer would store the whole buffer: store exactly these bytes.
      const own =
        bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
      for (;;) {
        try {
          await this.backend.writeData(sha256, own);
          break;
        } catch (e) {
          // The estimate was optimistic: free the oldest block and try again, until nothing is left.
          const victim = isQuotaError(e) && !options.noEvict ? await this.evictOldest(pinned) : null;
          if (!victim) {
            const reason = e instanceof Error ? e.message : String(e);
            return { stored: false, evicted, reason: `storage refused the block: ${reason}` };
          }
          evicted.push(victim);
        }
      }
      await this.backend.writeIndex({ sha256, bytes: bytes.length, lastUsed: this.stamp(), refs: [meta] });
      return { stored: true, evicted };
    });
  }

  private async fitsAsIs(bytes: number): Promise<boolean> {
    const est = await this.options.estimate?.().catch(() => undefined);
    if (!est || est.quota === undefined) return true;
    return (est.usage ?? 0) + bytes <= est.quota * (1 - (this.options.reserveFraction ?? 0.05));
  }

  /** Evicts least recently used unpinned blocks until `bytes` more fit; false if they cannot. */
  private async makeRoom(bytes: number, pinned: ReadonlySet<string>, evicted: string[]): Promise<boolean> {
    const est = await this.options.estimate?.().catch(() => undefined);
    if (!est || est.quota === undefined) return true; // unknown quota: let the write decide
    const limit = est.quota * (1 - (this.options.reserveFraction ?? 0.05));
    let used = est.usage ?? 0;
    if (used + bytes <= limit) return true;
    const candidates = (await this.backend.allIndex())
      .filter((e) => !pinned.has(e.sha256))
      .sort((a, b) => a.lastUsed - b.lastUsed);
    for (const victim of candidates) {
      if (used + bytes <= limit) break;
      await this.remove(victim.sha256);
      evicted.push(victim.sha256);
      used -= victim.bytes;
    }
    return used + bytes <= limit;
  }

  private async evictOldest(pinned: ReadonlySet<string>): Promise<string | null> {
    const oldest = (await this.backend.allIndex())
      .filter((e) => !pinned.has(e.sha256))
      .sort((a, b) => a.lastUsed - b.lastUsed)[0];
    if (!oldest) return null;
    await this.remove(oldest.sha256);
    return oldest.sha256;
  }

  private async remove(sha256: string): Promise<void> {
    await this.backend.deleteData(sha256);
    await this.backend.deleteIndex(sha256);
  }

  async getAlias(key: string): Promise<string | null> {
    return (await this.backend.readAlias(key)) ?? null;
  }

  setAlias(key: string, sha256: string): Promise<void> {
    return this.serial(() => this.backend.writeAlias(key, sha256));
  }

  async list(): Promise<CachedModel[]> {
    const byModel = new Map<string, { files: number; bytes: number; lastUsed: number }>();
    for (const e of await this.backend.allIndex()) {
      for (const model of new Set(e.refs.map((r) => r.model))) {
        const m = byModel.get(model) ?? { files: 0, bytes: 0, lastUsed: 0 };
        byModel.set(model, {
          files: m.files + 1,
          bytes: m.bytes + e.bytes,
          lastUsed: Math.max(m.lastUsed, e.lastUsed),
        });
      }
    }
    return [...byModel].map(([model, m]) => ({ model, ...m })).sort((a, b) => b.lastUsed - a.lastUsed);
  }

  clearModel(model: string): Promise<number> {
    return this.serial(async () => {
      let freed = 0;
      for (const e of await this.backend.allIndex()) {
        if (!e.refs.some((r) => r.model === model)) continue;
        const refs = e.refs.filter((r) => r.model !== model);
        if (refs.length > 0) await this.backend.writeIndex({ ...e, refs });
        else {
          await this.remove(e.sha256);
          freed += e.bytes;
        }
      }
      return freed;
    });
  }

  clearAll(): Promise<void> {
    return this.serial(() => this.backend.clear());
  }

  async usage(): Promise<StoreUsage> {
    const all = await this.backend.allIndex();
    const est = await this.options.estimate?.().catch(() => undefined);
    return {
      blocks: all.length,
      bytes: all.reduce((s, e) => s + e.bytes, 0),
      usage: est?.usage ?? null,
      quota: est?.quota ?? null,
      persisted: this.persisted,
    };
  }
}
