/**
 * The room simulator: a real signaling server, N headless Chromium pages (one browser context = one
 * phone), a room formed through the real UI, and a prompt generated through the pipeline. Tests, benches
 * and people without three phones all use it.
 */

import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { type RunningServer, startServer } from '../../signaling-server/server';
import type { LoadStats } from '../../src/app/stage-host';
import type { AskInput, SamplingParams } from '../../src/core/protocol/messages';
import type { AskedAnswer } from '../../src/ui/debug-surface'; // and window.__chorus, the page's debug surface
import { REPO } from './prepare-models';
import { type RoomChange, reportOf, runScenario, type ScenarioReport } from './scenario';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface RoomResult {
  text: string;
  generatedIds: number[];
  promptIds: number[];
  tokensPerSecond: number;
  stoppedBy: string;
  stepMs: number[];
  stageTimesMs: number[][];
  /** Per step, per stage: how long that phone held the step (arrival to sending on). */
  residentMs: number[][];
  /** The plan, with its predictions as they stood before this answer. */
  plan: {
    id: string;
    planner: string;
    stages: {
      phoneId: string;
      phone: string;
      firstBlock: number;
      lastBlock: number;
      predictedMs: number | null;
      kernelPredictedMs: number | null;
      handlingMs: number | null;
    }[];
    leftOut: { phoneId: string; reason: string }[];
    predictedTokensPerSecond: number | null;
    predictedTokenMs: number | null;
    predictedLinkMs: number | null;
    remoteHops: number;
    solveMs: number | null;
  };
}

/** One question from one phone (`phone`: its index, 0 the leader). */
export interface Ask {
  readonly phone: number;
  readonly input: AskInput;
  readonly params: SamplingParams;
}

export interface PromptOptions {
  prompt?: string;
  promptIds?: number[];
  maxNewTokens?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  seed?: number;
}

export interface RoomOptions {
  readonly devices: number;
  readonly models: readonly { name: string; dir: string }[];
  readonly log?: (line: string) => void;
  readonly slowdowns?: readonly number[];
  readonly memoryMB?: readonly number[];
  /** Emulated download rate of each phone's HTTP fetches (its Wi-Fi), in Mbit/s; unlimited when absent. */
  readonly downloadMbps?: number;
  /**
   * Give the phones WebGPU: Chromium's software adapter (SwiftShader) — correct, but far slower than
   * WASM, so good for testing the WebGPU path, never for speed.
   */
  readonly webgpu?: boolean;
  /** Per phone: extra page URL settings, e.g. `{ prefill: 'webgpu' }` (see room-controller.ts). */
  readonly settings?: readonly (Readonly<Record<string, string>> | undefined)[];
}

/** How many of the pages' log lines a failing room shows. */
const RECENT_LINES = 60;

export class SimulatedRoom {
  private constructor(
    readonly server: RunningServer,
    readonly browser: Browser,
    readonly contexts: BrowserContext[],
    private readonly opts: RoomOptions,
  ) {}

  /** The phones' current pages (one per browser context); replaced by `reform`. */
  pages: Page[] = [];

  /**
   * `slowdowns[i]` makes phone i that many times slower (its worker sleeps (k − 1) × each run's time, so
   * its calibration and its stage slow down alike); `memoryMB[i]` caps what phone i offers.
   */
  static async open(opts: RoomOptions): Promise<SimulatedRoom> {
    const server = await startServer({
      host: '127.0.0.1',
      port: 0,
      appDir: path.join(REPO, 'dist'),
      models: [...opts.models],
      log: () => {},
    });
    const args = opts.webgpu ? [...CHROMIUM_ARGS, '--enable-unsafe-webgpu'] : CHROMIUM_ARGS;
    const browser = await chromium.launch({ executablePath: CHROMIUM, args });
    try {
      const contexts: BrowserContext[] = [];
      for (let i = 0; i < opts.devices; i++) contexts.push(await browser.newContext());
      const room = new SimulatedRoom(server, browser, contexts, opts);
      await room.form();
      return room;
    } catch (e) {
      await browser.close();
      await server.close();
      throw e;
    }
  }

  /**
   * Closes every phone's page and forms a new room with fresh pages in the same browser contexts: the
   * same phones coming back, with their IndexedDB caches.
   */
  async reform(): Promise<void> {
    for (const p of this.pages) await p.close();
    await this.form();
  }

  /** The pages' last log lines, shown when the room fails (a CI run is not verbose). */
  private readonly recent: string[] = [];

