/**
 * The stage a device runs, in the plan it was last assigned. On `assign` it loads its blocks into its
 * StageBackend (a Web Worker in the browser) — or, when it already holds exactly those blocks, keeps the
 * session and every KV cache and only takes the new plan's wiring. On `activations` of its current plan
 * it runs one step and sends the outputs on: to the next stage, or (last stage) only the logits row to
 * the leader. A step of another plan is dropped and logged, never run on the wrong layers. A failed step is
 * reported to the leader; it never takes the device down.
 */

import type { BlockStore } from '../core/block-store';
import type { PhaseBackends } from '../core/cost/backend-choice';
import type { Link, StageBackend } from '../core/ports';
import type {
  DeviceProfile,
  LayerShapeSpec,
  MessageOf,
  PhoneState,
  StageAssignment,
} from '../core/protocol/messages';
import type { NamedTensors } from '../core/tensor';
import { type BackupStatus, Backups } from './backups';
import { PeerBlockClient } from './delivery/peer-blocks';
import { formatProgress } from './delivery/progress';
import type { Handlers } from './room/router';
import { type PreparedStage, StageFileReader } from './stage-files';

/** What the last load moved, for the UI, tests and benchmarks. */
export interface LoadStats {
  readonly bytesFromNetwork: number;
  readonly bytesFromCache: number;
  readonly corrupt: readonly { readonly file: string; readonly reason: string }[];
  readonly ms: number;
  /** Of `ms`: the blocks fetched (or read from cache) and merged, then the runtime's session built. */
  readonly filesMs: number;
  readonly sessionMs: number;
}

export interface StageHostDeps {
  readonly backend: StageBackend;
  /** The link to the leader (a loopback in the leader's own tab). */
  readonly leader: Link;
  /** Opens (or reuses) a link to another phone of the room. */
  readonly linkTo: (peerId: string) => Promise<Link>;
  /** Times this phone on the calibration kernel (app/measure-device.ts). */
  readonly measure: (
    shape: LayerShapeSpec,
    own: { readonly backend: StageBackend; readonly serving: boolean },
  ) => Promise<DeviceProfile>;
  /** The runtime of each phase when the assignment names none (default: wasm for both). */
  readonly phases?: PhaseBackends;
  /** The block cache (IndexedDB in the browser); null: always download. */
  readonly store: BlockStore | null;
  /** Told when a cached block turned out corrupt (it was discarded and downloaded again). */
  readonly onCorrupt?: (file: string, reason: string) => void;
  readonly log: (line: string) => void;
}

type Activations = MessageOf<'activations'>;

/** Whether `next` runs on the very session `held` loaded (same blocks, runtimes and logits trimming). */
function sameStage(held: StageAssignment, next: StageAssignment): boolean {
  const phases = (a: StageAssignment) => `${a.phases?.decode}/${a.phases?.prefill}`;
  return (
    held.modelBase === next.modelBase &&
    held.firstBlock === next.firstBlock &&
    held.lastBlock === next.lastBlock &&
    (held.nextPeer === null) === (next.nextPeer === null) &&
    phases(held) === phases(next)
  );
}

export class StageHost {
  private assignment: StageAssignment | null = null;
  private readyDetail = '';
  private client: PeerBlockClient | null = null;
  private readonly backups: Backups | null;
  private readonly files: StageFileReader;
  /** Where the loaded stage's blocks came from: its backups come from there too. */
  private source: Pick<PreparedStage, 'manifest' | 'source'> | null = null;
  lastLoad: LoadStats | null = null;
  private next: Link | null = null;
  /** Assignments and unloads run one after another; steps wait for the one before them. */
  private work: Promise<void> = Promise.resolve();
  /** Requests with a live KV cache here: the phone shows busy while there is one. */
  private readonly active = new Set<string>();
  /** Steps this stage ran, and steps it dropped for being of another plan (tests count them). */
  stepsRun = 0;
  stepsDropped = 0;
  state: PhoneState = 'joining';

  constructor(private readonly deps: StageHostDeps) {
    this.files = new StageFileReader({
      leader: deps.leader,
      store: deps.store,
      peerClient: () => {
        this.client ??= new PeerBlockClient(deps.leader, { listen: false });
        return this.client;
      },
      onCorrupt: (file, reason) => {
        deps.log(`cached ${file} was corrupt (${reason}): discarded and downloaded again`);
        deps.onCorrupt?.(file, reason);
      },
    });
    this.backups = deps.store
      ? new Backups({ store: deps.store, idle: () => this.idle(), log: deps.log })
      : null;
  }

  /** This phone's backups of its neighbours' blocks (core/room/backups.ts). */
  backupStatus(): BackupStatus | null {
    return this.backups?.status() ?? null;
  }

  /** Resolves once no answer runs here (backups wait for it: they share the answers' links). */
  private async idle(): Promise<void> {
    while (this.active.size > 0) await new Promise((r) => setTimeout(r, 250));
  }

  private startBackups(a: StageAssignment): void {
    const from = this.source;
    if (this.backups && from && a.backups?.length)
      this.backups.start(a.modelBase, from.manifest, from.source, a.backups);
  }

