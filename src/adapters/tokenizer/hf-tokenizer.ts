/** The only importer of @huggingface/tokenizers: the model's own tokenizer.json, in the leader tab. */
import { Tokenizer } from '@huggingface/tokenizers';

export interface TextTokenizer {
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
}

export function loadTokenizer(tokenizerJson: unknown, tokenizerConfig: unknown): TextTokenizer {
  const t = new Tokenizer(
    tokenizerJson as ConstructorParameters<typeof Tokenizer>[0],
    (tokenizerConfig ?? {}) as ConstructorParameters<typeof Tokenizer>[1],
  );
  return {
    encode: (text) => t.encode(text).ids,
    decode: (ids) => t.decode([...ids], { skip_special_tokens: true }),
  };
}
