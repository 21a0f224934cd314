/**
 * All of the page's async state lives here, not in elements: creating or joining a room, loading a
 * model, generating. Elements render `host` state and call these methods.
 */

import type { ReactiveController, ReactiveControllerHost } from 'lit';
import { PlacementClient } from '../adapters/highs/placement-client';
import { PeerNode, type SignalingServer } from '../adapters/peer/peer-node';
import { openIdbBlockStore, phoneIdentity } from '../adapters/store/idb-block-store';
import { RateMeter, secondsLeft } from '../app/delivery/progress';
import { type GenerationOutput, Leader } from '../app/leader';
import { measureDevice } from '../app/measure-device';
import { Member } from '../app/member';
import type { ModelChoice } from '../app/model-source';
import type { BlockStore, CachedModel, StoreUsage } from '../core/block-store';
import type { BackendPreference, PhasePreferences } from '../core/cost/backend-choice';
import type { StageBackend } from '../core/ports';
import type {
  AskInput,
  DeviceCaps,
  LayerShapeSpec,
  PhoneInfo,
  SamplingParams,
} from '../core/protocol/messages';
import { joinLink } from '../core/room/join-link';
import { stepBreakdown } from '../core/room/learned-costs';
import { WorkerStageBackend } from '../worker/inference-client';
import { AskSession } from './ask-session';
import { debugSurface } from './debug-surface';
import type { PlanViewData } from './plan-view';

export interface ModelEntry {
  readonly name: string;
  readonly url: string;
}

export type Phase = 'home' | 'connecting' | 'leader' | 'member' | 'failed';

function signalingServer(): SignalingServer {
  const secure = location.protocol === 'https:';
  return {
    host: location.hostname,
    port: Number(location.port) || (secure ? 443 : 80),
    path: '/peerjs',
    secure,
  };
}

