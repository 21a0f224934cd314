/**
 * The only importer of @huggingface/jinja: a model's own chat template, from its tokenizer_config.json,
 * rendered as transformers' `apply_chat_template` does (messages, bos_token, eos_token,
 * add_generation_prompt), so a conversation reaches the model in the very format it was tuned on.
 */
import { Template } from '@huggingface/jinja';

export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

/** A special token as tokenizer_config.json gives it: a string, or an AddedToken object. */
function tokenText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string')
    return (v as { content: string }).content;
  return null;
}

/** `chat_template` is a string, or (newer configs) a list of named templates of which "default" is used. */
function templateText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (!Array.isArray(v)) return null;
  const named = v.filter(
    (t): t is { name: string; template: string } =>
      !!t && typeof t === 'object' && typeof t.name === 'string' && typeof t.template === 'string',
  );
  return (named.find((t) => t.name === 'default') ?? named[0])?.template ?? null;
}

export class ChatTemplate {
  private constructor(
    private readonly template: Template,
    readonly bosToken: string | null,
    readonly eosToken: string | null,
  ) {}

  /** The model's template, or null when it has none (such models get plain completion). */
  static fromTokenizerConfig(config: Record<string, unknown>): ChatTemplate | null {
    const text = templateText(config.chat_template);
    if (text === null) return null;
    let template: Template;
    try {
      template = new Template(text);
    } catch (e) {
      throw new Error(`the model's chat template does not parse: ${e instanceof Error ? e.message : e}`);
    }
    return new ChatTemplate(template, tokenText(config.bos_token), tokenText(config.eos_token));
  }

  /**
   * The conversation as the model's prompt text. `addGenerationPrompt` ends it with the assistant's
   * turn opening, where the model's answer goes. A template that refuses the conversation (roles that
   * do not alternate, say) throws with its own message.
   */
  render(messages: readonly ChatMessage[], opts: { addGenerationPrompt?: boolean } = {}): string {
    try {
      return this.template.render({
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        bos_token: this.bosToken ?? '',
        eos_token: this.eosToken ?? '',
        add_generation_prompt: opts.addGenerationPrompt ?? false,
      });
    } catch (e) {
      throw new Error(
        `the model's chat template refused this conversation: ${e instanceof Error ? e.message : e}`,
      );
    }
  }
}
