/**
 * Before planning, the leader surveys its room: every phone times the calibration kernel at the model's
 * layer shapes (a `measure` → `profile` exchange, the leader's own tab included) and the leader measures
 * each phone's link: round-trip time of a small message and throughput of a 256 KB probe. On one Wi-Fi,
 * phone-to-phone traffic crosses the access point, so a phone's link to the leader stands for its link to
 * any other phone (placement combines two phones' links).
 */
import { PendingRequests } from '../core/pending';
import type { DeviceProfile, LayerShapeSpec, Message } from '../core/protocol/messages';
import { median } from '../core/stats';

export interface LinkStats {
  readonly rttMs: number;
  readonly bytesPerMs: number;
}

export interface SurveyResult {
  readonly profiles: ReadonlyMap<string, DeviceProfile>;
  readonly links: ReadonlyMap<string, LinkStats>;
}

const PROBE_BYTES = 256 * 1024;

export class RoomSurvey {
  private readonly profiles = new Map<string, { key: string; profile: DeviceProfile }>();
  private readonly waiting = new PendingRequests<string, DeviceProfile>();

  constructor(
    private readonly send: (phoneId: string, m: Message) => void,
    private readonly ping: (phoneId: string, bytes: number) => Promise<number>,
  ) {}

  /** Call for every `profile` message. */
  received(phoneId: string, profile: DeviceProfile): void {
    this.profiles.set(phoneId, { key: shapeKey(profile.shape), profile });
    this.waiting.resolve(phoneId, profile);
  }

  /** Whether `phoneId` is measuring itself now (its main thread may be busy: heartbeats spare it). */
  measuring(phoneId: string): boolean {
    return this.waiting.has(phoneId);
  }

  /** A phone reported that it could not measure itself: the survey fails with its reason. */
  failed(phoneId: string, reason: string): void {
    this.waiting.reject(phoneId, new Error(reason));
  }

  /** A phone left: stop waiting for it. */
  forget(phoneId: string): void {
    this.profiles.delete(phoneId);
    this.waiting.reject(phoneId, new Error(`phone ${phoneId} left while measuring itself`));
  }

  /** Profiles for these phones at this shape: measured once per phone and shape, then reused. */
  async survey(
    phoneIds: readonly string[],
    remote: readonly string[],
    shape: LayerShapeSpec,
    timeoutMs = 120_000,
  ): Promise<SurveyResult> {
    const key = shapeKey(shape);
    const profiles = new Map<string, DeviceProfile>();
    // One phone at a time: real phones would not disturb each other, but emulated ones share this
    // machine's cores, and a kernel timed while another runs would make every phone look slower.
    for (const id of phoneIds) {
      const known = this.profiles.get(id);
      if (known?.key === key) {
        profiles.set(id, known.profile);
        continue;
      }
      const answer = this.waiting.wait(id, timeoutMs, `phone ${id}'s measurements`);
      this.send(id, { kind: 'measure', shape });
      profiles.set(id, await answer);
    }
    const links = new Map<string, LinkStats>();
    for (const id of remote) links.set(id, await this.measureLink(id));
    return { profiles, links };
  }

  private async measureLink(id: string): Promise<LinkStats> {
    await this.ping(id, PROBE_BYTES); // the first bulk transfer on a fresh channel stalls: not a measurement
    const rtts: number[] = [];
    for (let i = 0; i < 7; i++) rtts.push(await this.ping(id, 0));
    const bulk: number[] = [];
    for (let i = 0; i < 3; i++) bulk.push(await this.ping(id, PROBE_BYTES));
    const rttMs = median(rtts);
    const transferMs = Math.max(median(bulk) - rttMs, 0.05);
    return { rttMs, bytesPerMs: PROBE_BYTES / transferMs };
  }
}

const shapeKey = (s: LayerShapeSpec) => `${s.hidden}/${s.kvDim}/${s.intermediate}`;
