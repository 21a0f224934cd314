// Step 3b: check that public/models/chorus-kjv/tokenizer.json, loaded with @huggingface/tokenizers (the
// app's tokenizer library), encodes and decodes like sentencepiece did on the cases that
// convert_tokenizer.py wrote.  Usage: node tools/train-default-model/verify_tokenizer.mjs [/tmp/chorus-train]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';

const work = process.argv[2] ?? '/tmp/chorus-train';
const dir = new URL('../../public/models/chorus-kjv/', import.meta.url).pathname;
const tok = new Tokenizer(
  JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')),
  JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')),
);
const cases = JSON.parse(readFileSync(join(work, 'tokenizer_cases.json'), 'utf8'));

// tokenizers.js refuses to decode an empty id list; sentencepiece gives ''.
const decode = (ids) => (ids.length ? tok.decode(ids) : '');
// The two differences every converted Llama tokenizer.json has (see README): literal "<s>"/"</s>"/"<unk>"
// text becomes special tokens, and input text that itself starts with U+2581 decodes one "▁" differently.
const KNOWN = new Set(['<s> literal specials </s> <unk>', '▁ starts with the meta symbol']);
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const report = (name, list, check) => {
  const bad = list.filter((c) => !check(c));
  console.log(`${name}: ${list.length - bad.length}/${list.length} identical`);
  for (const c of bad.slice(0, 5)) console.log('  differs:', JSON.stringify(c).slice(0, 300));
  return bad.filter((c) => !KNOWN.has(c.text)).length;
};

let failures = 0;
failures += report('encode', cases.encode, (c) => same(tok.encode(c.text).ids, c.ids));
failures += report(
  'decode (sentencepiece ids of the encode cases, without BOS)',
  cases.encode,
  (c) => decode(c.ids.slice(1)) === c.decoded,
);
failures += report('decode (random ids, no byte tokens)', cases.decode, (c) => decode(c.ids) === c.text);
// Informational: sequences with random byte-fallback tokens can be invalid UTF-8, which sentencepiece
// replaces with one U+FFFD per byte and tokenizers.js with one per run; not counted as a failure.
report(
  'decode (random ids with byte tokens, informational)',
  cases.decode_bytes,
  (c) => decode(c.ids) === c.text,
);
console.log(
  failures === 0
    ? 'tokenizer OK (differences above, if any, are the known ones)'
    : `${failures} unexpected differences`,
);
process.exitCode = failures === 0 ? 0 : 1;
