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
  /** What the phone measured about itself (calibration, memory), kept on its card across states. */
  measured?: string;
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
  /**
   * Peer id of the stage before this one, the only phone besides the leader this stage accepts
   * activations from; null = the first stage, fed by the leader.
   */
  prevPeer: string | null;
  /** Tensor names this stage must send on: its outputs plus relayed inputs later stages need. */
  forward: string[];
  planId: string;
  /** The runtime of each phase, as in the profile the leader planned with (absent: the phone's own). */
  phases?: PhaseBackends;
  /**
   * Blocks to keep in the phone's cache beside its own, fetched while it is idle and only where they fit
   * without evicting anything (core/room/backups.ts): a later plan that moves them here downloads nothing.
   */
  backups?: number[];
}

/** Where an answer asked from a phone is: waiting its turn, reading its prompt, or writing. */
export const ANSWER_STATES = ['queued', 'prefilling', 'generating'] as const;
export type AnswerState = (typeof ANSWER_STATES)[number];
/** How it ended: in full (a stop token or its length), stopped by its asker, failed, or not taken. */
export const ANSWER_OUTCOMES = ['done', 'stopped', 'failed', 'refused'] as const;
export type AnswerOutcome = (typeof ANSWER_OUTCOMES)[number];

/** One message of a conversation. */
export interface ChatTurn {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}
export const CHAT_ROLES = ['system', 'user', 'assistant'] as const;

/**
 * The prompt of an answer: text for the leader's tokenizer, token ids, or a conversation the leader
 * renders with the model's own chat template (its answer is the assistant's next message).
 */
export type AskInput =
  | { readonly text: string }
  | { readonly ids: readonly number[] }
  | { readonly chat: readonly ChatTurn[] };

