/**
 * The placement problem: which phones take part, in which order, and which contiguous range of blocks
 * each runs. Everything here is plain data (no functions), so a problem can be posted to a Worker and a
 * result posted back.
 */

/** `latency`: one stream, minimise the time of one token through the whole chain. `throughput`: many
 *  streams in flight, minimise the slowest stage (compute stages and link transfers alike). */
export type PlacementObjective = 'latency' | 'throughput';

/** What a block costs, independent of the phone that runs it (taken from the manifest's BlockEntry). */
export interface BlockCost {
  readonly flopsPerToken: number;
  readonly attentionFlopsPerContextToken: number;
  readonly weightBytes: number;
  readonly kvBytesPerToken: number;
}

export interface DeviceProfile {
  readonly id: string;
  readonly name: string;
  /** Calibrated compute speed; a block takes msPerGflop × its GFLOPs at the problem's context length. */
  readonly msPerGflop: number;
  /** Measured or predicted ms per token of each block; when given it replaces the msPerGflop estimate. */
  readonly msPerBlock?: readonly number[];
  /** Overhead of one stage step on this phone (session call, message handling), paid once per stage. */
  readonly fixedStepMs: number;
  /** Bytes the phone can give to weights plus KV cache (the runtime's own overhead already taken off). */
  readonly memoryBudgetBytes: number;
}

export interface LinkQuality {
  readonly latencyMs: number;
  readonly bytesPerMs: number;
}

/** A measured link. Listed once it serves both directions, unless the reverse is listed too. */
export interface LinkProfile extends LinkQuality {
  readonly from: string;
  readonly to: string;
}

export interface PlacementProblem {
  readonly blocks: readonly BlockCost[];
  /** crossingBytes[k]: bytes per token sent across the cut after block k (length blocks.length − 1). */
  readonly crossingBytes: readonly number[];
  /** Bytes per token the leader feeds the first stage (token ids, mask, positions). */
  readonly inputBytes: number;
  /** Bytes per token the last stage returns to the leader (the logits row). */
  readonly outputBytes: number;
  readonly devices: readonly DeviceProfile[];
  readonly links: readonly LinkProfile[];
  /** For pairs with no measured link. */
  readonly defaultLink: LinkQuality;
  /** The phone that feeds tokens and samples; it may be one of `devices` (then it may also run a stage,
   *  and its links to itself cost nothing) or a separate device that only talks to the chain. */
  readonly leaderId: string;
  /** Tokens of context the plan must hold: sizes the KV cache and the attention cost. */
  readonly contextLength: number;
  readonly objective: PlacementObjective;
}

export interface StagePlacement {
  readonly deviceId: string;
  readonly firstBlock: number;
  readonly lastBlock: number;
  /** Fixed step overhead plus the stage's blocks, per token. */
  readonly computeMs: number;
  /** Latency plus transfer time of what this stage sends on (to the next stage, or the logits to the
   *  leader after the last stage). */
  readonly sendMs: number;
  readonly sendBytes: number;
  readonly memoryBytes: number;
  readonly memoryBudgetBytes: number;
}

export type LeftOutReason = 'no-memory' | 'slower' | 'not-needed';

export interface LeftOutDevice {
  readonly deviceId: string;
  readonly reason: LeftOutReason;
  readonly detail: string;
  /** The best objective value (ms) of any plan that does use this phone, or null if none fits. */
  readonly bestWithItMs: number | null;
}

export interface Placement {
  readonly kind: 'placement';
  readonly objective: PlacementObjective;
  readonly stages: readonly StagePlacement[];
  /** Leader → first stage. */
  readonly inputMs: number;
  /** One token through the chain: input link, every stage, every hop, logits back. */
  readonly predictedTokenMs: number;
  /** The slowest pipeline stage: a stage's compute, or a link's transfer time (bytes / bandwidth). */
  readonly bottleneckMs: number;
  /** 1000 / predictedTokenMs for `latency`, 1000 / bottleneckMs for `throughput`. */
  readonly predictedTokensPerSecond: number;
  readonly leftOut: readonly LeftOutDevice[];
  /** The solver proved this plan optimal under the cost model (false only after a MILP time limit). */
  readonly proven: boolean;
  readonly engine: 'dp' | 'milp';
  readonly solveMs: number;
}

/** How much memory one phone would need to add for a plan to exist at all. */
export interface MemoryHelper {
  readonly deviceId: string;
  readonly extraBytes: number;
}

export interface PlacementInfeasible {
  readonly kind: 'infeasible';
  /** Weights plus KV cache of the whole model at the context length. */
  readonly requiredBytes: number;
  /** Sum of all phones' budgets. */
  readonly availableBytes: number;
  /** The least free memory one more phone would need to make a plan possible (≥ required − available,
   *  more when blocks don't pack). */
  readonly missingBytes: number;
  /** The largest block: no plan exists while no phone can hold it. */
  readonly largestBlock: { readonly index: number; readonly bytes: number };
  /** Existing phones, each with the extra free memory that alone would make a plan possible, least first. */
  readonly helpers: readonly MemoryHelper[];
  readonly message: string;
}

export type PlacementResult = Placement | PlacementInfeasible;

export class PlacementError extends Error {
  override name = 'PlacementError';
}
