/**
 * The leader: the tab that made the room. It admits phones that know the room secret, keeps the roster,
 * plans which phone runs which blocks, tokenizes, drives the generation loop and samples. Its own device
 * runs a stage too, reached through a loopback link like any other phone.
 */
import { loadTokenizer, type TextTokenizer } from '../adapters/tokenizer/hf-tokenizer';
import type { Manifest } from '../core/graph/manifest';
import { type GenerationResult, generate, stopIdsOf } from '../core/pipeline/generation';
import type { Link } from '../core/ports';
import type { Message, PhoneInfo, SamplingParams } from '../core/protocol/messages';
import { assignments, evenSplitByParams, leaderInputs, type Plan } from '../core/room/plan';
import { activePhones, applyRosterEvent, type RosterEvent } from '../core/room/roster';
import { fetchManifest } from './block-fetch';
import { loopbackPair } from './loopback-link';
import { RoomNode, type RoomNodeOptions } from './room-node';

export const LEADER_PEER_PREFIX = 'chorus-';
const SELF = 'leader';

function randomToken(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return [...b]
    .map((x) => x.toString(36).padStart(2, '0'))
    .join('')
    .slice(0, bytes * 2);
}

export interface GenerationOutput extends GenerationResult {
  readonly promptIds: number[];
  readonly text: string;
  readonly tokensPerSecond: number;
}

type Pending = { resolve: (m: Extract<Message, { kind: 'logits' }>) => void; reject: (e: Error) => void };

export class Leader extends RoomNode {
  phones: PhoneInfo[] = [];
  plan: Plan | null = null;
  manifest: Manifest | null = null;
  private tokenizer: TextTokenizer | null = null;
  private readonly deviceLinks = new Map<string, Link>();
  private readonly pending = new Map<string, Pending>();
  private readonly waiters: (() => void)[] = [];
  private abort: AbortController | null = null;
  private joined = 0;

  private constructor(
    node: Awaited<ReturnType<typeof RoomNode.openNode>>,
    opts: RoomNodeOptions,
    readonly roomId: string,
    private readonly onChange: () => void,
  ) {
    const [toSelf, fromLeader] = loopbackPair(SELF, SELF);
    super(node, opts, fromLeader);
    fromLeader.onMessage((m) => this.stage.handle(m, fromLeader));
    toSelf.onMessage((m) => this.fromDevice(SELF, m));
    this.deviceLinks.set(SELF, toSelf);
    this.update({ kind: 'joined', id: SELF, name: opts.name });
    this.update({ kind: 'state', id: SELF, state: 'idle', detail: 'in the room, no blocks yet' });
  }

  static async create(
    opts: Omit<RoomNodeOptions, 'secret' | 'peerId'>,
    onChange: () => void,
  ): Promise<Leader> {
    const roomId = randomToken(6);
    const full = { ...opts, secret: randomToken(12), peerId: `${LEADER_PEER_PREFIX}${roomId}` };
    return new Leader(await RoomNode.openNode(full), full, roomId, onChange);
  }

  get secret(): string {
    return this.opts.secret;
  }

  private update(e: RosterEvent): void {
    this.phones = applyRosterEvent(this.phones, e);
    const roster: Message = { kind: 'roster', phones: this.phones, planId: this.plan?.id ?? null };
    for (const [id, link] of this.deviceLinks) if (id !== SELF) link.send(roster);
    for (const w of this.waiters.splice(0)) w();
    this.onChange();
  }

  protected greeted(link: Link): void {
    if (this.deviceLinks.has(link.remoteId)) return; // a pipeline link from a phone already here
    this.deviceLinks.set(link.remoteId, link);
    link.send({ kind: 'welcome', roomId: this.roomId, phoneId: link.remoteId });
    this.update({ kind: 'joined', id: link.remoteId, name: `Phone ${++this.joined}` });
    this.update({ kind: 'state', id: link.remoteId, state: 'idle', detail: 'in the room, no blocks yet' });
  }

  protected dispatch(m: Message, from: Link): void {
    if (this.stage.handle(m, from)) return;
    this.fromDevice(from.remoteId, m);
  }

  protected closed(link: Link): void {
    if (this.deviceLinks.get(link.remoteId) !== link) return;
    this.deviceLinks.delete(link.remoteId);
    this.update({ kind: 'left', id: link.remoteId });
    const name = this.phones.find((p) => p.id === link.remoteId)?.name ?? link.remoteId;
    if (this.plan?.stages.some((s) => s.phoneId === link.remoteId)) {
      for (const p of this.pending.values()) p.reject(new Error(`${name} left the room mid-answer`));
      this.pending.clear();
    }
  }

  private fromDevice(id: string, m: Message): void {
    switch (m.kind) {
      case 'state':
        this.update({
          kind: 'state',
          id,
          state: m.state,
          loaded: m.loaded,
          total: m.total,
          detail: m.detail,
        });
        return;
      case 'logits': {
        const key = `${m.requestId}:${m.step}`;
        this.pending.get(key)?.resolve(m);
        this.pending.delete(key);
        return;
      }
      case 'error':
        this.opts.log(`error from ${id}: ${m.message}`);
        for (const [key, p] of this.pending) {
          if (!m.requestId || key.startsWith(`${m.requestId}:`)) {
            p.reject(new Error(m.message));
            this.pending.delete(key);
          }
        }
        return;
      default:
        this.opts.log(`ignored ${m.kind} from ${id}`);
    }
  }

