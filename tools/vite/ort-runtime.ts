/**
 * Ships onnxruntime-web's wasm runtime with every build of the app, under `<base>ort/`, where the inference
 * worker loads it from (`env.wasm.wasmPaths`).
 *
 * Why a plugin and not a copy script: the copy used to be an npm `prebuild` hook, so any build that did
 * not go through `npm run build` (the room simulator ran `npx vite build`) served an app with no runtime
 * ("no available backend found"). A plugin runs on every `vite build` and `vite` dev server alike.
 *
 * Why served as plain files at all: onnxruntime's thread workers start from this self-contained .mjs; in
 * a production bundle they would start from the app's own chunk and fail ("document is not defined").
 * The app imports plain `onnxruntime-web` (the JSEP build: one runtime for both the 'wasm' and 'webgpu'
 * execution providers), so these two files are all it ever requests.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Plugin } from 'vite';

export const ORT_RUNTIME_FILES = [
  'ort-wasm-simd-threaded.jsep.mjs',
  'ort-wasm-simd-threaded.jsep.wasm',
] as const;

/** Where each runtime file lives in the installed onnxruntime-web (resolved through its exports). */
export function ortRuntimeSources(root: string): Map<string, string> {
  const require = createRequire(path.join(root, 'package.json'));
  return new Map(ORT_RUNTIME_FILES.map((name) => [name, require.resolve(`onnxruntime-web/${name}`)]));
}

const CONTENT_TYPES: Record<string, string> = { '.mjs': 'text/javascript', '.wasm': 'application/wasm' };

export function ortRuntime(): Plugin {
  let sources = new Map<string, string>();
  let base = '/';
  return {
    name: 'chorus-ort-runtime',
    configResolved(config) {
      sources = ortRuntimeSources(config.root);
      base = config.base;
    },
    // Only the app's plugin list has this plugin (worker bundles have their own), so it emits once.
    generateBundle() {
      for (const [name, file] of sources) {
        this.emitFile({ type: 'asset', fileName: `ort/${name}`, source: readFileSync(file) });
      }
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const url = (req.url ?? '').split('?')[0]!;
        const name = url.startsWith(`${base}ort/`) ? url.slice(base.length + 4) : '';
        const file = sources.get(name);
        if (!file) return next();
        res.setHeader('Content-Type', CONTENT_TYPES[path.extname(name)] ?? 'application/octet-stream');
        createReadStream(file).pipe(res);
      });
    },
  };
}
