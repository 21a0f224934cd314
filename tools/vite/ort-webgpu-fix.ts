/**
 * A build-time patch for a WebGPU bug in onnxruntime-web (1.21–1.30 at least; 1.20.1 is correct).
 *
 * The WebGPU backend records kernels into a command encoder and submits them every 16 dispatches, but
 * uploads a CPU tensor to the GPU at once (`queue.writeBuffer`). When onnxruntime places a small op on
 * the CPU mid-graph (Llama exports compute position ids and the causal mask there) and the copy reuses
 * a buffer whose earlier kernels are still unsubmitted, those kernels run after the upload and
 * overwrite it: every layer's rotary keys come out wrong and greedy tokens diverge after a step or two.
 * Flushing the recorded kernels before each upload restores the order (one extra submit per upload,
 * ~3 per run). Found by bisecting intermediate tensors against WASM; see docs/decisions/007.
 *
 * The patch must apply exactly once: a new onnxruntime-web that changes this code fails the build, so
 * whoever upgrades re-checks the bug (e2e/webgpu.e2e.ts) instead of shipping it silently.
 */
import type { Plugin } from 'vite';

/** `upload(id, data) { const buf = data.buffer` in GpuDataManagerImpl, minified or not. */
const UPLOAD = /upload\((\w+),\s*(\w+)\)\s*\{(\s*(?:let|const)\s+\w+\s*=\s*\2\.buffer)/g;

export function patchOrtUpload(code: string): string {
  const hits = [...code.matchAll(UPLOAD)].length;
  if (hits !== 1)
    throw new Error(
      `onnxruntime-web WebGPU upload fix: expected GpuDataManager.upload once, found it ${hits} times — ` +
        'check whether this onnxruntime-web still needs it (tools/vite/ort-webgpu-fix.ts)',
    );
  return code.replace(UPLOAD, 'upload($1,$2){this.backend.flush();$3');
}

/** Applies the patch to onnxruntime-web's browser bundle wherever vite builds it (app and workers). */
export function ortWebGpuFix(): Plugin {
  return {
    name: 'chorus-ort-webgpu-upload-fix',
    enforce: 'pre',
    transform(code, id) {
      if (!/[\\/]onnxruntime-web[\\/]dist[\\/]ort[.\w]*\.mjs$/.test(id.split('?')[0]!)) return null;
      if (!code.includes('GpuDataManager') && !code.includes('gpu data for uploading')) return null;
      return { code: patchOrtUpload(code), map: null };
    },
  };
}