  /** Plans the room over its phones (this one first) and has each load its stage; resolves when all are ready. */
  async loadModel(modelBase: string): Promise<Plan> {
    const manifest = await fetchManifest(modelBase);
    const [tokJson, tokConfig] = await Promise.all(
      [manifest.files.tokenizer, manifest.files.tokenizerConfig].map(async (ref) =>
        ref ? (await fetch(new URL(ref.file, modelBase))).json() : null,
      ),
    );
    this.tokenizer = tokJson ? loadTokenizer(tokJson, tokConfig) : null;
    this.manifest = manifest;
    const phoneIds = activePhones(this.phones).map((p) => p.id);
    const plan = evenSplitByParams(manifest, phoneIds, randomToken(4));
    this.plan = plan;
    const jobs = assignments(manifest, plan, modelBase);
    for (const p of this.phones) {
      const s = plan.stages.find((st) => st.phoneId === p.id);
      this.update({ kind: 'assigned', id: p.id, blocks: s ? [s.firstBlock, s.lastBlock] : undefined });
    }
    for (const [k, a] of jobs.entries()) {
      this.deviceLinks.get(plan.stages[k]!.phoneId)?.send({ kind: 'assign', assignment: a });
    }
    await this.until(() => {
      const states = plan.stages.map((s) => this.phones.find((p) => p.id === s.phoneId));
      const bad = states.find((p) => !p || p.state === 'error' || p.state === 'left');
      if (bad) throw new Error(`${bad.name} could not load its blocks: ${bad.detail ?? bad.state}`);
      return states.every((p) => p?.state === 'ready');
    });
    await this.warmUp();
    return plan;
  }

  /**
   * One throwaway request through the whole pipeline: the runtime's first run of a session costs
   * 100–300 ms and a fresh data channel stalls on its first transfer; neither should land on the
   * user's first token.
   */
  private async warmUp(): Promise<void> {
    const params = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0, maxNewTokens: 2 };
    try {
      await this.generate({ ids: [0, 0, 0, 0, 0, 0, 0, 0] }, params, () => {});
    } catch (e) {
      this.opts.log(`warm-up failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private until(done: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        try {
          if (done()) return resolve();
          this.waiters.push(check);
        } catch (e) {
          reject(e);
        }
      };
      check();
    });
  }

  encode(text: string): number[] {
    if (!this.tokenizer) throw new Error('this model has no tokenizer.json: give token ids');
    return this.tokenizer.encode(text);
  }

  decode(ids: readonly number[]): string {
    return this.tokenizer ? this.tokenizer.decode(ids) : ids.join(' ');
  }

  async generate(
    input: { text: string } | { ids: number[] },
    params: SamplingParams,
    onToken: (text: string, ids: readonly number[]) => void,
  ): Promise<GenerationOutput> {
    const manifest = this.manifest;
    const plan = this.plan;
    if (!manifest || !plan) throw new Error('load a model first');
    const promptIds = 'ids' in input ? input.ids : this.encode(input.text);
    const first = this.deviceLinks.get(plan.stages[0]!.phoneId);
    if (!first) throw new Error('the first stage’s phone has left');
    const requestId = randomToken(6);
    const inputNames = new Set(leaderInputs(manifest));
    this.abort = new AbortController();
    const ids: number[] = [];
    const t0 = performance.now();
    try {
      const result = await generate(
        {
          requestId,
          promptIds,
          params,
          stopIds: stopIdsOf(manifest.config, manifest.generationConfig),
          inputSpecs: manifest.inputs.filter((s) => inputNames.has(s.name)),
          signal: this.abort.signal,
          onToken: (id) => {
            ids.push(id);
            onToken(this.decode(ids), ids);
          },
        },
        (rid, step, tensors) =>
          new Promise((resolve, reject) => {
            this.pending.set(`${rid}:${step}`, {
              resolve: (m) =>
                resolve({ logits: m.logits.data as Float32Array, stageTimesMs: m.stageTimesMs }),
              reject,
            });
            first.send({ kind: 'activations', requestId: rid, step, tensors, stageTimesMs: [] });
          }),
      );
      const seconds = (performance.now() - t0) / 1000;
      const decodeMs = result.stepMs.slice(1).reduce((a, b) => a + b, 0);
      return {
        ...result,
        promptIds,
        text: this.decode(result.generatedIds),
        tokensPerSecond:
          decodeMs > 0
            ? (result.stepMs.length - 1) / (decodeMs / 1000)
            : result.generatedIds.length / seconds,
      };
    } finally {
      for (const s of plan.stages) this.deviceLinks.get(s.phoneId)?.send({ kind: 'release', requestId });
      this.abort = null;
    }
  }

  /** Round-trip times to each phone of the room (ms), `count` pings each, one after another. */
  async measureRtts(count = 20): Promise<Record<string, number[]>> {
    const out: Record<string, number[]> = {};
    for (const [id, link] of this.deviceLinks) {
      if (id === SELF) continue;
      out[id] = [];
      for (let i = 0; i < count; i++) out[id].push(await this.ping(link));
    }
    return out;
  }

  stop(): void {
    this.abort?.abort();
  }
}
