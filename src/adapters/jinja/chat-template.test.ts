/**
 * ChatTemplate on the chat templates real instruct models ship, checked against renderings published by
 * others (the models' docs, their makers' tests, other runtimes' tests, courses): no expected string here
 * was produced by running this code. Each constant names where it was taken from.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ChatMessage, ChatTemplate } from './chat-template';

/** The local test model's own config, read where it lies (never copied into the repo). */
const LLAMA2_CONFIG = JSON.parse(
  readFileSync(
    path.resolve(
      import.meta.dirname,
      '../../../../shared/models/third-party/tiny-random-LlamaForCausalLM-fp16/tokenizer_config.json',
    ),
    'utf8',
  ),
) as Record<string, unknown>;

function templateOf(config: Record<string, unknown>): ChatTemplate {
  const t = ChatTemplate.fromTokenizerConfig(config);
  if (!t) throw new Error('expected a chat template');
  return t;
}

const turns = (...pairs: [string, string][]): ChatMessage[] =>
  pairs.map(([role, content]) => ({ role, content }));

// HuggingFaceTB/SmolLM2-135M-Instruct's chat_template (bos <|im_start|>, eos <|im_end|>), as vendored in
// huggingface/huggingface.js packages/ollama-utils/src/chat-template-automap.ts ("library/smollm2:135m").
const SMOLLM2 =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

// Both conversations and renderings: huggingface/agents-course
// units/en/unit1/messages-and-special-tokens.mdx
// ("this is how the SmolLM2 chat template would format the previous exchange", with the generation
// prompt). The system-led one is rendered there, without it, by the course's "simplified version of
// the SmolLM2-135M-Instruct chat template", which for a chat opening with a system turn writes what the
// real one does.
const AGENTS_CHAT = turns(
  ['user', 'I need help with my order'],
  ['assistant', "I'd be happy to help. Could you provide your order number?"],
  ['user', "It's ORDER-123"],
);
const AGENTS_CHAT_SMOLLM2 =
  "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nI need help with my order<|im_end|>\n<|im_start|>assistant\nI'd be happy to help. Could you provide your order number?<|im_end|>\n<|im_start|>user\nIt's ORDER-123<|im_end|>\n<|im_start|>assistant\n";
const AGENTS_SYSTEM_CHAT = turns(
  ['system', 'You are a helpful assistant focused on technical topics.'],
  ['user', 'Can you explain what a chat template is?'],
  ['assistant', 'A chat template structures conversations between users and AI models...'],
  ['user', 'How do I use it ?'],
);
const AGENTS_SYSTEM_CHAT_SMOLLM2 =
  '<|im_start|>system\nYou are a helpful assistant focused on technical topics.<|im_end|>\n<|im_start|>user\nCan you explain what a chat template is?<|im_end|>\n<|im_start|>assistant\nA chat template structures conversations between users and AI models...<|im_end|>\n<|im_start|>user\nHow do I use it ?<|im_end|>\n';

// Qwen/Qwen2.5-7B-Instruct's chat_template: huggingface/huggingface.js packages/jinja/test/e2e.test.js
// ("Qwen/Qwen2.5-7B-Instruct"); the same text is microsoft/onnxruntime-extensions
// test/data/qwen2.5/tokenizer_config.json (bos null, eos <|im_end|>).
const QWEN25 =
  "{%- if tools %}\n    {{- '<|im_start|>system\\n' }}\n    {%- if messages[0]['role'] == 'system' %}\n        {{- messages[0]['content'] }}\n    {%- else %}\n        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n    {%- endif %}\n    {{- \"\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>\" }}\n    {%- for tool in tools %}\n        {{- \"\\n\" }}\n        {{- tool | tojson }}\n    {%- endfor %}\n    {{- \"\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\\"name\\\": <function-name>, \\\"arguments\\\": <args-json-object>}\\n</tool_call><|im_end|>\\n\" }}\n{%- else %}\n    {%- if messages[0]['role'] == 'system' %}\n        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n    {%- else %}\n        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}\n    {%- endif %}\n{%- endif %}\n{%- for message in messages %}\n    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) or (message.role == \"assistant\" and not message.tool_calls) %}\n        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n    {%- elif message.role == \"assistant\" %}\n        {{- '<|im_start|>' + message.role }}\n        {%- if message.content %}\n            {{- '\\n' + message.content }}\n        {%- endif %}\n        {%- for tool_call in message.tool_calls %}\n            {%- if tool_call.function is defined %}\n                {%- set tool_call = tool_call.function %}\n            {%- endif %}\n            {{- '\\n<tool_call>\\n{\"name\": \"' }}\n            {{- tool_call.name }}\n            {{- '\", \"arguments\": ' }}\n            {{- tool_call.arguments | tojson }}\n            {{- '}\\n</tool_call>' }}\n        {%- endfor %}\n        {{- '<|im_end|>\\n' }}\n    {%- elif message.role == \"tool\" %}\n        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != \"tool\") %}\n            {{- '<|im_start|>user' }}\n        {%- endif %}\n        {{- '\\n<tool_response>\\n' }}\n        {{- message.content }}\n        {{- '\\n</tool_response>' }}\n        {%- if loop.last or (messages[loop.index0 + 1].role != \"tool\") %}\n            {{- '<|im_end|>\\n' }}\n        {%- endif %}\n    {%- endif %}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}\n";

