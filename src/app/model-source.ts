/**
 * Where the leader's model comes from: a folder the server serves, a Hugging Face repository (the
 * leader reads only configs, tokenizer and graph; phones fetch their weight ranges from the hub), or a
 * folder on the leader's own disk (the leader serves every block peer-to-peer). Whatever the source,
 * the result is a manifest, a base the phones resolve files against, and the files the leader serves.
 */
import { loadTokenizer, type TextTokenizer } from '../adapters/tokenizer/hf-tokenizer';
import type { Manifest } from '../core/graph/manifest';
import { fetchManifest } from './block-fetch';
import { loadHubModel } from './hub/load-hub-model';
import { openLocalModel } from './hub/local-model';

export type ModelChoice =
  | { kind: 'served'; url: string; name: string }
  | { kind: 'hub'; base: string; id: string; dtype: string }
  | { kind: 'local'; name: string; files: Map<string, File> };

/** A model base of this scheme means "ask the leader for the files" (peer-to-peer). */
export const LEADER_BASE = 'leader:';

export interface OpenedModel {
  readonly manifest: Manifest;
  /** An http(s) URL the phones fetch from, or `leader:<name>`. */
  readonly base: string;
  /** Files the leader serves to phones by name (block graphs, manifest.json, and weights if it holds them). */
  readonly files: ReadonlyMap<string, Uint8Array> | null;
  readonly tokenizer: TextTokenizer | null;
  readonly description: string;
}

async function servedTokenizer(base: string, manifest: Manifest): Promise<TextTokenizer | null> {
  const [json, config] = await Promise.all(
    [manifest.files.tokenizer, manifest.files.tokenizerConfig].map(async (ref) =>
      ref ? (await fetch(new URL(ref.file, base))).json() : null,
    ),
  );
  return json ? loadTokenizer(json, config) : null;
}

export async function openModel(choice: ModelChoice, onStatus: (line: string) => void): Promise<OpenedModel> {
  switch (choice.kind) {
    case 'served': {
      const base = new URL(choice.url, globalThis.location?.href).href;
      const manifest = await fetchManifest(base);
      return {
        manifest,
        base,
        files: null,
        tokenizer: await servedTokenizer(base, manifest),
        description: choice.name,
      };
    }
    case 'hub': {
      const m = await loadHubModel(choice.base, choice.id, choice.dtype, fetch, { onStatus });
      return {
        manifest: m.manifest,
        base: `${LEADER_BASE}${choice.id}`,
        files: m.files,
        tokenizer: m.tokenizer ? loadTokenizer(m.tokenizer, m.tokenizerConfig) : null,
        description: `${choice.id} (${choice.dtype}), weights from ${m.weightsFrom === 'hub' ? 'the hub' : 'this phone'}`,
      };
    }
    case 'local': {
      const m = await openLocalModel(choice.files, { name: choice.name, onStatus });
      return {
        manifest: m.manifest,
        base: `${LEADER_BASE}${choice.name}`,
        files: m.files,
        tokenizer: m.tokenizer ? loadTokenizer(m.tokenizer, m.tokenizerConfig) : null,
        description: `${choice.name} from this phone's disk`,
      };
    }
  }
}
