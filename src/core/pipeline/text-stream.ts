/**
 * Streams an answer's text as deltas, decoded in context. Decoding the generated ids on their own loses
 * what a token means after the prompt: SentencePiece drops the space of a leading `▁LORD`, so "And the"
 * would continue "LORD" instead of " LORD". Like transformers' TextStreamer (and TGI's decode_token), each
 * step decodes a short window that starts a few tokens back, in the prompt at first, and sends only what
 * the window gained. A window that ends inside a multi-byte character (U+FFFD) is held back until the
 * character completes, so a delta never carries half a character.
 *
 * Cost: every step decodes two short windows, not the whole answer again.
 */
export type Decode = (ids: readonly number[]) => string;

/** How many tokens before the first generated one give the decoder its context. */
const PROMPT_CONTEXT = 5;
const INCOMPLETE = '\uFFFD';

export class TextStream {
  private readonly ids: number[];
  /** The window decoded starts here. */
  private prefix: number;
  /** Ids before this are in `text` already. */
  private read: number;
  private out = '';

  constructor(
    private readonly decode: Decode,
    promptIds: readonly number[],
  ) {
    this.ids = [...promptIds];
    this.read = this.ids.length;
    this.prefix = Math.max(0, this.read - PROMPT_CONTEXT);
  }

  /** The text streamed so far. */
  get text(): string {
    return this.out;
  }

  /** Takes the next generated id; returns the text it adds (possibly '' while a character is incomplete). */
  push(id: number): string {
    this.ids.push(id);
    return this.take(false);
  }

  /** At the end: whatever was held back, complete or not. */
  flush(): string {
    return this.read < this.ids.length ? this.take(true) : '';
  }

  private take(force: boolean): string {
    const before = this.decode(this.ids.slice(this.prefix, this.read));
    const now = this.decode(this.ids.slice(this.prefix));
    if (!force && (now.length <= before.length || now.endsWith(INCOMPLETE))) return '';
    // A decoder may normalize the window differently once it grows; the common prefix is what stays.
    const delta = now.startsWith(before) ? now.slice(before.length) : now.slice(commonPrefix(before, now));
    this.prefix = this.read;
    this.read = this.ids.length;
    this.out += delta;
    return delta;
  }
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}
