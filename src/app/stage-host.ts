/**
 * The stage a device runs: on `assign` it fetches and verifies its blocks, merges them, loads them into
 * its StageBackend (a Web Worker in the browser) and reports ready; on `activations` it runs one step
 * and sends its outputs on — to the next stage, or (last stage) only the logits row to the leader.
 * A failed step is reported to the leader; it never takes the device down.
 */

import type { BlockStore } from '../core/block-store';
import type { PhaseBackends } from '../core/cost/backend-choice';
import { mergeStage } from '../core/graph/merge-stage';
import type { Link, StageBackend } from '../core/ports';
import type {
  DeviceProfile,
  LayerShapeSpec,
  Message,
  MessageOf,
  PhoneState,
  StageAssignment,
} from '../core/protocol/messages';
import type { NamedTensors } from '../core/tensor';
import { fetchManifest, fetchStageFiles } from './block-fetch';
import { PeerBlockClient } from './delivery/peer-blocks';
import { formatProgress } from './delivery/progress';
import { LEADER_BASE } from './model-source';

/** What the last load moved, for the UI, tests and benchmarks. */
export interface LoadStats {
  readonly bytesFromNetwork: number;
  readonly bytesFromCache: number;
  readonly corrupt: readonly { readonly file: string; readonly reason: string }[];
  readonly ms: number;
}

export interface StageHostDeps {
  readonly backend: StageBackend;
  /** The link to the leader (a loopback in the leader's own tab). */
  readonly leader: Link;
  /** Opens (or reuses) a link to another phone of the room. */
  readonly linkTo: (peerId: string) => Promise<Link>;
  /** Times this phone on the calibration kernel (app/measure-device.ts). */
  readonly measure: (shape: LayerShapeSpec) => Promise<DeviceProfile>;
  /** The runtime of each phase when the assignment names none (default: wasm for both). */
  readonly phases?: PhaseBackends;
  /** The block cache (IndexedDB in the browser); null: always download. */
  readonly store: BlockStore | null;
  /** Told when a cached block turned out corrupt (it was discarded and downloaded again). */
  readonly onCorrupt?: (file: string, reason: string) => void;
  readonly log: (line: string) => void;
}

export class StageHost {
  private assignment: StageAssignment | null = null;
  private readyDetail = '';
  /** Fetches files from the leader while a leader-served model loads. */
  private client: PeerBlockClient | null = null;
  lastLoad: LoadStats | null = null;
  private next: Link | null = null;
  private loading: Promise<void> | null = null;
  /** Requests with a live KV cache here: the phone shows busy while there is one. */
  private readonly active = new Set<string>();
  state: PhoneState = 'joining';
  constructor(private readonly deps: StageHostDeps) {}

  private report(state: PhoneState, extra: Omit<MessageOf<'state'>, 'kind' | 'state'> = {}): void {
    this.state = state;
    this.deps.leader.send({ kind: 'state', state, ...extra });
  }

  /** Handles the messages meant for a stage; returns false for any other kind. */
  handle(m: Message): boolean {
    switch (m.kind) {
      case 'assign':
        this.loading = this.load(m.assignment);
        return true;
      case 'activations':
        void this.step(m);
        return true;
      case 'release':
        this.forget(m.requestId);
        return true;
      case 'measure':
        void this.measure(m.shape);
        return true;
      case 'block-chunk':
      case 'block-error':
        this.client?.handle(m);
        return true;
      default:
        return false;
    }
  }

  private async measure(shape: LayerShapeSpec): Promise<void> {
    const before = this.state;
    this.report('measuring', { detail: 'timing the calibration kernel' });
    try {
      const profile = await this.deps.measure(shape);
      this.deps.leader.send({ kind: 'profile', profile });
      this.report(before === 'joining' ? 'idle' : before, {
        detail: `measured: decode on ${profile.decodeOn}, prefill on ${profile.prefillOn}`,
      });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.deps.log(`measuring failed: ${message}`);
      this.report('error', { detail: `could not measure this phone: ${message}` });
    }
  }

  private forget(requestId: string): void {
    void this.deps.backend.release(requestId).catch(() => {});
    if (this.active.delete(requestId) && this.active.size === 0 && this.state === 'busy') {
      this.report('ready', { detail: this.readyDetail });
    }
  }

