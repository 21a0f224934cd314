import { defaultClientConditions, defineConfig } from 'vite';

/**
 * Cross-origin isolation: without it there is no SharedArrayBuffer and onnxruntime-web silently runs on
 * one thread. CORP marks our own files as loadable under require-corp (workers, wasm, models).
 * Any server that hosts the built app (not only `vite preview`) must send the same headers.
 */
const crossOriginIsolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export default defineConfig({
  server: { headers: crossOriginIsolation },
  preview: { headers: crossOriginIsolation },
  // The inference worker imports ES modules (onnxruntime-web, the core); classic workers cannot.
  worker: { format: 'es' },
  // Pre-bundling onnxruntime-web breaks how it finds its wasm runtime; it is ESM already and is served
  // as is. The runtime itself comes from public/ort/ (scripts/copy-ort-assets.mjs).
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  // onnxruntime-web's "extern wasm" build leaves its runtime out of the bundle: we serve it from
  // public/ort/ anyway, and the default build would also copy the 28 MB .wasm into dist/assets unused.
  resolve: { conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions] },
  build: { target: 'es2022', outDir: 'dist' },
});
