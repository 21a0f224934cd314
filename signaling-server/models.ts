// Serves model folders at /models/<name>/**, plus /models/index.json listing them.
// Range, ETag/304 and HEAD come from express.static (the `send` package): phones fetch weight
// shards in byte ranges and revalidate cheaply between runs.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import express, { type RequestHandler, type Response, type Router } from 'express';
import { contentTypeFor, sendPlainText } from './headers';

/** One model folder to publish. Plain data so a later step (e.g. sharding) can produce the list. */
export interface ModelMount {
  name: string;
  dir: string;
}

export interface ModelListing {
  name: string;
  url: string;
}

// Names become one URL path segment; keep them boring so they never need escaping.
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Checks names and folders up front so a typo fails at startup, not on a phone mid-load. */
export async function validateModelMounts(mounts: readonly ModelMount[]): Promise<ModelMount[]> {
  const seen = new Set<string>();
  const resolved: ModelMount[] = [];
  for (const { name, dir } of mounts) {
    if (!NAME_PATTERN.test(name) || name === 'index.json') {
      throw new Error(`invalid model name "${name}": use letters, digits, '.', '_' or '-'`);
    }
    if (seen.has(name)) throw new Error(`model name "${name}" is mounted twice`);
    seen.add(name);
    const abs = path.resolve(dir);
    const info = await stat(abs).catch(() => undefined);
    if (!info?.isDirectory()) throw new Error(`model folder for "${name}" not found: ${abs}`);
    resolved.push({ name, dir: abs });
  }
  return resolved;
}

export function modelListing(mounts: readonly ModelMount[]): ModelListing[] {
  return mounts.map(({ name }) => ({ name, url: `/models/${name}/` }));
}

/**
 * Refuses any path with a ".." segment, raw or percent-encoded, or an encoded separator or NUL.
 * `send` would also refuse these (403); answering 400 here makes the intent explicit and keeps one
 * mount from reaching into another.
 */
const rejectTraversal: RequestHandler = (req, res, next) => {
  for (const raw of req.path.split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      sendPlainText(res, 400, `invalid model path: ${req.originalUrl}`);
      return;
    }
    if (segment === '..' || /[/\\\0]/.test(segment)) {
      sendPlainText(res, 400, `invalid model path: ${req.originalUrl}`);
      return;
    }
  }
  next();
};

// Model content may be replaced between runs (re-export, re-shard), so clients must revalidate;
// the size+mtime ETag that `send` computes makes that a cheap 304.
function setModelHeaders(res: Response, filePath: string): void {
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('Content-Type', contentTypeFor(filePath) ?? 'application/octet-stream');
}

export function modelsRouter(mounts: readonly ModelMount[]): Router {
  // Case-sensitive so /models/Qwen and /models/qwen are not silently the same mount.
  const router = express.Router({ caseSensitive: true, strict: true });
  const listing = modelListing(mounts);

  router.get('/index.json', (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.json(listing);
  });

  router.use(rejectTraversal);
  for (const { name, dir } of mounts) {
    router.use(
      `/${name}`,
      express.static(dir, {
        index: false, // no directory listings or implicit files
        redirect: false,
        dotfiles: 'ignore',
        fallthrough: true, // missing files reach the clear 404 below
        etag: true,
        lastModified: true,
        acceptRanges: true,
        setHeaders: setModelHeaders,
      }),
    );
  }

  router.use((req, res) => {
    sendPlainText(res, 404, `model file not found: ${req.originalUrl.split('?')[0] ?? req.originalUrl}`);
  });
  return router;
}
