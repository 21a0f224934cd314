import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../adapters/tokenizer/hf-tokenizer';
import { TextStream } from './text-stream';

const tokenizerOf = (dir: string) =>
  loadTokenizer(
    JSON.parse(readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')),
    JSON.parse(readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')),
  );
const KJV = path.resolve(import.meta.dirname, '../../../public/models/chorus-kjv');
const STORIES = path.resolve(import.meta.dirname, '../../../../shared/models/stories260k');

interface Reference {
  prompts: { prompt: string; prompt_ids: number[]; generated_ids: number[]; full_text: string }[];
}

describe('TextStream', () => {
  const kjv = tokenizerOf(KJV);

  it('streams exactly what the reference decodes after each prompt, spaces included', () => {
    const ref = JSON.parse(readFileSync(path.join(KJV, 'reference.json'), 'utf8')) as Reference;
    for (const p of ref.prompts) {
      const s = new TextStream(kjv.decode, p.prompt_ids);
      const deltas = p.generated_ids.map((id) => s.push(id));
      const text = deltas.join('') + s.flush();
      expect(text).toBe(s.text);
      expect(p.prompt + text).toBe(p.full_text);
    }
  });

  it('continues "And the" with " LORD", where decoding the continuation alone drops the space', () => {
    const prompt = kjv.encode('And the');
    const lord = kjv.encode('And the LORD').slice(prompt.length);
    expect(kjv.decode(lord)).toBe('LORD');
    const s = new TextStream(kjv.decode, prompt);
    expect(lord.map((id) => s.push(id)).join('')).toBe(' LORD');
  });

  it('never sends half a character: byte-fallback pieces wait until the character is whole', () => {
    const stories = tokenizerOf(STORIES);
    const prompt = stories.encode('Once upon a time');
    const full = stories.encode('Once upon a time, naïve Zoë said “✓ 日本”.');
    const generated = full.slice(prompt.length);
    const s = new TextStream(stories.decode, prompt);
    const deltas = generated.map((id) => s.push(id));
    deltas.push(s.flush());
    for (const d of deltas) expect(d).not.toContain('\uFFFD');
    // Some step had only part of a character, and said nothing for it.
    expect(deltas.filter((d) => d === '').length).toBeGreaterThan(0);
    expect(deltas.join('')).toBe(stories.decode(full).slice(stories.decode(prompt).length));
  });

  it('flush gives what was held back at the end, even an incomplete character', () => {
    const stories = tokenizerOf(STORIES);
    const prompt = stories.encode('Hi');
    const check = stories.encode('Hi ✓').slice(prompt.length);
    const s = new TextStream(stories.decode, prompt);
    const first = check
      .slice(0, -1)
      .map((id) => s.push(id))
      .join('');
    expect(first).not.toContain('\uFFFD');
    expect(first + s.flush()).toBe(stories.decode([...prompt, ...check.slice(0, -1)]).slice(2));
    expect(s.flush()).toBe('');
  });
});
