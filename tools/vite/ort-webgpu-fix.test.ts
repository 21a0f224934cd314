import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { patchOrtUpload } from './ort-webgpu-fix';

const dist = path.resolve(import.meta.dirname, '../../node_modules/onnxruntime-web/dist');

describe('the onnxruntime-web WebGPU upload fix', () => {
  // ort.min.mjs is what the app bundles (the extern-wasm condition in vite.config.ts); ort.mjs is the
  // readable build of the same code.
  for (const file of ['ort.min.mjs', 'ort.mjs']) {
    it(`flushes recorded kernels before every upload in the installed ${file}`, () => {
      const code = readFileSync(path.join(dist, file), 'utf8');
      const patched = patchOrtUpload(code);
      expect(patched).not.toBe(code);
      expect(patched.match(/upload\(\w+,\w+\)\{this\.backend\.flush\(\);/g)).toHaveLength(1);
    });
  }

  it('refuses code where the upload is not found exactly once', () => {
    expect(() => patchOrtUpload('class X { upload(a, b) { return 1; } }')).toThrow(/found it 0 times/);
  });
});