  private async load(a: StageAssignment): Promise<void> {
    await this.loading?.catch(() => {});
    this.assignment = a;
    this.next = null;
    // Said first, even when every block is cached: the leader waits for loading → ready per assignment.
    this.report('loading', { detail: `blocks ${a.firstBlock}–${a.lastBlock}: starting` });
    try {
      const t0 = performance.now();
      this.client = a.modelBase.startsWith(LEADER_BASE)
        ? new PeerBlockClient(this.deps.leader, { listen: false })
        : null;
      const manifest = this.client ? await this.client.fetchManifest() : await fetchManifest(a.modelBase);
      const files = await fetchStageFiles(
        a.modelBase,
        manifest,
        a.firstBlock,
        a.lastBlock,
        (p) =>
          this.report('loading', {
            // Bytes, so the leader can add the phones up into the room's bar.
            loaded: p.loadedBytes,
            total: p.totalBytes,
            detail: `file ${Math.min(p.filesDone + 1, p.filesTotal)} of ${p.filesTotal} · ${formatProgress(p)}`,
          }),
        {
          store: this.deps.store,
          ...(this.client ? { source: this.client } : {}),
          onCorrupt: (file, reason) => {
            this.deps.log(`cached ${file} was corrupt (${reason}): discarded and downloaded again`);
            this.deps.onCorrupt?.(file, reason);
          },
        },
      );
      this.client = null;
      const stage = mergeStage(manifest, a.firstBlock, a.lastBlock, files.graphs);
      const loaded = await this.deps.backend.load({
        graph: stage.graph,
        weights: files.weights,
        inputs: stage.inputs,
        outputs: stage.outputs,
        cacheInputs: stage.cacheInputs,
        cacheOutputs: stage.cacheOutputs,
        inputSpecs: manifest.inputs,
        trimLogits: a.nextPeer === null,
        // The leader names each phase's runtime from the profile it planned with.
        phases: a.phases ?? this.deps.phases ?? { decode: 'wasm', prefill: 'wasm' },
      });
      if (a.nextPeer) this.next = await this.deps.linkTo(a.nextPeer);
      const ms = performance.now() - t0;
      this.lastLoad = {
        bytesFromNetwork: files.bytesFromNetwork,
        bytesFromCache: files.bytesFromCache,
        corrupt: files.corrupt,
        ms,
      };
      const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
      const moved =
        files.bytesFromCache > 0
          ? `${mb(files.bytesFromNetwork)} downloaded, ${mb(files.bytesFromCache)} from cache`
          : `${mb(files.bytesFromNetwork)} downloaded`;
      this.readyDetail = `${loaded.backend} · ${moved} · ready in ${(ms / 1000).toFixed(1)} s`;
      this.active.clear();
      this.report('ready', { detail: this.readyDetail });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.deps.log(`stage load failed: ${message}`);
      this.report('error', { detail: message });
    }
  }

  private async step(m: MessageOf<'activations'>): Promise<void> {
    const arrived = performance.now();
    const a = this.assignment;
    try {
      await this.loading;
      if (!a || (this.state !== 'ready' && this.state !== 'busy'))
        throw new Error('this phone has no stage loaded');
      if (m.step === 0 && !this.active.has(m.requestId)) {
        this.active.add(m.requestId);
        if (this.active.size === 1) this.report('busy', { detail: this.readyDetail });
      }
      const result = await this.deps.backend.step(m.requestId, m.step, m.tensors);
      const stageTimesMs = [...m.stageTimesMs, result.ms];
      if (this.next) {
        const available: NamedTensors = { ...m.tensors, ...result.outputs };
        const tensors: NamedTensors = {};
        for (const name of a.forward) {
          const t = available[name];
          if (!t) throw new Error(`stage ${a.stageIndex} has no tensor ${name} to send on`);
          tensors[name] = t;
        }
        const residentMs = [...m.residentMs, performance.now() - arrived];
        this.next.send({
          kind: 'activations',
          requestId: m.requestId,
          step: m.step,
          tensors,
          stageTimesMs,
          residentMs,
        });
      } else {
        const logits = result.outputs.logits;
        if (!logits) throw new Error('the last stage produced no logits');
        const residentMs = [...m.residentMs, performance.now() - arrived];
        this.deps.leader.send({
          kind: 'logits',
          requestId: m.requestId,
          step: m.step,
          logits,
          stageTimesMs,
          residentMs,
        });
      }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.deps.log(`step ${m.step} of ${m.requestId} failed: ${message}`);
      this.forget(m.requestId); // a failed request is over here: its cache must not keep the phone busy
      this.deps.leader.send({
        kind: 'error',
        requestId: m.requestId,
        message: `stage ${a?.stageIndex ?? '?'}: ${message}`,
      });
    }
  }
}
