import { describe, expect, it } from 'vitest';
import { inferElemTypes, requireType } from './dtype-inference';
import { indexGraph } from './graph-index';
import { ElemType, ModelFormatError, onnx } from './onnx-proto';
import { GraphBuilder, int, tensorAttr, valueInfo } from './test-graphs';

const { FLOAT, FLOAT16, INT32, INT64, BOOL, UINT8, STRING } = ElemType;

function infer(b: GraphBuilder): Map<string, number> {
  const g = b.graph();
  return inferElemTypes(indexGraph(g, 'm'), [
    ...(g.input ?? []),
    ...(g.output ?? []),
    ...(g.valueInfo ?? []),
  ]);
}

/** A graph with float16 `x`, int32 `n` and a bool `cond` as inputs. */
function base(): GraphBuilder {
  return new GraphBuilder().input('x', FLOAT16, ['s']).input('n', INT32, []).input('cond', BOOL, []);
}

describe('inferElemTypes', () => {
  it('Shape, Size, ArgMax, NonZero give int64 whatever their input', () => {
    const b = base()
      .node('Shape', ['x'], ['shape'])
      .node('Size', ['x'], ['size'])
      .node('ArgMax', ['x'], ['argmax'])
      .node('NonZero', ['x'], ['nz']);
    const t = infer(b);
    expect(['shape', 'size', 'argmax', 'nz'].map((n) => t.get(n))).toEqual([INT64, INT64, INT64, INT64]);
  });

  it('Cast gives its `to` attribute', () => {
    const b = base()
      .node('Cast', ['x'], ['f32'], 'c1', [int('to', FLOAT)])
      .node('Cast', ['n'], ['u8'], 'c2', [int('to', UINT8)]);
    const t = infer(b);
    expect([t.get('f32'), t.get('u8')]).toEqual([FLOAT, UINT8]);
  });

  it('comparisons and logic give bool', () => {
    const b = base()
      .node('Equal', ['x', 'x'], ['eq'])
      .node('Less', ['n', 'n'], ['lt'])
      .node('Not', ['cond'], ['nt']);
    const t = infer(b);
    expect([t.get('eq'), t.get('lt'), t.get('nt')]).toEqual([BOOL, BOOL, BOOL]);
  });

  it('Where gives the type of its second input, not of the condition', () => {
    const b = base().node('Where', ['cond', 'n', 'n'], ['w']).node('Where', ['cond', 'x', 'x'], ['w2']);
    const t = infer(b);
    expect([t.get('w'), t.get('w2')]).toEqual([INT32, FLOAT16]);
  });

  it('ConstantOfShape gives its value tensor’s type, float without one', () => {
    const b = base()
      .node('Shape', ['x'], ['shape'])
      .node('ConstantOfShape', ['shape'], ['zeros_i64'], 'cos1', [
        tensorAttr('value', { dims: [1], dataType: INT64, int64Data: [0] }),
      ])
      .node('ConstantOfShape', ['shape'], ['zeros_default'], 'cos2');
    const t = infer(b);
    expect([t.get('zeros_i64'), t.get('zeros_default')]).toEqual([INT64, FLOAT]);
  });

  it('Constant gives the type of its value attribute', () => {
    const b = base()
      .node('Constant', [], ['c_t'], 'k1', [
        tensorAttr('value', { dims: [], dataType: FLOAT16, rawData: new Uint8Array(2) }),
      ])
      .node('Constant', [], ['c_i'], 'k2', [int('value_int', 3)])
      .node('Constant', [], ['c_fs'], 'k3', [
        { name: 'value_floats', type: onnx.AttributeProto.AttributeType.FLOATS, floats: [1, 2] },
      ])
      .node('Constant', [], ['c_s'], 'k4', [
        { name: 'value_string', type: onnx.AttributeProto.AttributeType.STRING, s: new Uint8Array([65]) },
      ]);
    const t = infer(b);
    expect(['c_t', 'c_i', 'c_fs', 'c_s'].map((n) => t.get(n))).toEqual([FLOAT16, INT64, FLOAT, STRING]);
  });

  it('other ops take their first input’s type, and propagate along a chain', () => {
    const b = base()
      .node('Relu', ['x'], ['r'])
      .node('Add', ['n', 'n'], ['sum'])
      .node('Cast', ['r'], ['rf'], 'c', [int('to', FLOAT)])
      .node('Mul', ['rf', 'rf'], ['sq'])
      .node('Unsqueeze', ['sum', 'sum'], ['us']);
    const t = infer(b);
    expect(['r', 'sum', 'rf', 'sq', 'us'].map((n) => t.get(n))).toEqual([
      FLOAT16,
      INT32,
      FLOAT,
      FLOAT,
      INT32,
    ]);
  });

  it('normalisations: input type for the main output, float for the statistics', () => {
    const b = base().node('LayerNormalization', ['x', 'x', 'x'], ['y', 'mean', 'inv_std']);
    const t = infer(b);
    expect([t.get('y'), t.get('mean'), t.get('inv_std')]).toEqual([FLOAT16, FLOAT, FLOAT]);
  });

  it('TopK: values keep the input type, indices are int64', () => {
    const t = infer(base().node('TopK', ['x', 'n'], ['vals', 'idx']));
    expect([t.get('vals'), t.get('idx')]).toEqual([FLOAT16, INT64]);
  });

  it('takes initializer types, and keeps a declared type over the rule', () => {
    const b = base()
      .init('w', [2], { dataType: INT32 })
      .node('Relu', ['x'], ['declared'])
      .node('Neg', ['w'], ['nw']);
    b.valueInfo.push(valueInfo('declared', FLOAT));
    const t = infer(b);
    expect([t.get('w'), t.get('nw'), t.get('declared')]).toEqual([INT32, INT32, FLOAT]);
  });

  it('processes nodes in dataflow order even when the file lists them out of order', () => {
    const b = base()
      .node('Neg', ['c'], ['late'])
      .node('Cast', ['x'], ['c'], 'cast', [int('to', INT64)]);
    expect(infer(b).get('late')).toBe(INT64);
  });

  it('leaves a tensor untyped when nothing tells its type, and requireType names it', () => {
    const b = new GraphBuilder()
      .input('mystery')
      .node('Relu', ['mystery'], ['r'])
      .node('Cast', ['r'], ['nc'], 'c');
    b.inputs[0] = valueInfo('mystery'); // declared without a type
    const t = infer(b);
    expect(t.has('r')).toBe(false);
    expect(t.has('nc')).toBe(false); // Cast without `to`
    expect(() => requireType(t, 'r', 'file.onnx')).toThrow(ModelFormatError);
    expect(() => requireType(t, 'r', 'file.onnx')).toThrow(
      'file.onnx: cannot tell the element type of tensor r',
    );
    expect(requireType(new Map([['r', FLOAT]]), 'r', 'f')).toBe(FLOAT);
  });
});