  /** The previous stage's phone in the current plan (the router accepts activations from it). */
  get prevPeer(): string | null {
    return this.assignment?.prevPeer ?? null;
  }

  get planId(): string | null {
    return this.assignment?.planId ?? null;
  }

  /** Emulation: this phone becomes k times slower from its next step on. */
  setSlowdown(k: number): Promise<void> {
    return this.deps.backend.setSlowdown(k);
  }

  /** Benchmarks: batch (k > 1) or not (1) the steps that meet at this phone. */
  setMaxBatch(k: number): Promise<void> {
    return this.deps.backend.setMaxBatch(k);
  }

  /** The backend's own accounting: loads, requests holding a KV cache, and their bytes. */
  backendStats(): ReturnType<StageBackend['stats']> {
    return this.deps.backend.stats();
  }

  readonly handlers: Handlers = {
    assign: (m) => this.serially(() => this.assign(m.assignment)),
    unload: (m) => this.serially(() => this.unload(m.planId)),
    prefetch: (m) => this.prefetch(m.assignment),
    activations: (m) => void this.step(m),
    release: (m) => this.forget(m.requestId),
    // After any assignment before it: a phone with no stage lends its own warm worker to the timings.
    measure: (m) => {
      this.work = this.work.then(() => this.measure(m.shape));
    },
    'block-chunk': (m) => this.client?.handle(m),
    'block-error': (m) => this.client?.handle(m),
  };

  /** Tells the leader this phone's stage takes work from now on. */
  announce(): void {
    this.report('idle', { detail: 'in the room, no blocks yet' });
  }

  private serially(job: () => Promise<void>): void {
    this.backups?.stop(); // a plan change first: its blocks may be the ones a backup is fetching
    this.work = this.work.then(job, job);
  }

  private report(state: PhoneState, extra: Omit<MessageOf<'state'>, 'kind' | 'state'> = {}): void {
    this.state = state;
    this.deps.leader.send({ kind: 'state', state, ...extra });
  }

  private async measure(shape: LayerShapeSpec): Promise<void> {
    // A phone that runs a stage goes on showing (and being) ready: it times kernels beside its stage.
    const serving = this.assignment !== null;
    const before = this.state;
    if (!serving) this.report('measuring', { detail: 'timing the calibration kernel' });
    try {
      const t0 = performance.now();
      const profile = await this.deps.measure(shape, { backend: this.deps.backend, serving });
      this.deps.log(`measured this phone in ${(performance.now() - t0).toFixed(0)} ms`);
      this.deps.leader.send({ kind: 'profile', profile });
      if (!serving)
        this.report(before === 'joining' ? 'idle' : before, {
          detail: `measured: decode on ${profile.decodeOn}, prefill on ${profile.prefillOn}`,
        });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.deps.log(`measuring failed: ${message}`);
      // Said as an error, so the leader stops waiting for this profile; a serving phone then goes on
      // as it was (its stage is untouched).
      this.report('error', { detail: `could not measure this phone: ${message}` });
      if (serving && this.planId)
        this.report(this.active.size ? 'busy' : 'ready', { detail: this.readyDetail, planId: this.planId });
    }
  }

  private forget(requestId: string): void {
    void this.deps.backend.release(requestId).catch(() => {});
    if (this.active.delete(requestId) && this.active.size === 0 && this.state === 'busy') {
      this.report('ready', { detail: this.readyDetail, ...(this.planId ? { planId: this.planId } : {}) });
    }
  }

  private async assign(a: StageAssignment): Promise<void> {
    const held = this.assignment;
    const phases = a.phases ?? this.deps.phases ?? { decode: 'wasm', prefill: 'wasm' };
    const wanted = { ...a, phases };
    try {
      if (held && sameStage(held, wanted)) {
        // The same blocks under a new plan: keep the session and every KV cache, re-wire only.
        this.assignment = wanted;
        this.next = a.nextPeer ? await this.deps.linkTo(a.nextPeer) : null;
        this.report(this.active.size ? 'busy' : 'ready', { detail: this.readyDetail, planId: a.planId });
        this.startBackups(wanted);
        return;
      }
      await this.load(wanted);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.deps.log(`stage load failed: ${message}`);
      this.assignment = null;
      this.report('error', { detail: message, planId: a.planId });
    }
  }