/** Whether this browser gives a WebGPU adapter (headless Chromium has `navigator.gpu` but, unflagged, none). */
async function hasGpuAdapter(): Promise<boolean> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  try {
    return !!gpu && (await gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

function deviceCaps(): DeviceCaps {
  const nav = navigator as Navigator & { deviceMemory?: number; gpu?: unknown };
  return {
    hardwareConcurrency: nav.hardwareConcurrency ?? 1,
    ...(nav.deviceMemory !== undefined ? { deviceMemoryGB: nav.deviceMemory } : {}),
    webgpu: nav.gpu !== undefined,
    userAgent: nav.userAgent,
  };
}

/**
 * Per-phone settings from the page URL (before the #): `?memory=<MB>` caps what this phone offers;
 * `?maxInFlight=<k>` (the leader) runs at most k answers at once; `?balance=off` keeps its plan;
 * `?slowdown=<k>` emulates a phone k times slower (the room simulator's --slowdown uses it);
 * `?batching=off` runs each answer's one-token step alone instead of batching the steps of several
 * answers that meet at this phone (on by default: docs/decisions/011);
 * `?decode=` and `?prefill=` (wasm | webgpu | auto) pick the runtime of each phase instead of the
 * faster measured one.
 */
function deviceSettings(): {
  balance: boolean;
  maxBatch: number;
  maxInFlight: number | undefined;
  slowdown: number;
  memoryCapMB: number | null;
  wanted: PhasePreferences;
} {
  const q = new URLSearchParams(location.search);
  const slowdown = Number(q.get('slowdown') ?? 1);
  const memory = Number(q.get('memory') ?? 0);
  const pref = (key: string): BackendPreference => {
    const v = q.get(key);
    return v === 'wasm' || v === 'webgpu' ? v : 'auto';
  };
  return {
    balance: q.get('balance') !== 'off',
    maxBatch: q.get('batching') === 'off' ? 1 : 8,
    maxInFlight: Number(q.get('maxInFlight')) >= 1 ? Math.floor(Number(q.get('maxInFlight'))) : undefined,
    slowdown: Number.isFinite(slowdown) && slowdown >= 1 ? slowdown : 1,
    memoryCapMB: memory > 0 ? memory : null,
    wanted: { decode: pref('decode'), prefill: pref('prefill') },
  };
}

export class RoomController implements ReactiveController {
  phase: Phase = 'home';
  error: string | null = null;
  leader: Leader | null = null;
  member: Member | null = null;
  models: ModelEntry[] = [];
  /** The server's LAN URLs (from /config.json): the join link uses one when this page is on loopback. */
  lanUrls: string[] = [];
  loadingModel = false;
  /** This page's own question and its answer. */
  readonly answer = new AskSession(() => this.changed());
  readonly log: string[] = [];
  /** This phone's block cache, shared by every model it loads. */
  readonly store: BlockStore = openIdbBlockStore({ onCorrupt: () => void this.refreshCache() });
  cacheModels: CachedModel[] = [];
  cacheUsage: StoreUsage | null = null;
  cacheNotice: string | null = null;

  constructor(private readonly host: ReactiveControllerHost) {
    host.addController(this);
  }

  hostConnected(): void {
    const self = this;
    window.__chorus = debugSurface({
      get leader() {
        return self.leader;
      },
      get member() {
        return self.member;
      },
      solve: (problem) => this.placement().plan(problem),
    });
    void this.fetchModels();
    void this.fetchConfig();
    void this.refreshCache();
    const params = new URLSearchParams(location.hash.slice(1));
    const room = params.get('room');
    const secret = params.get('secret');
    if (room && secret) void this.join(room, secret);
    // A closing tab says goodbye: its links close cleanly, so the room notices at once instead of
    // waiting for heartbeats (a killed tab or a lost Wi-Fi still falls to those).
    window.addEventListener('pagehide', this.onPageHide);
  }

  private readonly onPageHide = (): void => {
    this.leader?.destroy();
    this.member?.destroy();
  };

  hostDisconnected(): void {
    window.removeEventListener('pagehide', this.onPageHide);
    this.placementClient?.dispose();
    this.leader?.destroy();
    this.member?.destroy();
  }

  get phones(): PhoneInfo[] {
    return this.leader?.phones ?? this.member?.phones ?? [];
  }

  get joinLink(): string | null {
    if (!this.leader) return null;
    return joinLink(location, this.lanUrls, this.leader.roomId, this.leader.secret);
  }

  private readonly changed = () => this.host.requestUpdate();

  private note = (line: string) => {
    this.log.push(`${new Date().toISOString().slice(11, 19)} ${line}`);
    console.info(`[chorus] ${line}`);
    this.changed();
  };

  private fail(e: unknown): void {
    this.error = e instanceof Error ? e.message : String(e);
    this.note(`error: ${this.error}`);
  }

  private async fetchConfig(): Promise<void> {
    try {
      const res = await fetch('/config.json');
      const config = res.ok ? ((await res.json()) as { lanUrls?: unknown }) : {};
      const urls = Array.isArray(config.lanUrls) ? config.lanUrls : [];
      this.lanUrls = urls.filter((u): u is string => typeof u === 'string');
    } catch {
      this.lanUrls = []; // a server without it (vite dev): links keep this page's origin
    }
    this.changed();
  }

  private async fetchModels(): Promise<void> {
    try {
      const res = await fetch('/models/index.json');
      if (res.ok) this.models = (await res.json()) as ModelEntry[];
    } catch {
      this.models = [];
    }
    this.changed();
  }

  private common() {
    const { slowdown, maxBatch, memoryCapMB, wanted } = deviceSettings();
    const caps = deviceCaps();
    const unmeasured = (p: BackendPreference) => (p === 'auto' ? 'wasm' : p);
    const server = signalingServer();
    return {
      // The leader's id comes from its room; a phone joins under the identity its browser keeps, or a
      // fresh one if that is taken (the same browser already in the room, in another tab).
      openPeer: async (id?: string) =>
        id
          ? PeerNode.open(server, id)
          : PeerNode.open(server, await phoneIdentity()).catch(() => PeerNode.open(server)),
      caps,
      backend: new WorkerStageBackend({ slowdown, maxBatch, warm: true }),
      measure: async (shape: LayerShapeSpec, own: { backend: StageBackend; serving: boolean }) =>
        measureDevice(shape, {
          newBackend: () => new WorkerStageBackend({ slowdown, maxBatch }),
          own,
          slowdown,
          memoryCapMB,
          // Only with an adapter: timing WebGPU starts a runtime (seconds) just to find there is none.
          webgpu: caps.webgpu && (await hasGpuAdapter()),
          wanted,
        }),
      phases: { decode: unmeasured(wanted.decode), prefill: unmeasured(wanted.prefill) },
      log: this.note,
      store: this.store,
      onCorrupt: (file: string, reason: string) => {
        this.cacheNotice = `${file} was corrupt in this phone's cache (${reason}); it was discarded and downloaded again.`;
        this.changed();
      },
    };
  }

  private placementClient: PlacementClient | null = null;

  /** HiGHS in its own worker, started on first use (solving is synchronous and must not block the page). */
  private placement(): PlacementClient {
    this.placementClient ??= new PlacementClient({ engine: 'milp' });
    return this.placementClient;
  }

  async refreshCache(): Promise<void> {
    try {
      [this.cacheModels, this.cacheUsage] = await Promise.all([this.store.list(), this.store.usage()]);
    } catch (e) {
      this.note(`cache: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.changed();
  }

  async clearCachedModel(model: string): Promise<void> {
    await this.store.clearModel(model);
    await this.refreshCache();
  }

  async clearCache(): Promise<void> {
    await this.store.clearAll();
    this.cacheNotice = null;
    await this.refreshCache();
  }

  async create(): Promise<void> {
    this.phase = 'connecting';
    this.error = null;
    this.changed();
    try {
      this.leader = await Leader.create(
        {
          ...this.common(),
          name: 'Leader',
          balance: deviceSettings().balance,
          ...(deviceSettings().maxInFlight ? { maxInFlight: deviceSettings().maxInFlight } : {}),
          solve: (problem) => this.placement().plan(problem),
        },
        this.changed,
      );
      this.phase = 'leader';
    } catch (e) {
      this.phase = 'failed';
      this.fail(e);
    }
    this.changed();
  }

  async join(roomId: string, secret: string): Promise<void> {
    this.phase = 'connecting';
    this.changed();
    try {
      this.member = await Member.join(roomId, { ...this.common(), secret, name: 'Phone' }, this.changed);
      this.phase = 'member';
    } catch (e) {
      this.phase = 'failed';
      this.fail(e);
    }
    this.changed();
  }

  async loadModel(choice: ModelChoice): Promise<void> {
    if (!this.leader) return;
    this.loadingModel = true;
    this.error = null;
    this.changed();
    try {
      await this.leader.loadModel(choice);
    } catch (e) {
      this.fail(e);
    } finally {
      this.loadingModel = false;
      this.changed();
      void this.refreshCache();
    }
  }

  /** Asks the room, from the leader or a member phone alike. */
  async generate(input: AskInput, params: SamplingParams): Promise<void> {
    const asker = this.leader ?? this.member;
    if (!asker) return;
    this.error = null;
    await this.answer.ask(asker, input, params);
    if (this.answer.error) this.fail(new Error(this.answer.error));
  }

  /** The leader's last answer in full (its plan view compares predictions with it). */
  get result(): GenerationOutput | null {
    return this.answer.full;
  }

  private readonly roomRate = new RateMeter();
  private roomLoadedSeen = 0;

  /** The room's download bar: every loading phone's bytes added up, with the room's rate and time left. */
  get roomLoading(): { loaded: number; total: number; text: string } | null {
    const loading = this.phones.filter((p) => p.state === 'loading' && p.total);
    if (loading.length === 0) {
      this.roomLoadedSeen = 0;
      return null;
    }
    const loaded = loading.reduce((s, p) => s + (p.loaded ?? 0), 0);
    const total = loading.reduce((s, p) => s + (p.total ?? 0), 0);
    if (loaded > this.roomLoadedSeen) this.roomRate.add(loaded - this.roomLoadedSeen);
    this.roomLoadedSeen = loaded;
    const rate = this.roomRate.bytesPerSecond();
    const left = secondsLeft(total - loaded, rate);
    const mb = (n: number) => (n / 1e6).toFixed(1);
    const parts = [
      `${loading.length} phone${loading.length > 1 ? 's' : ''} loading: ${mb(loaded)} of ${mb(total)} MB`,
    ];
    if (rate > 0) parts.push(`${mb(rate)} MB/s`);
    if (left !== null && loaded < total) parts.push(`${Math.ceil(left)} s left`);
    return { loaded, total, text: parts.join(' · ') };
  }

  /** The live plan view: which phone holds which blocks, predicted vs measured ms per token, busy. */
  get planView(): PlanViewData | null {
    const leader = this.leader;
    // With an answer on screen, show the predictions it was made under (learning restates them after).
    const rp = (this.result ? leader?.lastRunPlan : null) ?? leader?.roomPlan;
    const manifest = leader?.manifest;
    if (!leader || !rp || !manifest) return null;
    const name = (id: string) => leader.phones.find((p) => p.id === id)?.name ?? id;
    const measured = this.result ? (stepBreakdown(this.result)?.computeMs ?? null) : null;
    const measuredTotal = this.result?.tokensPerSecond ?? null;
    return {
      blocks: manifest.blocks.map((b) => ({ kind: b.kind, layer: b.layer })),
      stages: rp.stages.map((s, k) => ({
        phone: name(s.phoneId),
        firstBlock: s.firstBlock,
        lastBlock: s.lastBlock,
        predictedMs: s.predictedMs,
        measuredMs: measured?.[k] ?? null,
        busy: leader.phones.find((p) => p.id === s.phoneId)?.state === 'busy',
      })),
      leftOut: rp.leftOut.map((l) => ({ phone: name(l.phoneId), reason: l.reason })),
      planner: rp.planner,
      predictedTokensPerSecond: rp.predictedTokensPerSecond,
      measuredTokensPerSecond: measuredTotal,
      solveMs: rp.solveMs,
    };
  }

  /** Stops this page's answer (the others in the room go on). */
  stop(): void {
    this.answer.stop();
  }

  /**
   * Leaves the room: a phone's stage goes with it (the leader re-plans around it, and answers go on); the
   * leader's leaving ends the room on every phone.
   */
  leave(): void {
    this.leader?.destroy();
    this.member?.destroy();
    this.leader = null;
    this.member = null;
    this.phase = 'home';
    this.answer.clear();
    this.changed();
  }
}
