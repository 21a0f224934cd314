/**
 * A read-only index over an ONNX graph: producers, consumers, topological order, and which nodes are
 * static (computable from initializers and constants alone). Static nodes never become cut points: each
 * block that needs their value gets its own copy, like an initializer.
 */
import { type GraphProto, ModelFormatError, type NodeProto, type TensorProto } from './onnx-proto';

export interface GraphIndex {
  /** Nodes in a topological order (the file's order where it already is one). */
  readonly nodes: readonly NodeProto[];
  /** Inputs of each node: explicit ones plus outer-scope names its subgraphs read. Empty names dropped. */
  readonly nodeInputs: readonly (readonly string[])[];
  readonly nodeOutputs: readonly (readonly string[])[];
  readonly producer: ReadonlyMap<string, number>;
  readonly consumers: ReadonlyMap<string, readonly number[]>;
  readonly initializers: ReadonlyMap<string, TensorProto>;
  /** Graph inputs that are not initializers (what a caller feeds). */
  readonly graphInputs: readonly string[];
  readonly graphOutputs: readonly string[];
  readonly isStatic: readonly boolean[];
}

/** Names a subgraph reads from its enclosing scope (implicit inputs of If/Loop/Scan nodes). */
function outerScopeNames(graph: GraphProto): string[] {
  const local = new Set<string>();
  for (const i of graph.input ?? []) local.add(i.name ?? '');
  for (const t of graph.initializer ?? []) local.add(t.name ?? '');
  const used: string[] = [];
  for (const n of graph.node ?? []) {
    for (const i of n.input ?? []) if (i && !local.has(i)) used.push(i);
    for (const a of n.attribute ?? []) {
      for (const g of [a.g, ...(a.graphs ?? [])])
        if (g) for (const name of outerScopeNames(g)) if (!local.has(name)) used.push(name);
    }
    for (const o of n.output ?? []) if (o) local.add(o);
  }
  return [...new Set(used)];
}

function inputsOf(node: NodeProto): string[] {
  const names = (node.input ?? []).filter((n) => n !== '');
  for (const a of node.attribute ?? []) {
    for (const g of [a.g, ...(a.graphs ?? [])]) if (g) names.push(...outerScopeNames(g));
  }
  return [...new Set(names)];
}

export function indexGraph(graph: GraphProto, what: string): GraphIndex {
  const original = graph.node ?? [];
  const initializers = new Map<string, TensorProto>();
  for (const t of graph.initializer ?? []) initializers.set(t.name ?? '', t);
  const graphInputs = (graph.input ?? []).map((v) => v.name ?? '').filter((n) => !initializers.has(n));
  const available = new Set<string>([...initializers.keys(), ...graphInputs]);

  // Kahn's algorithm, taking nodes in file order whenever they are ready, so an already sorted graph
  // keeps its order (and with it the exporter's grouping of layers).
  const ins = original.map(inputsOf);
  const waitingOn = new Map<string, number[]>();
  const missing = ins.map((list, i) => {
    let count = 0;
    for (const name of list) {
      if (available.has(name)) continue;
      count++;
      const w = waitingOn.get(name);
      if (w) w.push(i);
      else waitingOn.set(name, [i]);
    }
    return count;
  });
  const order: number[] = [];
  const ready: number[] = [];
  for (const [i, m] of missing.entries()) if (m === 0) ready.push(i);
  const done = new Set<string>();
  while (ready.length > 0) {
    ready.sort((a, b) => b - a);
    const i = ready.pop()!;
    order.push(i);
    for (const out of original[i]!.output ?? []) {
      if (!out || done.has(out)) continue;
      done.add(out);
      for (const j of waitingOn.get(out) ?? []) if (--missing[j]! === 0) ready.push(j);
    }
  }
  if (order.length !== original.length) {
    const stuck = original.findIndex((_, i) => missing[i]! > 0);
    const node = original[stuck]!;
    const absent = ins[stuck]!.filter((n) => !available.has(n) && !done.has(n));
    throw new ModelFormatError(
      `${what}: node ${node.name || node.opType} reads ${absent.join(', ')}, which no node, input or initializer provides`,
    );
  }

  const nodes = order.map((i) => original[i]!);
  const nodeInputs = order.map((i) => ins[i]!);
  const nodeOutputs = nodes.map((n) => (n.output ?? []).filter((o) => o !== ''));
  const producer = new Map<string, number>();
  const consumers = new Map<string, number[]>();
  nodes.forEach((_, i) => {
    for (const o of nodeOutputs[i]!) producer.set(o, i);
    for (const name of nodeInputs[i]!) {
      const c = consumers.get(name);
      if (c) c.push(i);
      else consumers.set(name, [i]);
    }
  });
  const staticTensors = new Set(initializers.keys());
  const isStatic = nodes.map((n, i) => {
    const s =
      !NONDETERMINISTIC.has(n.opType ?? '') && nodeInputs[i]!.every((name) => staticTensors.has(name));
    if (s) for (const o of nodeOutputs[i]!) staticTensors.add(o);
    return s;
  });
  const graphOutputs = (graph.output ?? []).map((v) => v.name ?? '');
  return {
    nodes,
    nodeInputs,
    nodeOutputs,
    producer,
    consumers,
    initializers,
    graphInputs,
    graphOutputs,
    isStatic,
  };
}

/** Ops whose value must be computed once, never copied into several blocks. */
const NONDETERMINISTIC = new Set([
  'RandomNormal',
  'RandomUniform',
  'RandomNormalLike',
  'RandomUniformLike',
  'Multinomial',
]);
