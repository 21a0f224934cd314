/**
 * Finds the per-layer KV-cache tensors of a decoder graph, whatever the exporter called them:
 * `past_key_values.3.key` / `present.3.key` (Optimum, onnx-community, onnxruntime-genai),
 * `past_3` / `present_3` (older fused exports that stack key and value), `past.3.value`, ...
 * The rule is the name's own shape: starts with "past" (inputs) or "present" (outputs) and carries a
 * layer number. Layers are renumbered 0..L-1 in the order of those numbers.
 */
import { ModelFormatError } from './onnx-proto';

export interface CacheLayer {
  readonly layer: number;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

const CACHE_NAME = /^(past|present)\D*?(\d+)/i;

export function findCacheLayers(
  graphInputs: readonly string[],
  graphOutputs: readonly string[],
  what: string,
): CacheLayer[] {
  const pastBy = new Map<number, string[]>();
  const presentBy = new Map<number, string[]>();
  const collect = (names: readonly string[], prefix: string, into: Map<number, string[]>) => {
    for (const name of names) {
      const m = CACHE_NAME.exec(name);
      if (!m || m[1]!.toLowerCase() !== prefix) continue;
      const n = Number(m[2]);
      const list = into.get(n);
      if (list) list.push(name);
      else into.set(n, [name]);
    }
  };
  collect(graphInputs, 'past', pastBy);
  collect(graphOutputs, 'present', presentBy);
  if (pastBy.size === 0 || presentBy.size === 0) {
    throw new ModelFormatError(
      `${what}: not a decoder with a KV cache: found no per-layer past/present tensors among inputs ` +
        `[${graphInputs.join(', ')}] and outputs [${graphOutputs.join(', ')}]`,
    );
  }
  const numbers = [...pastBy.keys()].sort((a, b) => a - b);
  const presentNumbers = [...presentBy.keys()].sort((a, b) => a - b);
  if (numbers.join() !== presentNumbers.join()) {
    throw new ModelFormatError(
      `${what}: past layers [${numbers.join(', ')}] and present layers [${presentNumbers.join(', ')}] differ`,
    );
  }
  return numbers.map((n, layer) => ({ layer, inputs: pastBy.get(n)!, outputs: presentBy.get(n)! }));
}

/**
 * Pairs each past input with the present output that replaces it next step: `past_key_values.0.key` ↔
 * `present.0.key`, `past_0` ↔ `present_0`. Names match once their past/present prefix is dropped.
 */
export function pairCacheTensors(pasts: readonly string[], presents: readonly string[]): [string, string][] {
  // Drop exactly the past/present prefix (longest first); what follows (`.0.key`, `_key_0`, `_0`) must match.
  const key = (name: string) => name.replace(/^(past_key_values|present_key_values|past|present)/i, '');
  const byKey = new Map(presents.map((p) => [key(p), p]));
  return pasts.map((past) => {
    const present = byKey.get(key(past));
    if (!present) throw new ModelFormatError(`cache input ${past} has no matching present output`);
    return [past, present];
  });
}
