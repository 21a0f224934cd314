import { describe, expect, it } from 'vitest';
import { findCacheLayers, pairCacheTensors } from './cache-tensors';
import { indexGraph } from './graph-index';
import { ElemType, ModelFormatError, onnx } from './onnx-proto';
import { GraphBuilder, tensorAttr } from './test-graphs';

const names = (g: ReturnType<typeof indexGraph>) => g.nodes.map((n) => n.name);

describe('indexGraph', () => {
  it('keeps an already topological file order', () => {
    const b = new GraphBuilder().input('x').output('z');
    b.node('Relu', ['x'], ['a'], 'n1').node('Neg', ['x'], ['b'], 'n2').node('Add', ['a', 'b'], ['z'], 'n3');
    expect(names(indexGraph(b.graph(), 'm'))).toEqual(['n1', 'n2', 'n3']);
  });

  it('sorts nodes given out of order, and indexes producers and consumers by the sorted position', () => {
    const b = new GraphBuilder().input('x').output('z');
    b.node('Add', ['a', 'b'], ['z'], 'last')
      .node('Neg', ['a'], ['b'], 'middle')
      .node('Relu', ['x'], ['a'], 'first');
    const g = indexGraph(b.graph(), 'm');
    expect(names(g)).toEqual(['first', 'middle', 'last']);
    expect(g.producer.get('a')).toBe(0);
    expect(g.producer.get('z')).toBe(2);
    expect(g.consumers.get('a')).toEqual([1, 2]);
    expect(g.consumers.get('x')).toEqual([0]);
    expect(g.graphOutputs).toEqual(['z']);
  });

  it('drops empty optional input names and lists inputs that are initializers separately', () => {
    const b = new GraphBuilder().input('x').input('w').output('y');
    b.init('w', [2]); // also declared as a graph input: an overridable initializer, not a feed
    b.node('Clip', ['x', '', 'w'], ['y'], 'clip');
    const g = indexGraph(b.graph(), 'm');
    expect(g.nodeInputs[0]).toEqual(['x', 'w']);
    expect(g.graphInputs).toEqual(['x']);
    expect([...g.initializers.keys()]).toEqual(['w']);
  });

  it('marks as static what initializers and constants alone compute, never random ops', () => {
    const b = new GraphBuilder().input('x').output('y');
    b.init('w', [4]);
    b.node('Constant', [], ['c'], 'const', [tensorAttr('value', { dims: [], dataType: 1, floatData: [2] })]);
    b.node('Mul', ['w', 'c'], ['wc'], 'static_mul');
    b.node('Shape', ['wc'], ['shape'], 'static_shape');
    b.node('RandomNormalLike', ['w'], ['noise'], 'random');
    b.node('Add', ['noise', 'wc'], ['nw'], 'after_random');
    b.node('Mul', ['x', 'wc'], ['xw'], 'dynamic');
    b.node('Add', ['xw', 'nw'], ['y'], 'out');
    const g = indexGraph(b.graph(), 'm');
    const isStatic = Object.fromEntries(g.nodes.map((n, i) => [n.name, g.isStatic[i]]));
    expect(isStatic).toEqual({
      const: true,
      static_mul: true,
      static_shape: true,
      random: false,
      after_random: false,
      dynamic: false,
      out: false,
    });
  });

  it("counts the outer-scope names an If node's subgraphs read as its inputs", () => {
    const b = new GraphBuilder().input('x').input('cond', ElemType.BOOL).output('y');
    b.node('Relu', ['x'], ['outer'], 'relu');
    const thenBranch = {
      name: 'then',
      node: [
        { opType: 'Neg', input: ['outer'], output: ['local'] },
        { opType: 'Abs', input: ['local'], output: ['t'] },
      ],
      output: [{ name: 't' }],
    };
    const elseBranch = {
      name: 'else',
      node: [{ opType: 'Identity', input: ['x'], output: ['e'] }],
      output: [{ name: 'e' }],
    };
    b.node('If', ['cond'], ['y'], 'if', [
      { name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: thenBranch },
      { name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: elseBranch },
    ]);
    const g = indexGraph(b.graph(), 'm');
    const i = g.nodes.findIndex((n) => n.name === 'if');
    expect([...g.nodeInputs[i]!].sort()).toEqual(['cond', 'outer', 'x']);
    expect(g.consumers.get('outer')).toEqual([i]);
  });

  it('names the file, the node and the missing tensor when a node reads what nobody produces', () => {
    const b = new GraphBuilder().input('x').output('y');
    b.node('Add', ['x', 'ghost'], ['y'], 'haunted');
    expect(() => indexGraph(b.graph(), 'dir/model.onnx')).toThrow(ModelFormatError);
    expect(() => indexGraph(b.graph(), 'dir/model.onnx')).toThrow(
      /dir\/model\.onnx: node haunted reads ghost, which no node, input or initializer provides/,
    );
  });

  it('reports a cycle as nodes reading what nobody provides', () => {
    const b = new GraphBuilder().input('x').output('y');
    b.node('Add', ['x', 'b'], ['a'], 'p').node('Neg', ['a'], ['b'], 'q').node('Relu', ['a'], ['y'], 'r');
    expect(() => indexGraph(b.graph(), 'loop.onnx')).toThrow(/loop\.onnx: node p reads b/);
  });

  it('falls back to the op type when the stuck node has no name', () => {
    const b = new GraphBuilder().input('x').output('y');
    b.nodes.push({ opType: 'Sub', input: ['x', 'nothing'], output: ['y'] });
    expect(() => indexGraph(b.graph(), 'm')).toThrow(/node Sub reads nothing/);
  });
});

