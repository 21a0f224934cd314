/**
 * Turns an emitted block (core/graph/emit-blocks.ts) into a block whose weights stay byte ranges of
 * the hub's external-data files, without the leader ever reading a weight byte.
 *
 * emitBlocks packs every large initializer into the block's own weights buffer; here each one is
 * traced back to where it lives in the source model: an external one to (file, offset, length) in
 * the hub's data file, an inline one (its bytes are in the graph the leader already holds) back into
 * the block graph as raw data. The external ones are sorted by source position and merged into runs
 * (neighbours closer than MERGE_GAP bytes share one Range request); each run gets a place in the
 * block's weights buffer with the same alignment modulo 64 it has in the source, and the block
 * graph's external-data offsets are rewritten to point there. The phone then fetches the runs and
 * drops them in place (delivery/remote-ranges.ts) — the buffer is exactly what the graph expects.
 */
import type { ModelAnalysis } from '../../core/graph/analyze';
import { type EmittedBlock, externalRef } from '../../core/graph/emit-blocks';
import type { RemoteRange, RemoteWeightsRef } from '../../core/graph/manifest';
import {
  decodeModel,
  encodeModel,
  ModelFormatError,
  onnx,
  type TensorProto,
} from '../../core/graph/onnx-proto';

/** Ranges this close together are fetched as one (the gap bytes are wasted, the request saved). */
export const MERGE_GAP = 16 * 1024;
const ALIGN = 64;

/** An external-data file of the source model, by the `location` the graph uses. */
export interface RemoteDataFile {
  readonly url: string;
  readonly bytes: number;
}

export function externalLocation(
  t: TensorProto,
): { location: string; offset: number; length: number } | null {
  return t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL ? externalRef(t) : null;
}

interface Placed {
  readonly tensor: TensorProto;
  readonly location: string;
  readonly offset: number;
  readonly length: number;
}

export interface RemoteBlock {
  readonly graph: Uint8Array;
  readonly weights: RemoteWeightsRef | null;
  /** Bytes of the runs (what a phone downloads for this block). */
  readonly fetchBytes: number;
}

export function remoteBlock(
  a: ModelAnalysis,
  block: EmittedBlock,
  files: ReadonlyMap<string, RemoteDataFile>,
): RemoteBlock {
  const model = decodeModel(block.graph, block.graphFile);
  const remote: Placed[] = [];
  for (const t of model.graph!.initializer ?? []) {
    if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
    const original = a.index.initializers.get(t.name ?? '');
    if (!original)
      throw new ModelFormatError(`${block.graphFile}: initializer ${t.name} is not in the source model`);
    const src = externalLocation(original);
    if (!src) {
      // Inline in the source: its bytes are in the graph the leader holds, so they ride in the block graph.
      t.rawData = original.rawData ?? new Uint8Array(0);
      t.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
      t.externalData = [];
      continue;
    }
    const file = files.get(src.location);
    if (!file)
      throw new ModelFormatError(
        `initializer ${t.name} refers to ${src.location}, which the repo does not have`,
      );
    if (src.offset + src.length > file.bytes) {
      throw new ModelFormatError(
        `initializer ${t.name} needs bytes ${src.offset}..${src.offset + src.length} of ${src.location}, ` +
          `which has ${file.bytes}: is the external data truncated?`,
      );
    }
    remote.push({ tensor: t, ...src });
  }
  remote.sort((x, y) => x.location.localeCompare(y.location) || x.offset - y.offset);

  const weightsFile = block.weightsFile ?? block.graphFile.replace(/\.onnx$/, '.weights');
  const ranges: RemoteRange[] = [];
  let cursor = 0;
  let fetchBytes = 0;
  for (let i = 0; i < remote.length; ) {
    const head = remote[i]!;
    let end = head.offset + head.length;
    let j = i + 1;
    while (
      j < remote.length &&
      remote[j]!.location === head.location &&
      remote[j]!.offset <= end + MERGE_GAP
    ) {
      end = Math.max(end, remote[j]!.offset + remote[j]!.length);
      j++;
    }
    const at = Math.ceil(cursor / ALIGN) * ALIGN + (head.offset % ALIGN);
    ranges.push({ url: files.get(head.location)!.url, offset: head.offset, length: end - head.offset, at });
    for (const p of remote.slice(i, j)) {
      p.tensor.externalData = [
        { key: 'location', value: weightsFile },
        { key: 'offset', value: String(at + p.offset - head.offset) },
        { key: 'length', value: String(p.length) },
      ];
    }
    cursor = at + end - head.offset;
    fetchBytes += end - head.offset;
    i = j;
  }
  const graph = encodeModel(model);
  if (ranges.length === 0) return { graph, weights: null, fetchBytes: 0 };
  const sourceBytes: Record<string, number> = {};
  for (const r of ranges) sourceBytes[r.url] = [...files.values()].find((f) => f.url === r.url)!.bytes;
  return {
    graph,
    weights: { file: weightsFile, sha256: null, bytes: cursor, ranges, sourceBytes },
    fetchBytes,
  };
}