export interface AnswerSummary {
  outcome: AnswerOutcome;
  /** Why it failed or was refused (the user reads it). */
  message?: string;
  promptIds: number[];
  /** For a conversation: the text the model's chat template rendered, exactly as it was tokenized. */
  promptText?: string;
  generatedIds: number[];
  tokensPerSecond: number;
  /** From asking to the first token, queueing included; null when no token came. */
  timeToFirstTokenMs: number | null;
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
  /** phone → leader. `planId`: the plan this state is about (a load or unload for it), when any. */
  | { kind: 'state'; state: PhoneState; loaded?: number; total?: number; detail?: string; planId?: string }
  /**
   * leader → phone. Idempotent: a phone already holding exactly these blocks keeps its session and its
   * KV caches and only takes the new plan's wiring (next stage, forward set, plan id).
   */
  | { kind: 'assign'; assignment: StageAssignment }
  /** leader → phone left out of plan `planId`: free its stage. */
  | { kind: 'unload'; planId: string }
  /**
   * leader → phone that will move to `assignment`'s blocks: read and check them now, while it still
   * runs the stage it has, so the `assign` that follows (and the room's pause) only builds the session.
   * Answered by `prefetched`.
   */
  | { kind: 'prefetch'; assignment: StageAssignment }
  /** phone → leader: the blocks of plan `planId` are read, or `error` says why not (the assign reads them). */
  | { kind: 'prefetched'; planId: string; error?: string }
  /**
   * stage → next stage, in plan `planId` (a stage drops steps of any other plan, never running them on
   * the wrong layers). Step 0 is the prefill and resets that request's KV cache (a rebuild after a plan
   * change is a prefill too: `PipelineDriver.rebuild`).
   * `tokens`: the positions this step adds to the cache (absent: 1). A long prompt is prefilled in
   * several steps of many tokens (step 0 and the next ones); only one-token steps can run batched. Each stage appends
   * its own run time to `stageTimesMs`, and to `residentMs` the time from the step's arrival at its
   * phone to its sending on (run time plus the phone's own handling), so the leader sees where a
   * step's time goes: in the stages, on the phones around them, or on the links — with no clocks
   * compared across phones.
   */
  | {
      kind: 'activations';
      planId: string;
      requestId: string;
      step: number;
      tokens?: number;
      tensors: NamedTensors;
      stageTimesMs: number[];
      residentMs: number[];
    }
  /** last stage → leader: only the last position's logits row. */
  | {
      kind: 'logits';
      planId: string;
      requestId: string;
      step: number;
      logits: Tensor;
      stageTimesMs: number[];
      residentMs: number[];
    }
  /** leader → stages: free that request's KV cache (whatever plan made it; `planId` is the current one). */
  | { kind: 'release'; planId: string; requestId: string }
  | { kind: 'error'; requestId?: string; message: string }
  | { kind: 'ping'; nonce: number; sentAt: number }
  | { kind: 'pong'; nonce: number; sentAt: number }
  /** phone → leader: send me this file of the model (a block graph or weights, or manifest.json). */
  | { kind: 'block-request'; file: string }
  /** leader → phone: bytes offset..offset+data.length of the file (uint8, ≤ ~200 KB per frame). */
  | { kind: 'block-chunk'; file: string; offset: number; total: number; data: Tensor }
  /** leader → phone: the file cannot be served. */
  | { kind: 'block-error'; file: string; message: string }
  /**
   * any phone → leader: answer this for me. `requestId` is the asker's own name for it. Only the asking
   * phone hears about it (answer-*): the leader sends its text to no one else.
   */
  | { kind: 'ask'; requestId: string; input: AskInput; params: SamplingParams }
  /** asking phone → leader: stop that answer, waiting or running. */
  | { kind: 'cancel'; requestId: string }
  /** leader → the asking phone: where its answer is (`position`: its place in the queue, 1 next). */
  | { kind: 'answer-state'; requestId: string; state: AnswerState; position?: number }
  /** leader → the asking phone: what the answer adds, and the ids it came from. */
  | { kind: 'answer-text'; requestId: string; text: string; ids: number[] }
  /** leader → the asking phone: the answer ended. */
  | ({ kind: 'answer-end'; requestId: string } & AnswerSummary)
  // leader → phone: time the calibration kernel at these layer shapes; answered by `profile`
  | { kind: 'measure'; shape: LayerShapeSpec }
  | { kind: 'profile'; profile: DeviceProfile }
  // leader → phone: bulk bytes for link throughput; answered by a `pong` with the same nonce
  | { kind: 'probe'; nonce: number; sentAt: number; data: Tensor };

export interface LayerShapeSpec {
  hidden: number;
  kvDim: number;
  intermediate: number;
}

export const COMPUTE_BACKENDS = ['wasm', 'webgpu'] as const;
export type ComputeBackend = (typeof COMPUTE_BACKENDS)[number];

/** The runtime each phase of a stage runs on: prefill (the prompt) and one-token decode. */
export interface PhaseBackends {
  readonly decode: ComputeBackend;
  readonly prefill: ComputeBackend;
}

export interface WebGpuTiming {
  /** The adapter (vendor / architecture), e.g. a software SwiftShader one. */
  adapter: string;
  decodeMs: number;
  /** null when not timed: decode was so slow that prefill would take seconds (`note` says why). */
  prefillMs: number | null;
  perOpMs: number;
  note?: string;
}

/** What a phone measured about itself (see core/cost): the cost model predicts block times from it. */
export interface DeviceProfile {
  shape: LayerShapeSpec;
  /** Calibration kernel at 1 token and at `prefillTokens` tokens, and the fixed cost of one op. */
  decodeMs: number;
  prefillMs: number;
  prefillTokens: number;
  perOpMs: number;
  threads: number;
  backend: string;
  /** The same prefill with all the phone's cores, when it has more than one. */
  prefillMsAllThreads?: number;
  allThreads?: number;
  /** The kernel on WebGPU, when the phone has an adapter. */
  webgpuTiming?: WebGpuTiming;
  /** Which runtime this phone runs each phase on: the faster one measured, or the user's choice. */
  decodeOn: ComputeBackend;
  prefillOn: ComputeBackend;
  memoryBudgetBytes: number;
  /** Where the budget came from: navigator.deviceMemory, a user cap, or a default. */
  memorySource: string;
  webgpu: boolean;
  /** Emulated slowdown factor (1 on a real phone). */
  slowdown: number;
}

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
  unload: 13,
  // 14 was `replay` (a stage re-sending its steps), retired when rebuilds became one prefill.
  // Answers asked from any phone (src/app/room/answers.ts).
  ask: 15,
  cancel: 16,
  'answer-state': 17,
  'answer-text': 18,
  'answer-end': 19,
  // Measuring (20–22), then peer-to-peer block delivery (30–32, src/app/delivery/peer-blocks.ts);
  // 23–29 left for other kinds.
  measure: 20,
  profile: 21,
  probe: 22,
  // Moving blocks before a plan change pauses the answers (src/app/room/plan-executor.ts).
  prefetch: 23,
  prefetched: 24,
  'block-request': 30,
  'block-chunk': 31,
  'block-error': 32,
} as const satisfies Record<MessageKind, number>;

const KIND_BY_CODE: ReadonlyMap<number, MessageKind> = new Map(
  (Object.entries(KIND_CODES) as [MessageKind, number][]).map(([kind, code]) => [code, kind]),
);

export function kindFromCode(code: number): MessageKind | undefined {
  return KIND_BY_CODE.get(code);
}
