import { describe, expect, it } from 'vitest';
import type { RemoteWeightsRef } from '../../core/graph/manifest';
import { fetchRange, packRanges } from '../delivery/remote-ranges';
import { checkModelId, dtypesIn, externalDataPaths, hubModelUrls } from './hub-urls';

describe('hubModelUrls', () => {
  it('follows the hub layout for each dtype', () => {
    const u = hubModelUrls('https://huggingface.co/', 'onnx-community/SmolLM2-135M-Instruct-ONNX', 'q4');
    const base = 'https://huggingface.co/onnx-community/SmolLM2-135M-Instruct-ONNX/resolve/main/';
    expect(u).toEqual({
      api: 'https://huggingface.co/api/models/onnx-community/SmolLM2-135M-Instruct-ONNX',
      resolveBase: base,
      config: `${base}config.json`,
      generationConfig: `${base}generation_config.json`,
      tokenizer: `${base}tokenizer.json`,
      tokenizerConfig: `${base}tokenizer_config.json`,
      graphPath: 'onnx/model_q4.onnx',
      graph: `${base}onnx/model_q4.onnx`,
      externalData: `${base}onnx/model_q4.onnx_data`,
    });
    expect(hubModelUrls('http://h', 'o/m', 'fp32').graphPath).toBe('onnx/model.onnx');
    expect(hubModelUrls('http://h', 'o/m', 'fp16').graphPath).toBe('onnx/model_fp16.onnx');
    expect(hubModelUrls('http://h', 'o/m', 'q8').graphPath).toBe('onnx/model_quantized.onnx');
    expect(hubModelUrls('http://h', 'o/m', 'q4', 'a'.repeat(40)).graph).toBe(
      `http://h/o/m/resolve/${'a'.repeat(40)}/onnx/model_q4.onnx`,
    );
  });

  it('rejects ids that are not org/name', () => {
    for (const bad of ['', 'a/b/c', '../x', 'a/..', 'a b/c', 'org/na?me']) {
      expect(() => checkModelId(bad)).toThrow(/not a Hugging Face model id/);
    }
    expect(checkModelId(' gpt2 ')).toBe('gpt2');
  });

  it('reads dtypes and split external-data files from a file list', () => {
    const files = [
      'onnx/model.onnx',
      'onnx/model_quantized.onnx',
      'onnx/model_q4.onnx',
      'onnx/model_q4.onnx_data',
      'onnx/model_q4.onnx_data_1',
      'onnx/model_q4.onnx_data_12',
      'onnx/model_q4f16.onnx_data',
    ];
    expect(dtypesIn(files)).toEqual(['fp32', 'q8', 'q4']);
    expect(externalDataPaths('onnx/model_q4.onnx', files)).toEqual([
      'onnx/model_q4.onnx_data',
      'onnx/model_q4.onnx_data_1',
      'onnx/model_q4.onnx_data_12',
    ]);
  });
});

describe('remote ranges', () => {
  const ref: RemoteWeightsRef = {
    file: 'block-001.weights',
    sha256: null,
    bytes: 20,
    ranges: [
      { url: 'http://h/a', offset: 100, length: 4, at: 0 },
      { url: 'http://h/a', offset: 7, length: 3, at: 16 },
    ],
    sourceBytes: { 'http://h/a': 200 },
  };

  it('packs ranges at their places, zeros between', () => {
    const out = packRanges(ref, [new Uint8Array([1, 2, 3, 4]), new Uint8Array([5, 6, 7])]);
    expect([...out]).toEqual([1, 2, 3, 4, ...Array(12).fill(0), 5, 6, 7, 0]);
    expect(() => packRanges(ref, [new Uint8Array(4)])).toThrow(/has 2 ranges/);
  });

  const answer =
    (status: number, body: number[], headers: Record<string, string> = {}) =>
    async () =>
      new Response(new Uint8Array(body), { status, headers });

  it('checks the status, Content-Range and length of each answer', async () => {
    await expect(
      fetchRange('http://h/a', 10, 3, {
        fetchFn: answer(206, [1, 2, 3], { 'Content-Range': 'bytes 10-12/200' }),
      }),
    ).resolves.toEqual(new Uint8Array([1, 2, 3]));
    await expect(fetchRange('http://h/a', 10, 3, { fetchFn: answer(200, [1, 2, 3]) })).rejects.toThrow(
      /ignored the Range request/,
    );
    await expect(
      fetchRange('http://h/a', 10, 3, {
        fetchFn: answer(206, [1, 2, 3], { 'Content-Range': 'bytes 0-2/200' }),
      }),
    ).rejects.toThrow(/sent bytes 0-2\/200 instead/);
    await expect(fetchRange('http://h/a', 10, 3, { fetchFn: answer(206, [1, 2]) })).rejects.toThrow(
      /truncated, got 2 of 3/,
    );
    await expect(fetchRange('http://h/a', 10, 3, { fetchFn: answer(206, [1, 2, 3, 4]) })).rejects.toThrow(
      /more than 3 bytes/,
    );
    await expect(fetchRange('http://h/a', 10, 3, { fetchFn: answer(416, []) })).rejects.toThrow(
      /beyond the end/,
    );
    await expect(fetchRange('http://h/a', 10, 3, { fetchFn: answer(404, []) })).rejects.toThrow(
      /answered 404/,
    );
  });
});
