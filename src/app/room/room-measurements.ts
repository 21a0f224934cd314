/**
 * What the leader knows of its phones' speeds and links at the loaded model's shapes (app/room-survey.ts
 * runs the exchanges). Every phone is measured whatever chose the first plan, so a re-plan (a fault, a
 * slow phone) can always be solved:
 * - a solved room is measured before it plans (`measureNow`);
 * - an even room is measured after it is ready, one phone at a time and only between answers
 *   (`measureLater`): a phone timing its kernel would slow the answer it also runs, and an answer
 *   that starts meanwhile waits for that one phone (`settled`) rather than run beside it;
 * - a phone that joins later is measured alone and added (`add`).
 * Until every phone of the room is measured, `surveyed` stays null: plans split evenly and nothing is
 * priced, rather than compare measured phones with guessed ones.
 */
import type { DeviceProfile, LayerShapeSpec, Message } from '../../core/protocol/messages';
import { type LinkStats, RoomSurvey, type SurveyResult } from '../room-survey';

export interface MeasurementDeps {
  readonly send: (phoneId: string, m: Message) => void;
  readonly ping: (phoneId: string, bytes: number) => Promise<number>;
  /** The leader's own phone id (its link is not measured: it has none). */
  readonly self: string;
  readonly log: (line: string) => void;
}

export class RoomMeasurements {
  surveyed: SurveyResult | null = null;
  private readonly survey: RoomSurvey;
  /** The measurement in flight, if any: answers wait for it. */
  private running: Promise<unknown> | null = null;
  /** Bumped per model: a background survey of an older model stops. */
  private generation = 0;

  constructor(private readonly deps: MeasurementDeps) {
    this.survey = new RoomSurvey(deps.send, deps.ping);
  }

  received(id: string, profile: DeviceProfile): void {
    this.survey.received(id, profile);
  }

  failed(id: string, reason: string): void {
    this.survey.failed(id, reason);
  }

  /** Whether this phone is measuring itself now. */
  measuring(id: string): boolean {
    return this.survey.measuring(id);
  }

  forget(id: string): void {
    this.survey.forget(id);
  }

  /** A new model: nothing measured carries over (the shapes differ), and any background survey stops. */
  reset(): void {
    this.surveyed = null;
    this.generation++;
  }

  /** Resolves once no phone is measuring itself. */
  async settled(): Promise<void> {
    while (this.running) await this.running.catch(() => {});
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.running = p;
    const clear = () => {
      if (this.running === p) this.running = null;
    };
    p.then(clear, clear);
    return p;
  }

  /** Measures these phones now (in turn) and their links. */
  async measureNow(ids: readonly string[], shape: LayerShapeSpec): Promise<void> {
    const gen = this.generation;
    const result = await this.track(this.survey.survey(ids, this.remote(ids), shape));
    if (gen === this.generation) this.surveyed = result;
  }

  /**
   * Measures these phones one by one, each once `idle` says no answer runs; `done` is told when the
   * whole room is measured (and `surveyed` set).
   */
  measureLater(
    ids: () => readonly string[],
    shape: LayerShapeSpec,
    idle: () => Promise<void>,
    done: () => void,
  ): void {
    const gen = this.generation;
    const profiles = new Map<string, DeviceProfile>();
    const links = new Map<string, LinkStats>();
    void (async () => {
      for (;;) {
        const left = ids().filter((id) => !profiles.has(id));
        if (!left.length) break;
        await idle();
        if (gen !== this.generation) return;
        const id = left[0]!;
        let one: SurveyResult;
        try {
          one = await this.track(this.survey.survey([id], this.remote([id]), shape));
        } catch (e) {
          if (!ids().includes(id)) continue; // it left meanwhile: measure the others
          throw e;
        }
        for (const [k, v] of one.profiles) profiles.set(k, v);
        for (const [k, v] of one.links) links.set(k, v);
      }
      if (gen !== this.generation) return;
      const here = new Set(ids());
      this.surveyed = {
        profiles: new Map([...profiles].filter(([id]) => here.has(id))),
        links: new Map([...links].filter(([id]) => here.has(id))),
      };
      this.deps.log(`every phone is measured (${here.size}): re-plans can be solved`);
      done();
    })().catch((e: unknown) => {
      // An even room without measurements still runs; its re-plans split evenly.
      this.deps.log(`measuring the room in the background stopped: ${e instanceof Error ? e.message : e}`);
    });
  }

  /** A phone that joined a measured room: measured alone, then part of the survey. */
  async add(id: string, shape: LayerShapeSpec): Promise<void> {
    const before = this.surveyed;
    if (!before) return;
    const gen = this.generation;
    const more = await this.track(this.survey.survey([id], this.remote([id]), shape));
    if (gen !== this.generation || this.surveyed !== before) return;
    this.surveyed = {
      profiles: new Map([...before.profiles, ...more.profiles]),
      links: new Map([...before.links, ...more.links]),
    };
  }

  private remote(ids: readonly string[]): string[] {
    return ids.filter((id) => id !== this.deps.self);
  }
}
