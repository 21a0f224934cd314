/**
 * Cuts a decoder graph into blocks: prologue, one block per layer, epilogue.
 *
 * The cut comes from the dataflow, not from node names:
 * 1. Anchors: a node that reads layer i's past cache or writes its present cache belongs to layer i.
 * 2. Every node gets an interval [lo, hi] of blocks it may live in: no earlier than its latest anchored
 *    ancestor (lo), no later than its earliest anchored descendant (hi); nodes that only feed the
 *    logits may go as late as the epilogue.
 * 3. Work that depends on no layer and either reads only the graph's inputs (the embedding lookup, the
 *    first steps of mask and position preparation) or feeds layers beyond the first (the causal mask,
 *    rotary tables) is computed once, in the prologue.
 * 4. Between consecutive blocks, the remaining free nodes are split by a minimum cut that counts each
 *    tensor crossing the boundary once (the logits twice: they are vocabulary-sized, so the LM head is
 *    never left in a layer). Equal cuts are told apart by small per-node preferences: the prologue takes
 *    all it can (the embedding lookup rather than raw ids); after it, matmuls with weights stay with the
 *    layer that reached them and weightless ops (norms) move on, so a layer starts with its input norm
 *    and the final norm joins the LM head in the epilogue.
 */

import { weightFlops } from './block-costs';
import { findCacheLayers } from './cache-tensors';
import type { GraphIndex } from './graph-index';
import { FlowNetwork, INF } from './max-flow';
import { ModelFormatError } from './onnx-proto';

export type BlockKind = 'prologue' | 'layer' | 'epilogue';

export interface BlockPlan {
  readonly index: number;
  readonly kind: BlockKind;
  readonly layer: number | null;
  /** Non-static nodes computed by this block (indices into GraphIndex.nodes, topological order). */
  readonly nodes: readonly number[];
  /** Static nodes copied into this block because its nodes read their outputs. */
  readonly staticNodes: readonly number[];
  readonly initializers: readonly string[];
  /** What the block reads: graph inputs, its own cache inputs, and earlier blocks' outputs. */
  readonly inputs: readonly string[];
  /** What the block gives: tensors later blocks read, graph outputs (logits, its present cache). */
  readonly outputs: readonly string[];
  readonly cacheInputs: readonly string[];
  readonly cacheOutputs: readonly string[];
}

export interface Partition {
  readonly blocks: readonly BlockPlan[];
  readonly numLayers: number;
}

