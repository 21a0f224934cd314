import { describe, expect, it } from 'vitest';
import { KIND_CODES, type MessageKind } from '../protocol/messages';
import { route, type Sender } from './routes';

const leader: Sender = { isLeader: true, isPredecessor: false, isLastStage: false };
const stranger: Sender = { isLeader: false, isPredecessor: false, isLastStage: false };
const predecessor: Sender = { isLeader: false, isPredecessor: true, isLastStage: false };
const lastStage: Sender = { isLeader: false, isPredecessor: false, isLastStage: true };
const kinds = Object.keys(KIND_CODES) as MessageKind[];

describe('routes', () => {
  it('a member phone can send another member no control message', () => {
    for (const kind of ['assign', 'measure', 'unload', 'release', 'roster', 'block-chunk'] as const) {
      expect(route(kind, 'member', stranger).ok, kind).toBe(false);
      expect(route(kind, 'member', predecessor).ok, kind).toBe(false);
      expect(route(kind, 'member', leader).ok, kind).toBe(
        kind === 'roster' || route(kind, 'leader', leader).ok,
      );
    }
  });

  it('activations only from the leader or the previous stage', () => {
    expect(route('activations', 'member', predecessor).ok).toBe(true);
    expect(route('activations', 'member', leader).ok).toBe(true);
    expect(route('activations', 'member', stranger)).toEqual({
      ok: false,
      reason: 'activations come only from the previous stage of the current plan',
    });
    expect(route('activations', 'leader', lastStage).ok).toBe(false);
  });

  it('logits only from the last stage, and only to the leader', () => {
    expect(route('logits', 'leader', lastStage).ok).toBe(true);
    expect(route('logits', 'leader', predecessor).ok).toBe(false);
    expect(route('logits', 'member', lastStage).ok).toBe(false);
  });

  it('reports go to the leader, never to a member', () => {
    for (const kind of ['state', 'profile', 'error', 'block-request'] as const) {
      expect(route(kind, 'leader', stranger).ok).toBe(true);
      expect(route(kind, 'member', leader).ok).toBe(false);
    }
  });

  it('handshake kinds are refused after the handshake; pings pass everywhere', () => {
    for (const kind of kinds) {
      const v = route(kind, 'member', stranger);
      if (kind === 'hello' || kind === 'welcome' || kind === 'refused') expect(v.ok).toBe(false);
      if (kind === 'ping' || kind === 'pong' || kind === 'probe') expect(v.ok).toBe(true);
    }
  });
});
