// Response headers shared by every route: cross-origin isolation, content types, plain-text errors.
import path from 'node:path';
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';

/**
 * onnxruntime-web only runs multi-threaded when the page is crossOriginIsolated, which needs
 * COOP + COEP on the document and CORP (or CORS) on everything it loads. Setting them on every
 * response, errors and 304s included, means no sub-resource can silently break isolation.
 */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export const crossOriginIsolation: RequestHandler = (_req, res, next) => {
  applyIsolationHeaders(res);
  next();
};

export function applyIsolationHeaders(res: Response): void {
  for (const [name, value] of Object.entries(ISOLATION_HEADERS)) res.setHeader(name, value);
}

// Types the browser is strict about: module scripts must be JavaScript, and
// WebAssembly.instantiateStreaming refuses anything but application/wasm. Model weights are
// opaque bytes. Everything else is left to `send`'s own table.
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json; charset=utf-8',
  '.onnx': 'application/octet-stream',
  '.onnx_data': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.data': 'application/octet-stream',
};

export function contentTypeFor(filePath: string): string | undefined {
  return CONTENT_TYPES[path.extname(filePath).toLowerCase()];
}

/** Ends the response with a short human-readable text body (no HTML error pages). */
export function sendPlainText(res: Response, status: number, text: string): void {
  const body = `${text}\n`;
  res.status(status);
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-store');
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** Last-resort 404 for anything no route claimed. */
export const notFound: RequestHandler = (req, res) => {
  sendPlainText(res, 404, `not found: ${req.path}`);
};

function httpStatusOf(err: unknown): number {
  if (typeof err === 'object' && err !== null) {
    const { status, statusCode } = err as { status?: unknown; statusCode?: unknown };
    const s = typeof status === 'number' ? status : statusCode;
    if (typeof s === 'number' && s >= 400 && s < 600) return s;
  }
  return 500;
}

/**
 * Express's default error page is HTML and drops our headers; this keeps the isolation headers,
 * forwards headers the error carries (`send` attaches Content-Range to a 416) and answers in text.
 */
export function errorHandler(log: (line: string) => void): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const status = httpStatusOf(err);
    // `send` may already have set validators for the file it was about to stream; they do not
    // describe this error response.
    for (const name of ['ETag', 'Last-Modified', 'Content-Range', 'Content-Encoding']) res.removeHeader(name);
    applyIsolationHeaders(res);
    const extra = (err as { headers?: unknown } | null)?.headers;
    if (typeof extra === 'object' && extra !== null) {
      for (const [name, value] of Object.entries(extra))
        if (typeof value === 'string') res.setHeader(name, value);
    }
    if (status >= 500) log(`error serving ${req.method} ${req.originalUrl}: ${String(err)}`);
    const message =
      status === 416 ? 'range not satisfiable' : status >= 500 ? 'internal error' : 'bad request';
    sendPlainText(res, status, `${message}: ${req.path}`);
  };
}
