/**
 * Random weights, produced chunk by chunk so a 650 MB data file never sits in memory.
 *
 * Every value is a pure function of (tensor key, row, column) — a counter-based generator — so the same
 * logical matrix can be written in any order: the `[in, out]` layout a float MatMul reads, the `[out, in]`
 * rows MatMulNBits packs, or the LM head as the exact transpose of the embedding it is tied to.
 */

/** About 1 MB of output per chunk: large enough for few writes, small enough to never matter. */
const CHUNK_ELEMS = 1 << 18;
const SQRT6 = Math.sqrt(6);

/** FNV-1a of the tensor's name, mixed with the seed: each tensor gets its own stream. */
export function tensorKey(seed: number, name: string): number {
  let h = (2166136261 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
  return h;
}

/**
 * A zero-mean value with standard deviation 1 and a bell-ish (triangular) shape, from a murmur3
 * finaliser of the element's index; index × golden ratio is a bijection mod 2^32, so no two elements of
 * a tensor (< 2^32 elements) share an input.
 */
export function noise(key: number, index: number): number {
  let x = (Math.imul(index, 0x9e3779b1) ^ key) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  x = (x ^ (x >>> 16)) >>> 0;
  return (((x & 0xffff) + (x >>> 16)) / 65535 - 1) * SQRT6;
}

/** A logical matrix `[rows, cols]` in Hugging Face's orientation (`weight[out][in]` for a linear). */
export interface Field {
  key: number;
  rows: number;
  cols: number;
  std: number;
  /** Added to every value: 1 for RMSNorm weights, which start at one. */
  mean: number;
}

export const fieldValue = (f: Field, r: number, c: number): number =>
  f.mean + f.std * noise(f.key, r * f.cols + c);

/** Bytes of one initializer, produced on demand. */
export interface WeightData {
  readonly byteLength: number;
  chunks(): Generator<Uint8Array>;
}

function floatChunks(count: number, value: (i: number) => number): WeightData {
  return {
    byteLength: count * 4,
    *chunks() {
      for (let start = 0; start < count; start += CHUNK_ELEMS) {
        const out = new Float32Array(Math.min(CHUNK_ELEMS, count - start));
        for (let i = 0; i < out.length; i++) out[i] = value(start + i);
        yield new Uint8Array(out.buffer);
      }
    },
  };
}

/** The field as stored: `[rows, cols]` (embedding table, norm vector). */
export function rowMajor(f: Field): WeightData {
  return floatChunks(f.rows * f.cols, (i) => fieldValue(f, Math.floor(i / f.cols), i % f.cols));
}

/** The field transposed, `[cols, rows]`: a linear's `[in, out]` MatMul weight, or the tied LM head. */
export function transposed(f: Field): WeightData {
  return floatChunks(f.rows * f.cols, (i) => fieldValue(f, i % f.rows, Math.floor(i / f.rows)));
}

export interface Q4Layout {
  /** Output features (the field's rows). */
  n: number;
  /** Input features (the field's columns). */
  k: number;
  blockSize: number;
  blocksPerRow: number;
}

export function q4Layout(f: Field, blockSize: number): Q4Layout {
  return { n: f.rows, k: f.cols, blockSize, blocksPerRow: Math.ceil(f.cols / blockSize) };
}

/**
 * Symmetric 4-bit block quantization as onnxruntime's MatMul4BitsQuantizer does it (is_symmetric, the
 * transformers.js default): the value of largest magnitude maps to code 0 (scale = it / -8), codes are
 * value / scale + 8 clamped to 0..15, the implicit zero point is 8. Two codes a byte, the lower index in
 * the low nibble. A K that is not a multiple of the block size pads the last block with zeros.
 */
export function quantizeRow(
  values: Float32Array,
  blockSize: number,
  packed: Uint8Array,
  scales: Float32Array,
): void {
  const blocks = scales.length;
  for (let b = 0; b < blocks; b++) {
    const start = b * blockSize;
    const end = Math.min(start + blockSize, values.length);
    let vmax = 0;
    for (let i = start; i < end; i++) if (Math.abs(values[i]!) > Math.abs(vmax)) vmax = values[i]!;
    const scale = Math.fround(vmax / -8);
    const inv = scale === 0 ? 0 : 1 / scale;
    scales[b] = scale;
    // Plain loops, no per-element closures: this runs for every weight of the 4-bit variants.
    for (let i = start; i < start + blockSize; i += 2) {
      let lo = 8;
      let hi = 8;
      if (i < end) lo = Math.min(15, Math.max(0, Math.round(values[i]! * inv) + 8));
      if (i + 1 < end) hi = Math.min(15, Math.max(0, Math.round(values[i + 1]! * inv) + 8));
      packed[i >> 1] = lo | (hi << 4);
    }
  }
}

/** MatMulNBits input B, `[N, blocks, blockSize / 2]` uint8, and its scales, `[N * blocks]` float. */
export function q4Weights(f: Field, blockSize: number): { packed: WeightData; scales: WeightData } {
  const { n, k, blocksPerRow } = q4Layout(f, blockSize);
  const rowBytes = (blocksPerRow * blockSize) / 2;
  const rowsPerChunk = Math.max(1, Math.floor(CHUNK_ELEMS / k));
  // Both tensors come from one pass over the rows; the scales are small (1/8 of the codes' bytes per
  // float), so they are kept from the packing pass rather than quantizing everything twice.
  let scalesOut: Float32Array | null = null;
  const row = new Float32Array(k);
  const quantizeInto = (r: number, packed: Uint8Array, scales: Float32Array) => {
    for (let c = 0; c < k; c++) row[c] = fieldValue(f, r, c);
    quantizeRow(row, blockSize, packed, scales);
  };
  return {
    packed: {
      byteLength: n * rowBytes,
      *chunks() {
        scalesOut = new Float32Array(n * blocksPerRow);
        for (let r0 = 0; r0 < n; r0 += rowsPerChunk) {
          const rows = Math.min(rowsPerChunk, n - r0);
          const out = new Uint8Array(rows * rowBytes);
          for (let r = 0; r < rows; r++) {
            const at = (r0 + r) * blocksPerRow;
            quantizeInto(
              r0 + r,
              out.subarray(r * rowBytes, (r + 1) * rowBytes),
              scalesOut.subarray(at, at + blocksPerRow),
            );
          }
          yield out;
        }
      },
    },
    scales: {
      byteLength: n * blocksPerRow * 4,
      *chunks() {
        if (!scalesOut) {
          // Written before the codes (or alone): quantize just for the scales.
          scalesOut = new Float32Array(n * blocksPerRow);
          const scratch = new Uint8Array(rowBytes);
          for (let r = 0; r < n; r++)
            quantizeInto(r, scratch, scalesOut.subarray(r * blocksPerRow, (r + 1) * blocksPerRow));
        }
        yield new Uint8Array(scalesOut.buffer);
      },
    },
  };
}

/** Reference dequantization (tests): code − 8 times the block's scale. */
export function dequantizeRow(
  packed: Uint8Array,
  scales: Float32Array,
  blockSize: number,
  k: number,
): Float32Array {
  const out = new Float32Array(k);
  for (let i = 0; i < k; i++) {
    const byte = packed[i >> 1]!;
    const code = i & 1 ? byte >> 4 : byte & 15;
    out[i] = (code - 8) * scales[Math.floor(i / blockSize)]!;
  }
  return out;
}
