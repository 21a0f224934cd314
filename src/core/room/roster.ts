/** The leader's view of the room's phones, as a pure reducer over events. */
import type { PhoneInfo, PhoneState } from '../protocol/messages';

export type RosterEvent =
  | { kind: 'joined'; id: string; name: string }
  | { kind: 'state'; id: string; state: PhoneState; loaded?: number; total?: number; detail?: string }
  | { kind: 'assigned'; id: string; blocks: [number, number] | undefined }
  | { kind: 'measured'; id: string; summary: string }
  | { kind: 'left'; id: string };

export function applyRosterEvent(phones: readonly PhoneInfo[], e: RosterEvent): PhoneInfo[] {
  switch (e.kind) {
    case 'joined':
      return [...phones.filter((p) => p.id !== e.id), { id: e.id, name: e.name, state: 'joining' }];
    case 'state':
      return phones.map((p) => {
        if (p.id !== e.id) return p;
        const { loaded, total, detail, ...rest } = p;
        void loaded;
        void total;
        void detail;
        return {
          ...rest,
          state: e.state,
          ...(e.loaded !== undefined ? { loaded: e.loaded } : {}),
          ...(e.total !== undefined ? { total: e.total } : {}),
          ...(e.detail !== undefined ? { detail: e.detail } : {}),
        };
      });
    case 'assigned':
      return phones.map((p) => {
        if (p.id !== e.id) return p;
        const { blocks, ...rest } = p;
        void blocks;
        return e.blocks ? { ...rest, blocks: e.blocks } : rest;
      });
    case 'measured':
      return phones.map((p) => (p.id === e.id ? { ...p, measured: e.summary } : p));
    case 'left':
      return phones.map((p) => (p.id === e.id ? { ...p, state: 'left' as const } : p));
  }
}

/** Phones that can take part in a plan, in join order. */
export function activePhones(phones: readonly PhoneInfo[]): PhoneInfo[] {
  return phones.filter((p) => p.state !== 'left' && p.state !== 'error');
}
