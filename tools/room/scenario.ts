/**
 * What happens to the room while it answers, in the simulator: `--leave I@T` closes phone I's page when
 * the answer has T tokens, `--slow I:K@T` makes phone I K times slower from then on, `--rejoin I@T` opens
 * phone I's page again in the same browser context. The warm-up does not count; with several answers in
 * flight, the tokens are the oldest one's.
 */
import type { RoomEvent } from '../../src/app/room/room-plans';
import type { SimulatedRoom } from './simulator';

export type RoomChange =
  | { readonly kind: 'leave' | 'rejoin'; readonly phone: number; readonly atToken: number }
  | { readonly kind: 'slow'; readonly phone: number; readonly factor: number; readonly atToken: number };

function parseOne(kind: RoomChange['kind'], spec: string, devices: number): RoomChange {
  const m = kind === 'slow' ? /^(\d+):([\d.]+)@(\d+)$/.exec(spec) : /^(\d+)@(\d+)$/.exec(spec);
  const form = kind === 'slow' ? 'I:K@T, e.g. 1:6@10' : 'I@T, e.g. 1@10';
  if (!m) throw new Error(`--${kind} ${spec}: expected ${form}`);
  const phone = Number(m[1]);
  const atToken = Number(m.at(-1));
  const lowest = kind === 'slow' ? 0 : 1; // the leader's own page cannot leave: it is the room
  if (phone < lowest || phone >= devices)
    throw new Error(`--${kind} ${spec}: phone must be ${lowest} to ${devices - 1}`);
  if (kind !== 'slow') return { kind, phone, atToken };
  const factor = Number(m[2]);
  if (!(factor >= 1)) throw new Error(`--slow ${spec}: the factor must be ≥ 1`);
  return { kind, phone, factor, atToken };
}

export function parseChanges(
  flags: { leave?: string[]; slow?: string[]; rejoin?: string[] },
  devices: number,
): RoomChange[] {
  return (['leave', 'slow', 'rejoin'] as const)
    .flatMap((kind) => (flags[kind] ?? []).map((spec) => parseOne(kind, spec, devices)))
    .sort((a, b) => a.atToken - b.atToken);
}

export interface ScenarioReport {
  replans: {
    atToken: number;
    reason: string;
    fromPlan: string | null;
    toPlan: string;
    stages: { phone: number | string; firstBlock: number; lastBlock: number }[];
    pauseMs: number;
    readAheadMs: number;
    loadMs: number;
    replayMs: number;
  }[];
  faults: { phone: number | string; atToken: number; detectedMs: number | null; resumedMs: number | null }[];
}

/**
 * Fires `changes` as the answer's tokens pass their marks, until `done` settles. Returns when each
 * phone's page closed (epoch ms), for the fault report.
 */
export async function runScenario(
  room: SimulatedRoom,
  changes: readonly RoomChange[],
  done: Promise<unknown>,
): Promise<Map<number, number>> {
  const closedAt = new Map<number, number>();
  let finished = false;
  const finish = () => {
    finished = true;
  };
  void done.then(finish, finish);
  const due = [...changes];
  while (due.length && !finished) {
    const tokens = await room.leader.evaluate(() => window.__chorus!.tokensOut()).catch(() => 0);
    while (due.length && due[0]!.atToken <= tokens) {
      const c = due.shift()!;
      if (c.kind === 'leave') closedAt.set(c.phone, await room.closePhone(c.phone));
      else if (c.kind === 'rejoin') await room.reopenPhone(c.phone);
      else if (c.kind === 'slow')
        await room.pages[c.phone]!.evaluate((k) => window.__chorus!.setSlowdown(k), c.factor);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return closedAt;
}

/** The leader's history in the simulator's terms: phone indices, times from each page's closing. */
export function reportOf(
  room: SimulatedRoom,
  history: readonly RoomEvent[],
  closedAt: Map<number, number>,
  since: number,
): ScenarioReport {
  const index = (id: string) => room.indexOf(id) ?? id;
  const report: ScenarioReport = { replans: [], faults: [] };
  for (const e of history) {
    if (e.kind === 'replan') {
      if (e.reason === 'load' || e.at < since) continue;
      const stages = e.stages.map((s) => ({
        phone: index(s.phoneId),
        firstBlock: s.firstBlock,
        lastBlock: s.lastBlock,
      }));
      report.replans.push({
        atToken: e.atToken,
        reason: e.reason,
        fromPlan: e.fromPlan,
        toPlan: e.toPlan,
        stages,
        pauseMs: e.pauseMs,
        readAheadMs: e.readAheadMs,
        loadMs: e.loadMs,
        replayMs: e.replayMs,
      });
    } else if (e.detectedAt >= since) {
      const phone = index(e.phone);
      const closed = typeof phone === 'number' ? closedAt.get(phone) : undefined;
      const from = (t: number | null) => (t === null || closed === undefined ? null : t - closed);
      report.faults.push({
        phone,
        atToken: e.atToken,
        detectedMs: from(e.detectedAt),
        resumedMs: from(e.resumedAt),
      });
    }
  }
  return report;
}
