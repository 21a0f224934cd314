/**
 * The leader's side of the pipeline for one model: sends each step's inputs to the first stage, waits
 * for the last stage's logits, and runs the generation loop. A phone that leaves, or a stage that
 * fails, rejects the steps waiting on it; nothing else in the room is affected.
 */
import type { TextTokenizer } from '../adapters/tokenizer/hf-tokenizer';
import type { Manifest } from '../core/graph/manifest';
import { type GenerationResult, generate, stopIdsOf } from '../core/pipeline/generation';
import type { Message, SamplingParams } from '../core/protocol/messages';
import { leaderInputs, type Plan } from '../core/room/plan';

export interface GenerationOutput extends GenerationResult {
  readonly promptIds: number[];
  readonly text: string;
  readonly tokensPerSecond: number;
}

type Pending = { resolve: (m: Extract<Message, { kind: 'logits' }>) => void; reject: (e: Error) => void };

export class PipelineDriver {
  private readonly pending = new Map<string, Pending>();
  private abort: AbortController | null = null;

  constructor(
    private readonly manifest: Manifest,
    private readonly plan: Plan,
    private readonly tokenizer: TextTokenizer | null,
    /** Sends to a phone of the plan; false when that phone is gone. */
    private readonly send: (phoneId: string, m: Message) => boolean,
  ) {}

  logits(m: Extract<Message, { kind: 'logits' }>): void {
    const key = `${m.requestId}:${m.step}`;
    this.pending.get(key)?.resolve(m);
    this.pending.delete(key);
  }

  /** A stage reported an error (for one request, or for all when `requestId` is absent). */
  failed(message: string, requestId?: string): void {
    for (const [key, p] of this.pending) {
      if (!requestId || key.startsWith(`${requestId}:`)) {
        p.reject(new Error(message));
        this.pending.delete(key);
      }
    }
  }

  /** True when `phoneId` runs a stage of this plan. */
  uses(phoneId: string): boolean {
    return this.plan.stages.some((s) => s.phoneId === phoneId);
  }

  encode(text: string): number[] {
    if (!this.tokenizer) throw new Error('this model has no tokenizer.json: give token ids');
    return this.tokenizer.encode(text);
  }

  decode(ids: readonly number[]): string {
    return this.tokenizer ? this.tokenizer.decode(ids) : ids.join(' ');
  }

  stop(): void {
    this.abort?.abort();
  }

  async generate(
    input: { text: string } | { ids: number[] },
    params: SamplingParams,
    requestId: string,
    onToken: (text: string, ids: readonly number[]) => void,
  ): Promise<GenerationOutput> {
    const promptIds = 'ids' in input ? input.ids : this.encode(input.text);
    const firstPhone = this.plan.stages[0]!.phoneId;
    const inputNames = new Set(leaderInputs(this.manifest));
    this.abort = new AbortController();
    const ids: number[] = [];
    const t0 = performance.now();
    try {
      const result = await generate(
        {
          requestId,
          promptIds,
          params,
          stopIds: stopIdsOf(this.manifest.config, this.manifest.generationConfig),
          inputSpecs: this.manifest.inputs.filter((s) => inputNames.has(s.name)),
          signal: this.abort.signal,
          onToken: (id) => {
            ids.push(id);
            onToken(this.decode(ids), ids);
          },
        },
        (rid, step, tensors) =>
          new Promise((resolve, reject) => {
            this.pending.set(`${rid}:${step}`, {
              resolve: (m) =>
                resolve({
                  logits: m.logits.data as Float32Array,
                  stageTimesMs: m.stageTimesMs,
                  residentMs: m.residentMs,
                }),
              reject,
            });
            const sent = this.send(firstPhone, {
              kind: 'activations',
              requestId: rid,
              step,
              tensors,
              stageTimesMs: [],
              residentMs: [],
            });
            if (!sent) this.failed('the first stage’s phone has left', rid);
          }),
      );
      const seconds = (performance.now() - t0) / 1000;
      const decodeMs = result.stepMs.slice(1).reduce((a, b) => a + b, 0);
      return {
        ...result,
        promptIds,
        text: this.decode(result.generatedIds),
        tokensPerSecond:
          decodeMs > 0
            ? (result.stepMs.length - 1) / (decodeMs / 1000)
            : result.generatedIds.length / seconds,
      };
    } finally {
      for (const s of this.plan.stages) this.send(s.phoneId, { kind: 'release', requestId });
      this.abort = null;
    }
  }
}
