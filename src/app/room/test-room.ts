/**
 * A room for Node tests: a leader and member phones on the in-memory network, every stage a
 * LocalStageBackend on onnxruntime-node, the model's blocks served over HTTP by the real Chorus server.
 */
import path from 'node:path';
import { type RunningServer, startServer } from '../../../signaling-server/server';
import { prepareModel } from '../../../tools/room/prepare-models';
import { nodeSessionFactory } from '../../adapters/ort/node';
import { LocalStageBackend } from '../../core/pipeline/local-stage';
import type { DeviceCaps, SamplingParams } from '../../core/protocol/messages';
import { Leader, type RoomTabOptions, SELF } from '../leader';
import { Member } from '../member';
import { MemoryNetwork } from '../net/memory-network';

export const STORIES = path.resolve(import.meta.dirname, '../../../../shared/models/stories260k');

export interface StoriesPrompt {
  readonly prompt: string;
  readonly prompt_ids: number[];
  readonly generated_ids: number[];
}

export async function storiesReference(): Promise<StoriesPrompt[]> {
  const mod = (await import(path.join(STORIES, 'reference.json'), { with: { type: 'json' } })) as {
    default: { prompts: StoriesPrompt[] };
  };
  return mod.default.prompts;
}

export const greedy = (maxNewTokens: number): SamplingParams => ({
  temperature: 0,
  topK: 0,
  topP: 1,
  repetitionPenalty: 1,
  seed: 0,
  maxNewTokens,
});

const caps: DeviceCaps = { hardwareConcurrency: 1, webgpu: false, userAgent: 'node' };

export interface TestRoom {
  readonly leader: Leader;
  readonly members: Member[];
  /** Each phone's stage backend, by phone id (the leader's is SELF). */
  readonly backends: Map<string, LocalStageBackend>;
  readonly logs: string[];
  readonly net: MemoryNetwork;
  close(): Promise<void>;
}

/** Opens a room of `phones` phones (the leader included) and loads stories260k split evenly. */
export async function openTestRoom(phones: number, opts: { maxInFlight?: number } = {}): Promise<TestRoom> {
  const mount = await prepareModel(STORIES);
  const server: RunningServer = await startServer({
    host: '127.0.0.1',
    port: 0,
    https: 'off',
    appDir: null,
    models: [mount],
    log: () => {},
  });
  const net = new MemoryNetwork();
  const backends = new Map<string, LocalStageBackend>();
  const logs: string[] = [];
  const tab = (name: string): RoomTabOptions & { backend: LocalStageBackend } => ({
    openPeer: net.open,
    name,
    caps,
    backend: new LocalStageBackend(nodeSessionFactory),
    measure: () => Promise.reject(new Error('not measured in Node tests')),
    store: null,
    log: (line) => logs.push(`[${name}] ${line}`),
  });
  const leaderTab = tab('Leader');
  const leader = await Leader.create(
    { ...leaderTab, ...opts, solve: () => Promise.reject(new Error('no solver')) },
    () => {},
  );
  backends.set(SELF, leaderTab.backend);
  const members: Member[] = [];
  for (let i = 1; i < phones; i++) {
    const t = tab(`Phone ${i}`);
    const m = await Member.join(leader.roomId, { ...t, secret: leader.secret }, () => {});
    backends.set(m.id, t.backend);
    members.push(m);
  }
  leader.planner = 'even';
  await leader.loadModel({ kind: 'served', url: `${server.url}models/stories260k/`, name: 'stories260k' });
  return {
    leader,
    members,
    backends,
    logs,
    net,
    close: async () => {
      for (const m of members) m.destroy();
      leader.destroy();
      await server.close();
    },
  };
}