  private async load(a: StageAssignment & { phases: PhaseBackends }): Promise<void> {
    this.assignment = null; // until loaded, no step runs here
    this.next = null;
    this.active.clear();
    // Said first, even when every block is cached: the leader waits for loading → ready per plan.
    this.report('loading', { detail: `blocks ${a.firstBlock}–${a.lastBlock}: starting`, planId: a.planId });
    const t0 = performance.now();
    const files = await this.files.read(a, (p) =>
      this.report('loading', {
        // Bytes, so the leader can add the phones up into the room's bar.
        loaded: p.loadedBytes,
        total: p.totalBytes,
        detail: `file ${Math.min(p.filesDone + 1, p.filesTotal)} of ${p.filesTotal} · ${formatProgress(p)}`,
        planId: a.planId,
      }),
    );
    const { stage } = files;
    const t1 = performance.now();
    const loaded = await this.deps.backend.load({
      graph: stage.graph,
      weights: files.weights,
      inputs: stage.inputs,
      outputs: stage.outputs,
      cacheInputs: stage.cacheInputs,
      cacheOutputs: stage.cacheOutputs,
      inputSpecs: files.inputSpecs,
      trimLogits: a.nextPeer === null,
      phases: a.phases,
    });
    this.next = a.nextPeer ? await this.deps.linkTo(a.nextPeer) : null;
    const ms = performance.now() - t0;
    const filesMs = t1 - t0;
    const { bytesFromNetwork, bytesFromCache, corrupt } = files;
    this.lastLoad = { bytesFromNetwork, bytesFromCache, corrupt, ms, filesMs, sessionMs: ms - filesMs };
    this.deps.log(
      `blocks ${a.firstBlock}–${a.lastBlock}: files in ${filesMs.toFixed(0)} ms${files.readAhead ? ' (read ahead)' : ''}, session in ${(ms - filesMs).toFixed(0)} ms`,
    );
    const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
    const moved =
      files.bytesFromCache > 0
        ? `${mb(files.bytesFromNetwork)} downloaded, ${mb(files.bytesFromCache)} from cache`
        : `${mb(files.bytesFromNetwork)} downloaded`;
    this.readyDetail = `${loaded.backend} · ${moved} · ready in ${(ms / 1000).toFixed(1)} s`;
    this.assignment = a;
    // Only where the blocks came from: the files themselves (the weights) must not outlive the load.
    this.source = { manifest: files.manifest, source: files.source };
    this.report('ready', { detail: this.readyDetail, planId: a.planId });
    this.startBackups(a);
  }

  /** Reads the blocks of the assignment that comes next, beside the stage this phone still runs. */
  private prefetch(a: StageAssignment): void {
    this.backups?.stop(); // they read the same cache and share the link
    const t0 = performance.now();
    const planId = a.planId;
    this.files.prefetch(a).then(
      () => {
        const ms = (performance.now() - t0).toFixed(0);
        this.deps.log(`blocks ${a.firstBlock}–${a.lastBlock}: read ahead in ${ms} ms`);
        this.deps.leader.send({ kind: 'prefetched', planId });
      },
      (e: unknown) => this.deps.leader.send({ kind: 'prefetched', planId, error: String(e) }),
    );
  }

  private async unload(planId: string): Promise<void> {
    this.files.drop();
    this.assignment = null;
    this.next = null;
    this.active.clear();
    await this.deps.backend.unload().catch((e: unknown) => this.deps.log(`unload: ${String(e)}`));
    this.report('idle', { detail: 'left out of this plan: its blocks were freed', planId });
  }

  private async step(m: Activations): Promise<void> {
    const arrived = performance.now();
    await this.work; // a step never overtakes the assignment before it
    const a = this.assignment;
    if (!a || m.planId !== a.planId) {
      // Another plan's step (or none loaded): running it would run the wrong layers.
      this.stepsDropped++;
      this.deps.log(
        `dropped step ${m.step} of ${m.requestId}: plan ${m.planId}, this stage runs ${a?.planId ?? 'none'}`,
      );
      return;
    }
    try {
      if (m.step === 0 && !this.active.has(m.requestId)) {
        this.active.add(m.requestId);
        if (this.active.size === 1) this.report('busy', { detail: this.readyDetail, planId: a.planId });
      }
      const result = await this.deps.backend.step(m.requestId, m.step, m.tensors, m.tokens);
      this.stepsRun++;
      if (this.assignment !== a) {
        // Re-assigned while it ran (a fault re-plans without waiting for steps in flight): the leader
        // sends this step again under the new plan, so its result goes nowhere, and is no error.
        this.deps.log(`step ${m.step} of ${m.requestId} outlived plan ${a.planId}: not sent on`);
        return;
      }
      const stageTimesMs = [...m.stageTimesMs, result.ms];
      const residentMs = [...m.residentMs, performance.now() - arrived];
      if (this.next) {
        const available: NamedTensors = { ...m.tensors, ...result.outputs };
        const tensors: NamedTensors = {};
        for (const name of a.forward) {
          const t = available[name];
          if (!t) throw new Error(`stage ${a.stageIndex} has no tensor ${name} to send on`);
          tensors[name] = t;
        }
        this.next.send({ ...m, tensors, stageTimesMs, residentMs });
      } else {
        const logits = result.outputs.logits;
        if (!logits) throw new Error('the last stage produced no logits');
        const { requestId, step, planId } = m;
        this.deps.leader.send({ kind: 'logits', planId, requestId, step, logits, stageTimesMs, residentMs });
      }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.deps.log(`step ${m.step} of ${m.requestId} failed: ${message}`);
      this.forget(m.requestId); // a failed request is over here: its cache must not keep the phone busy
      this.deps.leader.send({
        kind: 'error',
        requestId: m.requestId,
        message: `stage ${a.stageIndex}: ${message}`,
      });
    }
  }
}
