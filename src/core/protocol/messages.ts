/**
 * Every message phones exchange, as one discriminated union keyed by `kind`. Control messages and
 * tensor-carrying messages share one type so a single exhaustive `switch` handles all of them; the
 * binary codec (codec.ts) decides how each travels.
 */
import type { NamedTensors, Tensor } from '../tensor';

export type PhoneState = 'joining' | 'idle' | 'measuring' | 'loading' | 'ready' | 'busy' | 'error' | 'left';

export const PHONE_STATES: readonly PhoneState[] = [
  'joining',
  'idle',
  'measuring',
  'loading',
  'ready',
  'busy',
  'error',
  'left',
];

export interface PhoneInfo {
  id: string;
  name: string;
  state: PhoneState;
  loaded?: number;
  total?: number;
  detail?: string;
  /** First and last block index this phone runs, inclusive. */
  blocks?: [number, number];
}

export interface DeviceCaps {
  hardwareConcurrency: number;
  deviceMemoryGB?: number;
  webgpu: boolean;
  userAgent: string;
}

export interface SamplingParams {
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  seed: number;
  maxNewTokens: number;
}

export interface StageAssignment {
  stageIndex: number;
  stageCount: number;
  /** URL of the model's shard folder (manifest.json lives there). */
  modelBase: string;
  /** Inclusive block range this phone runs. */
  firstBlock: number;
  lastBlock: number;
  /** Peer id to send activations to; null = this is the last stage, send logits to the leader. */
  nextPeer: string | null;
  /** Tensor names this stage must send on: its outputs plus relayed inputs later stages need. */
  forward: string[];
  planId: string;
}

export type Message =
  /** joiner → leader, first message. */
  | { kind: 'hello'; name: string; secret: string; caps: DeviceCaps }
  /** leader → joiner. */
  | { kind: 'welcome'; roomId: string; phoneId: string }
  /** leader → joiner, then the leader closes the connection. */
  | { kind: 'refused'; reason: string }
  /** leader → everyone, whenever the room changes. */
  | { kind: 'roster'; phones: PhoneInfo[]; planId: string | null }
  /** phone → leader. */
  | { kind: 'state'; state: PhoneState; loaded?: number; total?: number; detail?: string }
  /** leader → phone. */
  | { kind: 'assign'; assignment: StageAssignment }
  /**
   * stage → next stage. Step 0 is the prefill and resets that request's KV cache. Each stage appends
   * its own run time to `stageTimesMs` so the leader sees the whole pipeline's timing.
   */
  | {
      kind: 'activations';
      requestId: string;
      step: number;
      tensors: NamedTensors;
      stageTimesMs: number[];
    }
  /** last stage → leader: only the last position's logits row. */
  | { kind: 'logits'; requestId: string; step: number; logits: Tensor; stageTimesMs: number[] }
  /** leader → stages: free that request's KV cache. */
  | { kind: 'release'; requestId: string }
  | { kind: 'error'; requestId?: string; message: string }
  | { kind: 'ping'; nonce: number; sentAt: number }
  | { kind: 'pong'; nonce: number; sentAt: number };

export type MessageKind = Message['kind'];

/** The message of one kind, e.g. `MessageOf<'logits'>`. */
export type MessageOf<K extends MessageKind> = Extract<Message, { kind: K }>;

/**
 * Wire code of each kind. Fixed forever once shipped: a new kind gets a new number, numbers are
 * never reused. `satisfies` makes adding a kind without a code a compile error.
 */
export const KIND_CODES = {
  hello: 1,
  welcome: 2,
  refused: 3,
  roster: 4,
  state: 5,
  assign: 6,
  activations: 7,
  logits: 8,
  release: 9,
  error: 10,
  ping: 11,
  pong: 12,
} as const satisfies Record<MessageKind, number>;

const KIND_BY_CODE: ReadonlyMap<number, MessageKind> = new Map(
  (Object.entries(KIND_CODES) as [MessageKind, number][]).map(([kind, code]) => [code, kind]),
);

export function kindFromCode(code: number): MessageKind | undefined {
  return KIND_BY_CODE.get(code);
}
