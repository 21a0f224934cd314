/** Assembles manifest.json from the analysis and the files the blocks were written to. */
import type { ModelAnalysis } from './analyze';
import { hiddenSizeOf } from './block-costs';
import type { EmittedBlock } from './emit-blocks';
import {
  type BlockEntry,
  elemTypeToDType,
  type FileRef,
  MANIFEST_FORMAT,
  type Manifest,
  type TensorRoute,
  type WeightsRef,
} from './manifest';
import { toNumber } from './onnx-proto';

export interface WrittenBlock {
  readonly block: Omit<EmittedBlock, 'graph' | 'weights'>;
  readonly graph: FileRef;
  /** A written weights file, or byte ranges of a hub file (see RemoteWeightsRef). */
  readonly weights: WeightsRef | null;
}

export interface ManifestExtras {
  readonly name: string;
  readonly source: { file: string; bytes: number };
  readonly config: Record<string, unknown> | null;
  readonly generationConfig: Record<string, unknown> | null;
  readonly tokenizer: FileRef | null;
  readonly tokenizerConfig: FileRef | null;
}

export function buildManifest(
  a: ModelAnalysis,
  written: readonly WrittenBlock[],
  extras: ManifestExtras,
): Manifest {
  const hidden = hiddenSizeOf(extras.config);
  const producer = new Map<string, number>();
  const consumers = new Map<string, number[]>();
  for (const { block } of written) {
    for (const o of block.plan.outputs) producer.set(o, block.plan.index);
    for (const i of block.plan.inputs) {
      if (block.plan.cacheInputs.includes(i)) continue;
      const list = consumers.get(i);
      if (list) list.push(block.plan.index);
      else consumers.set(i, [block.plan.index]);
    }
  }
  const tensors: TensorRoute[] = [...consumers].map(([name, readers]) => {
    const elemType = a.types.get(name) ?? 0;
    return {
      name,
      elemType,
      dtype: elemTypeToDType(elemType),
      producer: producer.get(name) ?? -1,
      consumers: readers,
    };
  });
  const blocks: BlockEntry[] = written.map(({ block, graph, weights }) => ({
    index: block.plan.index,
    kind: block.plan.kind,
    layer: block.plan.layer,
    graph,
    weights,
    params: block.costs.params,
    weightBytes: weights?.bytes ?? 0,
    inputs: block.plan.inputs,
    outputs: block.plan.outputs,
    cacheInputs: block.plan.cacheInputs,
    cacheOutputs: block.plan.cacheOutputs,
    flopsPerToken: block.costs.flopsPerToken,
    attentionFlopsPerContextToken: block.plan.kind === 'layer' && hidden ? 4 * hidden : 0,
    kvBytesPerToken: block.costs.kvBytesPerToken,
    nodeCount: block.plan.nodes.length + block.plan.staticNodes.length,
    streamedBytesPerToken: block.costs.streamedBytesPerToken,
  }));
  const sum = (f: (b: BlockEntry) => number) => blocks.reduce((s, b) => s + f(b), 0);
  return {
    format: MANIFEST_FORMAT,
    name: extras.name,
    source: extras.source,
    irVersion: toNumber(a.model.irVersion),
    opsets: (a.model.opsetImport ?? []).map((o) => ({
      domain: o.domain ?? '',
      version: toNumber(o.version),
    })),
    numLayers: a.partition.numLayers,
    config: extras.config,
    generationConfig: extras.generationConfig,
    files: { tokenizer: extras.tokenizer, tokenizerConfig: extras.tokenizerConfig },
    inputs: a.inputs,
    outputs: a.outputs,
    tensors,
    blocks,
    totals: {
      params: sum((b) => b.params),
      weightBytes: sum((b) => b.weightBytes),
      flopsPerToken: sum((b) => b.flopsPerToken),
      kvBytesPerToken: sum((b) => b.kvBytesPerToken),
    },
  };
}