  /** Writes the pages' last log lines to the log, once per failure, unless they were shown already. */
  private showRecent(): void {
    if (process.env.CHORUS_VERBOSE || this.recent.length === 0) return;
    const log = this.opts.log ?? (() => {});
    log(`--- the pages' last ${this.recent.length} log lines ---\n${this.recent.join('\n')}\n---`);
    this.recent.length = 0;
  }

  /** The join link the leader showed (its origin, room and secret). */
  private joinLink = '';
  /** Each phone's id as the room knows it (the leader's own stage is 'leader'), by index; rejoins add. */
  private readonly ids = new Map<string, number>();

  private async newPhonePage(i: number): Promise<Page> {
    const log = this.opts.log ?? (() => {});
    const context = this.contexts[i]!;
    const page = await context.newPage();
    // Every line the page logs with CHORUS_VERBOSE=1 (what each phone's room did), errors always.
    const verbose = !!process.env.CHORUS_VERBOSE;
    page.on('console', (m) => {
      const line = `[phone ${i}] ${m.text()}`;
      this.recent.push(line);
      if (this.recent.length > RECENT_LINES) this.recent.shift();
      if (verbose || m.type() === 'error') log(line);
    });
    page.on('pageerror', (e) => log(`[phone ${i}] page error: ${e.message}`));
    if (this.opts.downloadMbps) {
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 2,
        downloadThroughput: (this.opts.downloadMbps * 1e6) / 8,
        uploadThroughput: (this.opts.downloadMbps * 1e6) / 8,
      });
    }
    return page;
  }

  private query(i: number): string {
    const q = new URLSearchParams();
    if (this.opts.slowdowns?.[i] && this.opts.slowdowns[i] !== 1)
      q.set('slowdown', String(this.opts.slowdowns[i]));
    if (this.opts.memoryMB?.[i]) q.set('memory', String(this.opts.memoryMB[i]));
    for (const [k, v] of Object.entries(this.opts.settings?.[i] ?? {})) q.set(k, v);
    return q.size ? `?${q}` : '';
  }

  private async joinOn(page: Page, i: number): Promise<void> {
    const [before, hash] = this.joinLink.split('#');
    await page.goto(`${before!.replace(/\?.*$/, '')}${this.query(i)}#${hash}`);
    const id = await page.waitForFunction(() => window.__chorus?.id() ?? null, undefined, { polling: 50 });
    this.ids.set((await id.jsonValue())!, i);
  }

  private async form(): Promise<void> {
    const log = this.opts.log ?? (() => {});
    this.pages = [];
    for (let i = 0; i < this.contexts.length; i++) this.pages.push(await this.newPhonePage(i));
    const leader = this.pages[0]!;
    await leader.goto(`${this.server.url}${this.query(0)}`);
    await leader.getByTestId('create-room').click();
    const link = await leader.getByTestId('join-link').getAttribute('href');
    if (!link) throw new Error('the leader page shows no join link');
    this.joinLink = link;
    this.ids.set('leader', 0);
    for (const [i, page] of this.pages.entries()) if (i > 0) await this.joinOn(page, i);
    await this.waitForStates(Array(this.pages.length).fill('idle'));
    log(`room formed with ${this.pages.length} phone(s)`);
  }

  /** Phone `i`'s page closes, as when its user closes the tab; resolves with the moment it closed. */
  async closePhone(i: number): Promise<number> {
    if (i < 1) throw new Error('the leader (phone 0) cannot leave in the simulator');
    await this.pages[i]!.close();
    return Date.now();
  }

  /** Phone `i`'s page opens the join link again in the same browser context (its cache kept). */
  async reopenPhone(i: number): Promise<void> {
    const page = await this.newPhonePage(i);
    this.pages[i] = page;
    await this.joinOn(page, i);
  }

  /** The simulator's index of a phone by its room id (undefined for an unknown one). */
  indexOf(phoneId: string): number | undefined {
    return this.ids.get(phoneId);
  }

  get leader(): Page {
    return this.pages[0]!;
  }

  /** The state of each phone card on the leader's page. */
  states(): Promise<string[]> {
    return this.leader
      .getByTestId('phone-card')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-state') ?? ''));
  }

  async waitForStates(want: string[], timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: string[] = [];
    while (Date.now() < deadline) {
      last = await this.states();
      if (last.length === want.length && last.every((s, i) => s === want[i])) return;
      if (last.includes('error')) break;
      await this.leader.waitForTimeout(100);
    }
    const error = await this.errorText();
    this.showRecent();
    throw new Error(
      `phones are [${last.join(', ')}], expected [${want.join(', ')}]${error ? `: ${error}` : ''}`,
    );
  }

  /** Waits until the leader has every phone measured (an even room measures them once it is ready). */
  async waitForMeasured(timeoutMs = 300_000): Promise<void> {
    await this.leader.waitForFunction(() => window.__chorus!.measured(), undefined, {
      timeout: timeoutMs,
      polling: 250,
    });
  }

  /**
   * Waits until every phone has cached its backups (its neighbours' blocks), as a room does in the pause
   * before its first question; returns how many blocks they fetched, and why any stopped early.
   */
  async waitForBackups(timeoutMs = 120_000): Promise<{ fetched: number; stopped: string[] }> {
    const deadline = Date.now() + timeoutMs;
    // Settled at two polls in a row: a round can end just as the leader sends a new one.
    let settledOnce = false;
    for (;;) {
      const all = await Promise.all(
        this.pages.filter((p) => !p.isClosed()).map((p) => p.evaluate(() => window.__chorus!.backups())),
      );
      const settled = all.every((b) => !b || b.pending === 0 || b.stopped);
      if (settled && !settledOnce) settledOnce = true;
      else if (settled)
        return {
          fetched: all.reduce((n, b) => n + (b?.fetched ?? 0), 0),
          stopped: all.flatMap((b) => (b?.stopped ? [b.stopped] : [])),
        };
      else settledOnce = false;
      if (Date.now() > deadline) throw new Error('the phones did not cache their backups in time');
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  /** Every phone of the plan ready (phones left out stay idle), and the load button free again. */
  private async waitForLoaded(timeoutMs: number): Promise<void> {
    await this.leader.waitForFunction(
      () => {
        const app = document.querySelector('chorus-app')?.shadowRoot;
        const picker = app?.querySelector('model-picker')?.shadowRoot;
        const button = picker?.querySelector('[data-testid=load-model]') as
          | HTMLButtonElement
          | null
          | undefined;
        const cards = [...(app?.querySelectorAll('phone-card') ?? [])].map((c) =>
          c.getAttribute('data-state'),
        );
        return (
          (button && !button.disabled && cards.length > 0 && cards.some((s) => s === 'ready')) ||
          app?.querySelector('[data-testid=room-error]')
        );
      },
      undefined,
      { timeout: timeoutMs, polling: 100 },
    );
    const error = await this.errorText();
    if (error) {
      this.showRecent();
      throw new Error(`loading failed: ${error}`);
    }
  }

  async errorText(): Promise<string | null> {
    const el = this.leader.getByTestId('room-error');
    return (await el.count()) ? el.textContent() : null;
  }

  /** Loads a model from the hub (or a mimic of it) through the picker's Hugging Face tab. */
  async loadHubModel(
    base: string,
    id: string,
    dtype: string,
    planner: 'solved' | 'even' = 'even',
    timeoutMs = 120_000,
  ) {
    const page = this.leader;
    await page.getByTestId('planner-select').selectOption(planner);
    await page.getByTestId('source-hub').check({ force: true });
    await page.locator('model-picker details').evaluate((d) => {
      (d as HTMLDetailsElement).open = true;
    });
    await page.getByTestId('hub-base').fill(base);
    await page.getByTestId('hub-id').fill(id);
    await page.getByTestId('hub-dtype').selectOption(dtype);
    await page.getByTestId('load-model').click();
    await this.waitForLoaded(timeoutMs);
  }

  /** Loads a model folder from the leader's disk (file picker); the phones get their blocks from it. */
  async loadLocalModel(dir: string, planner: 'solved' | 'even' = 'even', timeoutMs = 300_000) {
    const page = this.leader;
    await page.getByTestId('planner-select').selectOption(planner);
    await page.getByTestId('source-local').check({ force: true });
    await page.getByTestId('model-files').setInputFiles(dir);
    await page.getByTestId('load-model').click();
    await this.waitForLoaded(timeoutMs);
  }

  /** What each phone's last stage load moved: network vs cache bytes, corrupt entries, time (closed pages: none). */
  loadStats(): Promise<LoadStats[]> {
    const none: LoadStats = {
      bytesFromNetwork: 0,
      bytesFromCache: 0,
      corrupt: [],
      ms: 0,
      filesMs: 0,
      sessionMs: 0,
    };
    return Promise.all(
      this.pages.map((p) =>
        p.isClosed() ? none : p.evaluate(() => window.__chorus!.loadStats()).then((s) => s ?? none),
      ),
    );
  }

  /**
   * Loads a served model over the room's phones; resolves when every stage is ready. `planner`: 'solved'
   * (measure the phones, optimise with HiGHS; it may leave phones out) or 'even' (every phone, equal
   * parameters).
   */
  async loadModel(name: string, timeoutMs = 120_000, planner: 'solved' | 'even' = 'even'): Promise<void> {
    const url = `/models/${name}/`;
    await this.leader.getByTestId('planner-select').selectOption(planner);
    await this.leader.getByTestId('model-select').selectOption(url);
    await this.leader.getByTestId('load-model').click();
    await this.waitForLoaded(timeoutMs);
  }

  /** Fills the prompt panel and presses Generate; `waitForResult` collects the outcome. */
  async startGenerate(p: PromptOptions): Promise<void> {
    const page = this.leader;
    await page.locator('prompt-panel details').evaluate((d) => {
      (d as HTMLDetailsElement).open = true;
    });
    const fields: [string, number | undefined][] = [
      ['maxNewTokens', p.maxNewTokens],
      ['temperature', p.temperature],
      ['topK', p.topK],
      ['topP', p.topP],
      ['repetitionPenalty', p.repetitionPenalty],
      ['seed', p.seed],
    ];
    for (const [id, v] of fields) {
      if (v === undefined) continue;
      await page.getByTestId(id).fill(String(v));
      await page.getByTestId(id).dispatchEvent('change');
    }
    await page.getByTestId('prompt').fill(p.prompt ?? '');
    await page.getByTestId('prompt-ids').fill(p.promptIds ? p.promptIds.join(',') : '');
    await page.getByTestId('generate').click();
  }

  async waitForResult(timeoutMs = 120_000): Promise<RoomResult> {
    const page = this.leader;
    await page.waitForFunction(
      () => {
        const app = document.querySelector('chorus-app')?.shadowRoot;
        const stop = app?.querySelector('prompt-panel')?.shadowRoot?.querySelector('[data-testid=stop]') as
          | HTMLButtonElement
          | null
          | undefined;
        return (
          stop?.disabled === true &&
          (app?.querySelector('[data-testid=result]') || app?.querySelector('[data-testid=room-error]'))
        );
      },
      undefined,
      { timeout: timeoutMs, polling: 50 },
    );
    const error = await this.errorText();
    if (error) {
      this.showRecent();
      throw new Error(`generation failed: ${error}`);
    }
    const json = await page.getByTestId('result').getAttribute('data-json');
    const result = JSON.parse(json!) as RoomResult;
    const names = Object.fromEntries(
      (await page.evaluate(() => window.__chorus!.phones())).map((p) => [p.id, p.name]),
    );
    result.plan = {
      ...result.plan,
      stages: result.plan.stages.map((s) => ({ ...s, phone: names[s.phoneId] ?? s.phoneId })),
    };
    return result;
  }

  async generate(p: PromptOptions, timeoutMs = 120_000): Promise<RoomResult> {
    await this.startGenerate(p);
    return this.waitForResult(timeoutMs);
  }

  /** Generates while phones leave, slow down or rejoin (tools/room/scenario.ts), and reports the room's moves. */
  async generateWith(
    p: PromptOptions,
    changes: readonly RoomChange[],
    timeoutMs = 120_000,
  ): Promise<RoomResult & ScenarioReport> {
    const since = Date.now();
    await this.startGenerate(p);
    const result = this.waitForResult(timeoutMs);
    const closedAt = await runScenario(this, changes, result);
    const r = await result;
    const history = await this.leader.evaluate(() => window.__chorus!.history());
    return { ...r, ...reportOf(this, history, closedAt, since) };
  }

  /**
   * Asks from several phones at the same moment (each page's debug `ask`, not its prompt box, so none
   * waits for another's typing); resolves with each answer as its asking phone heard it.
   */
  async askAll(asks: readonly Ask[], timeoutMs = 600_000): Promise<AskedAnswer[]> {
    const run = Promise.all(
      asks.map((a) => {
        const page = this.pages[a.phone];
        if (!page || page.isClosed()) throw new Error(`phone ${a.phone} has no open page`);
        return page.evaluate(([input, params]) => window.__chorus!.ask(input, params), [
          a.input,
          a.params,
        ] as const);
      }),
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${asks.length} answers did not end in ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([run, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Round-trip times (ms) from the leader to every other phone, `count` small pings each. */
  async rtts(count = 20): Promise<number[]> {
    const byPhone = await this.leader.evaluate((n) => window.__chorus!.measureRtts(n), count);
    return Object.values(byPhone).flat();
  }

  async close(): Promise<void> {
    await this.browser.close().catch(() => {});
    await this.server.close();
  }
}