// QwenLM/Qwen2.5 docs/source/getting_started/concepts.md (commit ede72b1, "The following is a full
// example"): the default system message comes first; the expected text is that example up to the turn
// the model answers.
const QWEN_CHAT = turns(
  ['user', 'hello'],
  [
    'assistant',
    "Hello! How can I assist you today? Let me know if you have any questions or need help with something. I'm here to help!",
  ],
  ['user', "Explain large language models like I'm 5."],
);
const QWEN_CHAT_QWEN25 =
  "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\nHello! How can I assist you today? Let me know if you have any questions or need help with something. I'm here to help!<|im_end|>\n<|im_start|>user\nExplain large language models like I'm 5.<|im_end|>\n<|im_start|>assistant\n";

// meta-llama/Meta-Llama-3-8B-Instruct's chat_template (bos <|begin_of_text|>), as vendored in
// YJiangcm/WebR Meta-Llama-3-8B-Instruct/tokenizer_config.json and ollama/ollama
// template/testdata/templates.jsonl ("llama3-instruct").
const LLAMA3 =
  "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";
const LLAMA3_CONFIG = { bos_token: '<|begin_of_text|>', eos_token: '<|eot_id|>', chat_template: LLAMA3 };

// meta-llama/llama3 llama/test_tokenizer.py test_encode_dialog: Meta's reference ChatFormat prompt,
// written out from the test's token-by-token comments.
const META_DIALOG = turns(['system', 'This is a test sentence.'], ['user', 'This is a response.']);
const META_DIALOG_LLAMA3 =
  '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nThis is a test sentence.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nThis is a response.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n';

// huggingface/huggingface.js packages/jinja/test/e2e.test.js: EXAMPLE_CHAT_WITH_SYSTEM. Its three last
// turns are also ollama/ollama template/template_test.go's conversation.
const PIRATE_CHAT = turns(
  ['system', 'You are a friendly chatbot who always responds in the style of a pirate'],
  ['user', 'Hello, how are you?'],
  ['assistant', "I'm doing great. How can I help you today?"],
  ['user', "I'd like to show off how chat templating works!"],
);
// ollama/ollama template/testdata/llama3-instruct.gotmpl/system-user-assistant-user, whose system turn is
// "You are a helpful assistant.". Ollama's runner adds BOS when tokenizing, so its text starts after it.
const OLLAMA_CHAT = [{ role: 'system', content: 'You are a helpful assistant.' }, ...PIRATE_CHAT.slice(1)];
const OLLAMA_CHAT_LLAMA3 =
  "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello, how are you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nI'm doing great. How can I help you today?<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nI'd like to show off how chat templating works!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";

// microsoft/Phi-3-mini-4k-instruct's chat_template, bos <s>, eos <|endoftext|>:
// microsoft/onnxruntime-extensions test/data/phi-3-mini/tokenizer_config.json. Conversation and rendering
// ("From HuggingFace Python output for 'microsoft/Phi-3-mini-4k-instruct'", add_generation_prompt true):
// the same repository's test/pp_api_test/test_tokenizer_chat.cc, Phi3MiniChatTemplate.
const PHI3 =
  "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}";
const PHI3_CHAT = turns(
  ['system', 'System message'],
  ['user', 'Hello, can you call some tools for me?'],
  ['assistant', 'Sure, I can calculate the sum for you!'],
);
const PHI3_CHAT_PHI3 =
  '<|system|>\nSystem message<|end|>\n<|user|>\nHello, can you call some tools for me?<|end|>\n<|assistant|>\nSure, I can calculate the sum for you!<|end|>\n<|assistant|>\n';

// huggingface/huggingface.js packages/jinja/test/e2e.test.js, "llama" (hf-internal-testing/llama-tokenizer,
// the same Llama-2 template as the local model's), bos <s>, eos </s>. The system turn comes first, so the
// template's first branch applies whatever USE_DEFAULT_PROMPT is (that test passes it; ChatTemplate does
// not).
const PIRATE_CHAT_LLAMA2 =
  "<s>[INST] <<SYS>>\nYou are a friendly chatbot who always responds in the style of a pirate\n<</SYS>>\n\nHello, how are you? [/INST] I'm doing great. How can I help you today? </s><s>[INST] I'd like to show off how chat templating works! [/INST]";

