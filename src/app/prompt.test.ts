/**
 * Prompts from conversations, on real tokenizers: the model's own template renders them, special
 * tokens written by the template are read as special tokens, BOS comes once, and the template's end of
 * turn stops the answer. Models without a template keep plain completion.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTokenizer } from '../adapters/tokenizer/hf-tokenizer';
import { newTokensWithin, promptOf } from './prompt';

const MODELS = path.resolve(import.meta.dirname, '../../../shared/models');
const json = (p: string) => JSON.parse(readFileSync(path.join(MODELS, p), 'utf8')) as Record<string, unknown>;

/** The third-party test Llama: its own Llama-2 chat template, and <s> / </s> as special tokens. */
const llama = () =>
  loadTokenizer(
    json('third-party/tiny-random-LlamaForCausalLM-fp16/tokenizer.json'),
    json('third-party/tiny-random-LlamaForCausalLM-fp16/tokenizer_config.json'),
  );

/** stories260k with a ChatML template added in memory (the model itself has none). */
const CHATML =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
const stories = (chatTemplate?: string) =>
  loadTokenizer(json('stories260k/tokenizer.json'), {
    ...json('stories260k/tokenizer_config.json'),
    ...(chatTemplate ? { chat_template: chatTemplate } : {}),
  });

describe('promptOf', () => {
  it('renders a conversation with the model’s Llama-2 template; BOS once, from the template', () => {
    const t = llama();
    const p = promptOf(
      {
        chat: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hello there' },
        ],
      },
      t,
    );
    expect(p.renderedText).toBe('<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHello there [/INST]');
    expect(p.ids[0]).toBe(1);
    expect(p.ids.filter((id) => id === 1)).toHaveLength(1); // no second BOS from the tokenizer
    expect(p.ids).toEqual(t.encode('[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHello there [/INST]'));
    // The template ends an assistant's turn with its EOS, </s>.
    expect(p.stopIds).toEqual([2]);
  });

  it('a special token written by the template is one token, not its letters', () => {
    const t = llama();
    const p = promptOf(
      {
        chat: [
          { role: 'user', content: 'a' },
          { role: 'assistant', content: 'b' },
          { role: 'user', content: 'c' },
        ],
      },
      t,
    );
    expect(p.renderedText).toBe('<s>[INST] a [/INST] b </s><s>[INST] c [/INST]');
    expect(p.ids.filter((id) => id === 2)).toHaveLength(1);
    expect(p.ids.filter((id) => id === 1)).toHaveLength(2);
  });

  it('a template the model’s tokens do not know (ChatML on stories260k) renders as text, EOS alone stops', () => {
    const t = stories(CHATML);
    const p = promptOf({ chat: [{ role: 'user', content: 'Tell me a story.' }] }, t);
    expect(p.renderedText).toBe('<|im_start|>user\nTell me a story.<|im_end|>\n<|im_start|>assistant\n');
    expect(p.ids).toEqual(t.encode(p.renderedText!, { specialTokens: false }));
    expect(p.ids[0]).not.toBe(1); // the template writes no BOS, and the tokenizer adds none
    expect(p.stopIds).toEqual([]);
  });

  it('a model without a chat template: plain text still works, a conversation says why not', () => {
    const t = stories();
    expect(t.chat).toBeNull();
    expect(promptOf({ text: 'Once upon a time' }, t).ids[0]).toBe(1); // completion keeps its BOS
    expect(() => promptOf({ chat: [{ role: 'user', content: 'hi' }] }, t)).toThrow(/no chat template/);
  });

  it('a conversation the template refuses fails with the template’s reason', () => {
    expect(() =>
      promptOf(
        {
          chat: [
            { role: 'user', content: 'a' },
            { role: 'user', content: 'b' },
          ],
        },
        llama(),
      ),
    ).toThrow(/alternate/);
  });

  it('ids pass through untouched', () => {
    expect(promptOf({ ids: [5, 6] }, null)).toEqual({ ids: [5, 6], renderedText: null, stopIds: [] });
  });

  it('an answer writes at most what the context leaves; a prompt that fills it says what to do', () => {
    const p = { ids: new Array(500).fill(7), renderedText: null, stopIds: [] };
    expect(newTokensWithin(p, 64, 512, false)).toBe(12);
    expect(newTokensWithin(p, 8, 512, false)).toBe(8);
    expect(() => newTokensWithin(p, 8, 500, false)).toThrow(/500 tokens.*500 at most.*shorten it/);
    expect(() => newTokensWithin(p, 8, 400, true)).toThrow(/drop the conversation’s oldest turns/);
  });

  it('a template that does not parse leaves completion working; a conversation says why', () => {
    const t = stories('{% for message in messages %}{{ message.content }');
    expect(promptOf({ text: 'Once' }, t).ids[0]).toBe(1);
    expect(() => promptOf({ chat: [{ role: 'user', content: 'hi' }] }, t)).toThrow(
      /chat template does not parse/,
    );
  });
});