export function partitionGraph(g: GraphIndex, what: string): Partition {
  const layers = findCacheLayers(g.graphInputs, g.graphOutputs, what);
  const L = layers.length;
  const cacheBlock = new Map<string, number>();
  for (const c of layers) for (const name of [...c.inputs, ...c.outputs]) cacheBlock.set(name, c.layer + 1);
  const n = g.nodes.length;
  const dynamic = (i: number) => !g.isStatic[i];
  const dataInputs = new Set(g.graphInputs.filter((name) => !cacheBlock.has(name)));
  const finalOutputs = new Set(g.graphOutputs.filter((name) => !cacheBlock.has(name)));

  // 1. anchors
  const pin = new Array<number | undefined>(n);
  for (let i = 0; i < n; i++) {
    const touched = new Set<number>();
    for (const name of [...g.nodeInputs[i]!, ...g.nodeOutputs[i]!]) {
      const b = cacheBlock.get(name);
      if (b !== undefined) touched.add(b);
    }
    if (touched.size > 1) {
      const node = g.nodes[i]!;
      throw new ModelFormatError(
        `${what}: node ${node.name || node.opType} touches the caches of several layers`,
      );
    }
    pin[i] = touched.size ? [...touched][0] : undefined;
  }

  // 2. intervals
  const lo = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    if (!dynamic(i)) continue;
    let v = pin[i] ?? 0;
    for (const name of g.nodeInputs[i]!) {
      const p = g.producer.get(name);
      if (p !== undefined && dynamic(p)) v = Math.max(v, lo[p]!);
    }
    lo[i] = v;
  }
  const consumersOf = (i: number) =>
    g.nodeOutputs[i]!.flatMap((o) => g.consumers.get(o) ?? []).filter(dynamic);
  // 3. once-only work goes to the prologue
  const dynamicInputs = (i: number) =>
    g.nodeInputs[i]!.filter(
      (name) => dataInputs.has(name) || (g.producer.has(name) && dynamic(g.producer.get(name)!)),
    );
  const inPrologue = (i: number) =>
    lo[i] === 0 &&
    pin[i] === undefined &&
    (consumersOf(i).some((c) => lo[c]! >= 2) || dynamicInputs(i).every((name) => dataInputs.has(name)));
  const hi = new Array<number>(n).fill(INF);
  for (let i = n - 1; i >= 0; i--) {
    if (!dynamic(i)) continue;
    let v = pin[i] ?? (g.nodeOutputs[i]!.some((o) => finalOutputs.has(o)) ? L + 1 : INF);
    if (inPrologue(i)) v = 0;
    for (const c of consumersOf(i)) v = Math.min(v, hi[c]!);
    hi[i] = v;
    if (v !== INF && lo[i]! > v) {
      const node = g.nodes[i]!;
      throw new ModelFormatError(
        `${what}: node ${node.name || node.opType} depends on layer ${lo[i]! - 1} but feeds layer ${v - 1}: ` +
          'the layers do not form a chain',
      );
    }
  }
  const live = (i: number) => dynamic(i) && hi[i] !== INF;

  // 4. minimum cuts, boundary by boundary
  const block = new Array<number>(n).fill(-1);
  for (let i = 0; i < n; i++) if (live(i) && lo[i] === hi[i]) block[i] = lo[i]!;
  for (let b = 0; b <= L; b++) cutBoundary(g, b, lo, hi, block, live, dataInputs, finalOutputs);
  for (let i = 0; i < n; i++) if (live(i) && block[i] === -1) block[i] = hi[i]!;

  return { blocks: buildBlocks(g, block, layers, L, live), numLayers: L };
}

const SOURCE = 0;
const SINK = 1;
/** Capacities: a crossing tensor outweighs any sum of node preferences, which only break ties. */
const TENSOR = 1_000_000;
const LOGITS = 2 * TENSOR;
const WEIGHTED_NODE_STAYS = 100;
const WEIGHTLESS_NODE_MOVES = 1;