describe('ChatTemplate on real models’ templates', () => {
  it('SmolLM2-Instruct (ChatML): its default system message, and the generation prompt', () => {
    const t = templateOf({ bos_token: '<|im_start|>', eos_token: '<|im_end|>', chat_template: SMOLLM2 });
    expect(t.render(AGENTS_CHAT, { addGenerationPrompt: true })).toBe(AGENTS_CHAT_SMOLLM2);
  });

  it('SmolLM2-Instruct (ChatML): a system turn of its own, without the generation prompt (the default)', () => {
    const t = templateOf({ bos_token: '<|im_start|>', eos_token: '<|im_end|>', chat_template: SMOLLM2 });
    expect(t.render(AGENTS_SYSTEM_CHAT)).toBe(AGENTS_SYSTEM_CHAT_SMOLLM2);
    expect(t.render(AGENTS_SYSTEM_CHAT, { addGenerationPrompt: false })).toBe(AGENTS_SYSTEM_CHAT_SMOLLM2);
  });

  it('Qwen2.5-Instruct (ChatML): its default system message, and the generation prompt', () => {
    const t = templateOf({ bos_token: null, eos_token: '<|im_end|>', chat_template: QWEN25 });
    expect(t.bosToken).toBeNull();
    expect(t.render(QWEN_CHAT, { addGenerationPrompt: true })).toBe(QWEN_CHAT_QWEN25);
  });

  it('Meta-Llama-3-8B-Instruct: BOS from the config, the generation prompt', () => {
    const t = templateOf(LLAMA3_CONFIG);
    expect(t.render(META_DIALOG, { addGenerationPrompt: true })).toBe(META_DIALOG_LLAMA3);
    expect(t.render(OLLAMA_CHAT, { addGenerationPrompt: true })).toBe(
      `<|begin_of_text|>${OLLAMA_CHAT_LLAMA3}`,
    );
  });

  it('Phi-3-mini-4k-instruct: system, user and assistant turns, and the generation prompt', () => {
    const t = templateOf({ bos_token: '<s>', eos_token: '<|endoftext|>', chat_template: PHI3 });
    expect(t.render(PHI3_CHAT, { addGenerationPrompt: true })).toBe(PHI3_CHAT_PHI3);
  });

  it('Llama-2, the local test model’s own template: a system turn folded into the first user turn', () => {
    const t = templateOf(LLAMA2_CONFIG);
    expect([t.bosToken, t.eosToken]).toEqual(['<s>', '</s>']);
    expect(t.render(PIRATE_CHAT)).toBe(PIRATE_CHAT_LLAMA2);
  });

  it('a template that refuses the conversation throws with the template’s own message', () => {
    const t = templateOf(LLAMA2_CONFIG);
    const twice = turns(
      ['user', 'Hello, how are you?'],
      ['user', "I'd like to show off how chat templating works!"],
    );
    expect(() => t.render(twice)).toThrow(Error);
    expect(() => t.render(twice)).toThrow(/alternate/);
    expect(() => t.render(twice)).toThrow(
      'Conversation roles must alternate user/assistant/user/assistant/...',
    );
  });
});

describe('ChatTemplate.fromTokenizerConfig', () => {
  it('is null for a config without a chat template', () => {
    expect(ChatTemplate.fromTokenizerConfig({})).toBeNull();
    expect(ChatTemplate.fromTokenizerConfig({ ...LLAMA2_CONFIG, chat_template: undefined })).toBeNull();
  });

  it('reads BOS and EOS given as AddedToken objects ({content})', () => {
    const added = (content: string) => ({ __type: 'AddedToken', content, lstrip: false, normalized: true });
    const t = templateOf({
      bos_token: added('<s>'),
      eos_token: added('</s>'),
      chat_template: LLAMA2_CONFIG.chat_template,
    });
    expect([t.bosToken, t.eosToken]).toEqual(['<s>', '</s>']);
    expect(t.render(PIRATE_CHAT)).toBe(PIRATE_CHAT_LLAMA2);
  });

  it('uses the template named "default" of a list of named templates', () => {
    const t = templateOf({
      ...LLAMA3_CONFIG,
      chat_template: [
        { name: 'tool_use', template: '{{ raise_exception("not the default template") }}' },
        { name: 'default', template: LLAMA3 },
        { name: 'rag', template: 'not the default template either' },
      ],
    });
    expect(t.render(META_DIALOG, { addGenerationPrompt: true })).toBe(META_DIALOG_LLAMA3);
  });
});
