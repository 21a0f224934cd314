import { defaultClientConditions, defineConfig } from 'vite';
import { ortRuntime } from './tools/vite/ort-runtime';
import { ortWebGpuFix } from './tools/vite/ort-webgpu-fix';

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
  // Every build and dev server carries onnxruntime's wasm runtime under ort/ (tools/vite/ort-runtime.ts).
  // onnxruntime-web's WebGPU backend misorders uploads (tools/vite/ort-webgpu-fix.ts). Worker bundles
  // get their own plugin list: the inference worker is where onnxruntime runs.
  plugins: [ortRuntime(), ortWebGpuFix()],
  // The inference worker imports ES modules (onnxruntime-web, the core); classic workers cannot.
  worker: { format: 'es', plugins: () => [ortWebGpuFix()] },
  // Pre-bundling onnxruntime-web breaks how it finds its wasm runtime; it is ESM already and is served
  // as is. The runtime itself is served from ort/ (tools/vite/ort-runtime.ts).
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  // onnxruntime-web's "extern wasm" build leaves its runtime out of the bundle: we serve it from
  // ort/ anyway, and the default build would also copy the 28 MB .wasm into dist/assets unused.
  resolve: { conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions] },
  build: { target: 'es2022', outDir: 'dist' },
});
