/**
 * Several questions at once for the room simulator: `--prompt` repeated, or `--prompts-file F.json` (an
 * array of strings, or of `{ prompt, phone?, maxNewTokens?, temperature?, seed? }`). Prompt i comes from
 * phone i mod N unless it names its phone. All are asked at the same moment (SimulatedRoom.askAll).
 */
import { readFileSync } from 'node:fs';
import type { SamplingParams } from '../../src/core/protocol/messages';
import type { AskedAnswer } from '../../src/ui/debug-surface';
import type { Ask } from './simulator';

export interface PromptSpec {
  readonly prompt: string;
  readonly phone?: number;
  readonly maxNewTokens?: number;
  readonly temperature?: number;
  readonly seed?: number;
}

export function readPromptsFile(file: string): PromptSpec[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`--prompts-file ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!Array.isArray(json) || json.length === 0)
    throw new Error(`--prompts-file ${file}: expected a non-empty JSON array of prompts`);
  return json.map((v, i): PromptSpec => {
    if (typeof v === 'string') return { prompt: v };
    const o = v as Record<string, unknown>;
    if (typeof v !== 'object' || v === null || typeof o.prompt !== 'string')
      throw new Error(`--prompts-file ${file}: item ${i} is neither a string nor { prompt: string, … }`);
    const num = (k: string) => {
      if (o[k] === undefined) return {};
      if (typeof o[k] !== 'number' || !Number.isFinite(o[k]))
        throw new Error(`--prompts-file ${file}: item ${i}: ${k} must be a number`);
      return { [k]: o[k] };
    };
    return {
      prompt: o.prompt,
      ...num('phone'),
      ...num('maxNewTokens'),
      ...num('temperature'),
      ...num('seed'),
    };
  });
}

/** The questions, each from its phone, with the command line's sampling settings as defaults. */
export function asksOf(specs: readonly PromptSpec[], devices: number, defaults: SamplingParams): Ask[] {
  return specs.map((s, i) => {
    const phone = s.phone ?? i % devices;
    if (!Number.isInteger(phone) || phone < 0 || phone >= devices)
      throw new Error(`prompt ${i} asks from phone ${phone}, but there are ${devices} phone(s)`);
    return {
      phone,
      input: { text: s.prompt },
      params: {
        ...defaults,
        ...(s.maxNewTokens !== undefined ? { maxNewTokens: s.maxNewTokens } : {}),
        ...(s.temperature !== undefined ? { temperature: s.temperature } : {}),
        ...(s.seed !== undefined ? { seed: s.seed } : {}),
      },
    };
  });
}

export interface ManyResult {
  results: {
    prompt: string;
    phone: number;
    promptIds: number[];
    generatedIds: number[];
    text: string;
    tokensPerSecond: number;
    timeToFirstTokenMs: number | null;
    outcome: string;
    message?: string;
  }[];
  /** Every answer's tokens over the time from asking to the last answer's end. */
  aggregateTokensPerSecond: number;
}

export function manyResult(
  specs: readonly PromptSpec[],
  asks: readonly Ask[],
  answers: AskedAnswer[],
): ManyResult {
  const tokens = answers.reduce((n, a) => n + a.generatedIds.length, 0);
  const wallMs = Math.max(...answers.map((a) => a.totalMs));
  return {
    results: answers.map((a, i) => ({
      prompt: specs[i]!.prompt,
      phone: asks[i]!.phone,
      promptIds: a.promptIds,
      generatedIds: a.generatedIds,
      text: a.text,
      tokensPerSecond: a.tokensPerSecond,
      timeToFirstTokenMs: a.timeToFirstTokenMs,
      outcome: a.outcome,
      ...(a.message ? { message: a.message } : {}),
    })),
    aggregateTokensPerSecond: wallMs > 0 ? tokens / (wallMs / 1000) : 0,
  };
}
