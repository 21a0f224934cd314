#!/usr/bin/env node
/**
 * Copies onnxruntime-web's wasm runtime into public/ort/, where the app loads it from
 * (env.wasm.wasmPaths = '<base>ort/'). Serving it as plain files is what lets threads work in a vite
 * production build: onnxruntime's thread workers then start from this self-contained .mjs instead of
 * the app's own chunk (which fails with "document is not defined").
 *
 * The app imports plain `onnxruntime-web` (dist/ort.bundle.min.mjs), the JSEP build: one runtime for
 * both the 'wasm' and 'webgpu' execution providers, so these two files are all it ever requests.
 * Idempotent: files already identical are left alone. Run before `vite` and `vite build`.
 */
import { copyFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const FILES = ['ort-wasm-simd-threaded.jsep.mjs', 'ort-wasm-simd-threaded.jsep.wasm'];

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Resolve through the package's exports so a hoisted or nested install is found alike.
const require = createRequire(path.join(root, 'package.json'));
const outDir = path.join(root, 'public', 'ort');
mkdirSync(outDir, { recursive: true });

function same(a, b) {
  try {
    if (statSync(a).size !== statSync(b).size) return false;
    return readFileSync(a).equals(readFileSync(b));
  } catch {
    return false;
  }
}

let copied = 0;
let pkgDir = '';
for (const name of FILES) {
  const from = require.resolve(`onnxruntime-web/${name}`);
  pkgDir = path.dirname(path.dirname(from));
  const to = path.join(outDir, name);
  if (same(from, to)) continue;
  copyFileSync(from, to);
  copied++;
}
// The runtime must match the onnxruntime-web JS exactly; comparing contents (above) keeps them in step.
const version = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')).version;
process.stdout.write(
  `onnxruntime-web ${version}: ${copied} of ${FILES.length} runtime files copied to public/ort/\n`,
);