function cutBoundary(
  g: GraphIndex,
  b: number,
  lo: number[],
  hi: number[],
  block: number[],
  live: (i: number) => boolean,
  dataInputs: ReadonlySet<string>,
  finalOutputs: ReadonlySet<string>,
): void {
  const vertexOf = new Map<number, number>();
  let next = 2;
  for (let i = 0; i < g.nodes.length; i++) {
    if (live(i) && block[i] === -1 && lo[i]! <= b && b < hi[i]!) vertexOf.set(i, next++);
  }
  if (vertexOf.size === 0) return;
  const side = (i: number): number => {
    const v = vertexOf.get(i);
    if (v !== undefined) return v;
    return (block[i] !== -1 && block[i]! <= b) || hi[i]! <= b ? SOURCE : SINK;
  };
  const edges: [number, number, number][] = [];
  const tensorsSeen = new Set<string>();
  const addTensor = (name: string, from: number) => {
    if (tensorsSeen.has(name)) return;
    tensorsSeen.add(name);
    const sinks = [...new Set((g.consumers.get(name) ?? []).filter(live).map(side))];
    if (finalOutputs.has(name)) sinks.push(SINK); // read by the leader, after the epilogue
    if (from < 2 && sinks.every((s) => s < 2)) return; // a fixed cost, no choice to make
    const tin = next++;
    const tout = next++;
    edges.push([from, tin, INF], [tin, tout, finalOutputs.has(name) ? LOGITS : TENSOR]);
    for (const s of sinks) {
      edges.push([tout, s, INF]);
      edges.push([s, from, INF]); // a consumer never sits before its producer
    }
  };
  for (const [i] of vertexOf) {
    for (const o of g.nodeOutputs[i]!) addTensor(o, side(i));
    for (const name of g.nodeInputs[i]!) {
      const p = g.producer.get(name);
      if (p !== undefined && live(p)) addTensor(name, side(p));
      else if (p === undefined && dataInputs.has(name)) addTensor(name, SOURCE);
    }
  }
  if (b > 0) {
    for (const [i, v] of vertexOf) {
      if (weightFlops(g, g.nodes[i]!) > 0) edges.push([SOURCE, v, WEIGHTED_NODE_STAYS]);
      else edges.push([v, SINK, WEIGHTLESS_NODE_MOVES]);
    }
  }
  const net = new FlowNetwork(next);
  for (const [u, v, c] of edges) if (u !== v && !(u === SINK && v === SOURCE)) net.addEdge(u, v, c);
  net.maxFlow(SOURCE, SINK);
  const late = net.sinkSide(SINK); // the largest source side: remaining ties go to the earlier block
  for (const [i, v] of vertexOf) if (!late[v]) block[i] = b;
}

function buildBlocks(
  g: GraphIndex,
  block: number[],
  layers: ReturnType<typeof findCacheLayers>,
  L: number,
  live: (i: number) => boolean,
): BlockPlan[] {
  const finalOutputs = new Set(g.graphOutputs);
  const blockOfTensor = new Map<string, number>();
  g.nodes.forEach((_, i) => {
    if (live(i)) for (const o of g.nodeOutputs[i]!) blockOfTensor.set(o, block[i]!);
  });
  const plans: BlockPlan[] = [];
  for (let b = 0; b <= L + 1; b++) {
    const nodes = g.nodes.map((_, i) => i).filter((i) => live(i) && block[i] === b);
    if (nodes.length === 0) {
      if (b >= 1 && b <= L) throw new ModelFormatError(`layer ${b - 1} has no computation of its own`);
      continue;
    }
    const staticNodes = new Set<number>();
    const initializers = new Set<string>();
    const visitStatic = (name: string) => {
      if (g.initializers.has(name)) return void initializers.add(name);
      const p = g.producer.get(name);
      if (p === undefined || !g.isStatic[p] || staticNodes.has(p)) return;
      staticNodes.add(p);
      for (const i of g.nodeInputs[p]!) visitStatic(i);
    };
    const inputs: string[] = [];
    const own = new Set(nodes.flatMap((i) => g.nodeOutputs[i]!));
    for (const i of nodes) {
      for (const name of g.nodeInputs[i]!) {
        visitStatic(name);
        if (own.has(name) || g.initializers.has(name) || staticNodes.has(g.producer.get(name) ?? -1))
          continue;
        if (!inputs.includes(name)) inputs.push(name);
      }
    }
    const outputs = [...own].filter(
      (o) => finalOutputs.has(o) || (g.consumers.get(o) ?? []).some((c) => live(c) && block[c]! > b),
    );
    const layer = b >= 1 && b <= L ? b - 1 : null;
    const cache = layer === null ? undefined : layers[layer];
    plans.push({
      index: plans.length,
      kind: b === 0 ? 'prologue' : layer === null ? 'epilogue' : 'layer',
      layer,
      nodes,
      staticNodes: [...staticNodes].sort((x, y) => x - y),
      initializers: [...initializers],
      inputs,
      outputs,
      cacheInputs: cache ? cache.inputs.filter((c) => inputs.includes(c)) : [],
      cacheOutputs: cache ? cache.outputs.filter((c) => outputs.includes(c)) : [],
    });
  }
  return plans;
}
