/**
 * Several questions at once for the room simulator: `--prompt` repeated, or `--prompts-file F.json` (an
 * array of strings, or of `{ prompt, phone?, maxNewTokens?, temperature?, seed? }`). Prompt i comes from
 * phone i mod N unless it names its phone. All are asked at the same moment (SimulatedRoom.askAll).
 */
import { existsSync, readFileSync } from 'node:fs';
import { CHAT_ROLES, type ChatTurn, type SamplingParams } from '../../src/core/protocol/messages';
import type { AskedAnswer } from '../../src/ui/debug-surface';
import type { Ask } from './simulator';

export interface PromptSpec {
  /** The prompt's text: plain, or (with `chat`) the conversation's last message, for display. */
  readonly prompt: string;
  /** A conversation the leader renders with the model's chat template. */
  readonly chat?: readonly ChatTurn[];
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
      input: s.chat ? { chat: s.chat } : { text: s.prompt },
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
    promptText?: string;
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
      ...(a.promptText === undefined ? {} : { promptText: a.promptText }),
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

/**
 * `--chat`: one conversation, a JSON array of `{ role, content }` (system, user or assistant), read from
 * the file when the argument names one, else parsed as JSON itself.
 */
export function readChat(arg: string): PromptSpec {
  const from = existsSync(arg) ? `--chat ${arg}` : '--chat';
  let json: unknown;
  try {
    json = JSON.parse(existsSync(arg) ? readFileSync(arg, 'utf8') : arg);
  } catch (e) {
    throw new Error(`${from}: not a file, nor JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!Array.isArray(json) || json.length === 0)
    throw new Error(`${from}: expected a non-empty array of { role, content } messages`);
  const chat = json.map((m: unknown, i): ChatTurn => {
    const o = (m ?? {}) as Record<string, unknown>;
    const role = CHAT_ROLES.find((r) => r === o.role);
    if (!role || typeof o.content !== 'string')
      throw new Error(`${from}: message ${i} needs a role (${CHAT_ROLES.join(', ')}) and a string content`);
    return { role, content: o.content };
  });
  return { prompt: chat.at(-1)!.content, chat };
}
