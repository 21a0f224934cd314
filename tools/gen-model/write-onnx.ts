/**
 * Writes a built graph as `<name>.onnx` + `<name>.onnx_data` (onnx-community's external-data layout).
 * The graph file is small and encoded in one go; the weights are streamed tensor by tensor, chunk by
 * chunk, through one file handle, so peak memory stays far below the data file's size.
 */
import { open, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { encodeModel, onnx, type TensorProto } from '../../src/core/graph/onnx-proto';
import type { GraphBuilder } from './graph-builder';

/**
 * Large tensors start on 64 KiB boundaries (onnx's external-data alignment for memory mapping), the rest
 * on 64 bytes; the padding is a negligible share of the file.
 */
const BIG = 1 << 20;
const BIG_ALIGN = 1 << 16;
const SMALL_ALIGN = 64;

export interface WrittenOnnx {
  onnxFile: string;
  dataFile: string;
  onnxBytes: number;
  dataBytes: number;
}

export interface Opset {
  domain: string;
  version: number;
}

export async function writeOnnx(
  g: GraphBuilder,
  dir: string,
  name: string,
  opsets: readonly Opset[],
): Promise<WrittenOnnx> {
  const dataName = `${name}.onnx_data`;
  const initializers: TensorProto[] = [];
  const offsets: number[] = [];
  let size = 0;
  for (const w of g.weights) {
    const length = w.data.byteLength;
    const align = length >= BIG ? BIG_ALIGN : SMALL_ALIGN;
    const offset = Math.ceil(size / align) * align;
    offsets.push(offset);
    size = offset + length;
    initializers.push({
      name: w.name,
      dims: [...w.dims],
      dataType: w.dataType,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: dataName },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(length) },
      ],
    });
  }
  const graphBytes = encodeModel({
    irVersion: 8,
    opsetImport: opsets.map((o) => ({ domain: o.domain, version: o.version })),
    producerName: 'chorus-gen-model',
    graph: {
      name: 'main_graph',
      node: g.nodes,
      initializer: initializers,
      input: g.inputs,
      output: g.outputs,
    },
  });

  // Temporary names, renamed at the end: an interrupted run never leaves a plausible-looking model.
  const onnxFile = path.join(dir, `${name}.onnx`);
  const dataFile = path.join(dir, dataName);
  const tmpData = `${dataFile}.partial`;
  const fh = await open(tmpData, 'w');
  try {
    for (const [i, w] of g.weights.entries()) {
      let at = offsets[i]!;
      for (const chunk of w.data.chunks()) {
        await fh.write(chunk, 0, chunk.length, at);
        at += chunk.length;
      }
      if (at !== offsets[i]! + w.data.byteLength)
        throw new Error(`${w.name}: wrote ${at - offsets[i]!} bytes, expected ${w.data.byteLength}`);
    }
    await fh.truncate(size);
  } catch (e) {
    await fh.close();
    await rm(tmpData, { force: true });
    throw e;
  }
  await fh.close();
  await writeFile(`${onnxFile}.partial`, graphBytes);
  await rename(tmpData, dataFile);
  await rename(`${onnxFile}.partial`, onnxFile);
  return { onnxFile, dataFile, onnxBytes: graphBytes.length, dataBytes: size };
}
