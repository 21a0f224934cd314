/** The only importer of @huggingface/tokenizers: the model's own tokenizer.json, in the leader tab. */
import { Tokenizer } from '@huggingface/tokenizers';
import { type ChatMessage, ChatTemplate } from '../jinja/chat-template';

/** A model's chat format: its template, and the token that ends the assistant's turn. */
export interface ChatFormat {
  /** The conversation as prompt text, ending with the assistant's turn opened. */
  render(messages: readonly ChatMessage[]): string;
  /** Ids that end the assistant's turn besides EOS (ChatML's <|im_end|>, Llama 3's <|eot_id|>…). */
  readonly stopIds: readonly number[];
}

export interface TextTokenizer {
  /**
   * `specialTokens: false` adds none of the tokenizer's own (no BOS): a rendered chat template writes
   * the ones the model needs, as transformers' apply_chat_template does. Special tokens written in the
   * text are always read as such.
   */
  encode(text: string, opts?: { readonly specialTokens?: boolean }): number[];
  decode(ids: readonly number[]): string;
  /** Null when the model has no chat template: it gets plain completion. */
  readonly chat: ChatFormat | null;
}

interface AddedToken {
  readonly id: number;
  readonly content: string;
  readonly special?: boolean;
}

function specialTokensOf(tokenizerJson: unknown): AddedToken[] {
  const added = (tokenizerJson as { added_tokens?: unknown })?.added_tokens;
  if (!Array.isArray(added)) return [];
  return added.filter(
    (t): t is AddedToken =>
      !!t &&
      typeof t === 'object' &&
      typeof t.id === 'number' &&
      typeof t.content === 'string' &&
      t.special === true,
  );
}

/** A text no template writes by itself: where the assistant's message ends in a rendering. */
const MARK = '\u2063chorus-end-of-turn\u2063';

/**
 * The special token a template writes right after an assistant's message: the model's end of turn.
 * Read from the template itself, so any model's format works without a table of known ones.
 */
function endOfTurnIds(template: ChatTemplate, special: readonly AddedToken[]): number[] {
  let text: string;
  try {
    text = template.render([
      { role: 'user', content: 'u' },
      { role: 'assistant', content: MARK },
    ]);
  } catch {
    return []; // a template that wants a system message first, say: EOS alone ends the turn
  }
  if (!text.includes(MARK)) return [];
  const after = text.slice(text.indexOf(MARK) + MARK.length);
  let first: AddedToken | null = null;
  let at = Number.POSITIVE_INFINITY;
  for (const t of special) {
    const i = after.indexOf(t.content);
    if (i >= 0 && (i < at || (i === at && t.content.length > (first?.content.length ?? 0)))) {
      first = t;
      at = i;
    }
  }
  return first ? [first.id] : [];
}

export function loadTokenizer(tokenizerJson: unknown, tokenizerConfig: unknown): TextTokenizer {
  const config = (tokenizerConfig ?? {}) as Record<string, unknown>;
  const t = new Tokenizer(
    tokenizerJson as ConstructorParameters<typeof Tokenizer>[0],
    config as ConstructorParameters<typeof Tokenizer>[1],
  );
  let chat: ChatFormat | null;
  try {
    const template = ChatTemplate.fromTokenizerConfig(config);
    chat = template && {
      render: (messages) => template.render(messages, { addGenerationPrompt: true }),
      stopIds: endOfTurnIds(template, specialTokensOf(tokenizerJson)),
    };
  } catch (e) {
    // A template this renderer cannot read must not keep the model from loading: plain completion
    // still works, and a conversation fails with the reason.
    const why = e instanceof Error ? e.message : String(e);
    chat = {
      render: () => {
        throw new Error(why);
      },
      stopIds: [],
    };
  }
  return {
    encode: (text, opts = {}) => t.encode(text, { add_special_tokens: opts.specialTokens ?? true }).ids,
    decode: (ids) => t.decode([...ids], { skip_special_tokens: true }),
    chat,
  };
}
