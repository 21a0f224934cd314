/**
 * What an answer's prompt is in tokens: ids as given, text through the model's tokenizer, or a
 * conversation rendered with the model's own chat template (then tokenized without the tokenizer's own
 * BOS, since the template writes what the model needs, and ended by the template's end-of-turn token
 * as well as EOS).
 */
import type { TextTokenizer } from '../adapters/tokenizer/hf-tokenizer';
import type { AskInput } from '../core/protocol/messages';

export interface Prompt {
  readonly ids: number[];
  /** The text a chat template rendered, exactly as it was tokenized (null for text and ids). */
  readonly renderedText: string | null;
  /** Ids that end this answer besides the model's EOS. */
  readonly stopIds: readonly number[];
}

export function promptOf(input: AskInput, tokenizer: TextTokenizer | null): Prompt {
  if ('ids' in input) return { ids: [...input.ids], renderedText: null, stopIds: [] };
  if (!tokenizer) throw new Error('this model has no tokenizer.json: give token ids');
  if ('text' in input) return { ids: tokenizer.encode(input.text), renderedText: null, stopIds: [] };
  if (!tokenizer.chat)
    throw new Error(
      'this model has no chat template (tokenizer_config.json): ask with plain text for a completion',
    );
  const renderedText = tokenizer.chat.render(input.chat);
  return {
    ids: tokenizer.encode(renderedText, { specialTokens: false }),
    renderedText,
    stopIds: tokenizer.chat.stopIds,
  };
}

/**
 * How many tokens an answer may write in a context of `context` tokens: its limit, or what room the
 * prompt leaves. A prompt that leaves no room fails with what to do about it (never a runtime error from
 * positions past the model's table).
 */
export function newTokensWithin(
  prompt: Prompt,
  maxNewTokens: number,
  context: number,
  chat: boolean,
): number {
  const room = context - prompt.ids.length;
  if (room <= 0) {
    const fix = chat ? 'drop the conversation’s oldest turns, or start a new one' : 'shorten it';
    throw new Error(
      `the prompt is ${prompt.ids.length} tokens, and this room holds ${context} at most (prompt and answer together): ${fix}`,
    );
  }
  return Math.min(maxNewTokens, room);
}
