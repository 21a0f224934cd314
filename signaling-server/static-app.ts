// Serves the built progressive web app (the `vite build` output directory).
import { stat } from 'node:fs/promises';
import path from 'node:path';
import express, { type RequestHandler, type Response } from 'express';
import { contentTypeFor } from './headers';

/** Fails early, with the fix in the message, when the app has not been built. */
export async function validateAppDir(appDir: string): Promise<string> {
  const abs = path.resolve(appDir);
  const dir = await stat(abs).catch(() => undefined);
  if (!dir?.isDirectory()) {
    throw new Error(`app directory not found: ${abs} (run \`npm run build\` first, or pass --app <dir>)`);
  }
  const index = await stat(path.join(abs, 'index.html')).catch(() => undefined);
  if (!index?.isFile()) {
    throw new Error(`no index.html in ${abs} (run \`npm run build\` first, or pass --app <dir>)`);
  }
  return abs;
}

/**
 * Vite puts content-hashed files under assets/: their URL changes whenever their bytes do, so
 * browsers may keep them forever. Everything else (index.html, the service worker, the manifest)
 * keeps a stable URL and must be revalidated, or phones would keep running an old build.
 */
function cacheHeadersFor(appDir: string): (res: Response, filePath: string) => void {
  const assetsDir = path.join(appDir, 'assets') + path.sep;
  return (res, filePath) => {
    const immutable = filePath.startsWith(assetsDir);
    res.setHeader('Cache-Control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    const type = contentTypeFor(filePath);
    if (type) res.setHeader('Content-Type', type);
  };
}

/** Static handler for the app; expects `appDir` to be an absolute, validated directory. */
export function appStatic(appDir: string): RequestHandler {
  return express.static(appDir, {
    index: ['index.html'],
    dotfiles: 'ignore',
    fallthrough: true, // unknown paths reach the plain-text 404
    etag: true,
    lastModified: true,
    setHeaders: cacheHeadersFor(appDir),
  });
}