describe('findCacheLayers', () => {
  it('groups Optimum-style names per layer, numbered in the order of their layer numbers', () => {
    const ins = ['input_ids', 'past_key_values.10.key', 'past_key_values.10.value', 'past_key_values.2.key'];
    const outs = ['logits', 'present.2.key', 'present.10.key', 'present.10.value'];
    expect(findCacheLayers(ins, outs, 'm')).toEqual([
      { layer: 0, inputs: ['past_key_values.2.key'], outputs: ['present.2.key'] },
      {
        layer: 1,
        inputs: ['past_key_values.10.key', 'past_key_values.10.value'],
        outputs: ['present.10.key', 'present.10.value'],
      },
    ]);
  });

  it('reads stacked past_N / present_N names, and ignores pasts among outputs and presents among inputs', () => {
    const layers = findCacheLayers(
      ['past_0', 'present_9', 'past_1'],
      ['present_0', 'present_1', 'past_7'],
      'm',
    );
    expect(layers.map((l) => [l.inputs, l.outputs])).toEqual([
      [['past_0'], ['present_0']],
      [['past_1'], ['present_1']],
    ]);
  });

  it('says a graph without past/present is not a decoder with a KV cache, naming file and tensors', () => {
    expect(() => findCacheLayers(['input_ids', 'past_sequence_length'], ['logits'], 'gpt.onnx')).toThrow(
      /gpt\.onnx: not a decoder with a KV cache.*\[input_ids, past_sequence_length\].*\[logits\]/,
    );
    expect(() => findCacheLayers(['past_0'], ['logits'], 'm')).toThrow(ModelFormatError);
  });

  it('rejects past layers that do not match present layers', () => {
    expect(() => findCacheLayers(['past_0', 'past_1'], ['present_0', 'present_2'], 'm.onnx')).toThrow(
      /m\.onnx: past layers \[0, 1\] and present layers \[0, 2\] differ/,
    );
  });
});

describe('pairCacheTensors', () => {
  it('pairs Optimum and stacked names', () => {
    expect(
      pairCacheTensors(
        ['past_key_values.0.key', 'past_key_values.0.value'],
        ['present.0.value', 'present.0.key'],
      ),
    ).toEqual([
      ['past_key_values.0.key', 'present.0.key'],
      ['past_key_values.0.value', 'present.0.value'],
    ]);
    expect(pairCacheTensors(['past_3'], ['present_3'])).toEqual([['past_3', 'present_3']]);
  });

  it('throws when a past has no present', () => {
    expect(() => pairCacheTensors(['past_key_values.0.key'], ['present.0.value'])).toThrow(
      /past_key_values\.0\.key has no matching present/,
    );
  });

  // Regression: a prefix regex that also ate "_key_"/"_value_" paired both with present_value_0.
  it('keeps key and value apart when they precede the layer number (past_key_0, past_value_0)', () => {
    expect(pairCacheTensors(['past_key_0', 'past_value_0'], ['present_key_0', 'present_value_0'])).toEqual([
      ['past_key_0', 'present_key_0'],
      ['past_value_0', 'present_value_0'],
    ]);
  });
});
