/**
 * The HTTP server behind `emolens serve`: a small, bounded, GET-only static server for the built web app
 * (dist/web) and the model files (models/). It never receives images — the page analyses frames in the
 * browser — so it has no upload route, no body parsing and no state.
 *
 * Routes:  GET /               → dist/web/index.html
 *          GET /config.json    → which detector and emotion models (full, live) the page should load
 *          GET /models/<f>     → <modelsDir>/<f>  (.onnx and .json only)
 *          GET /<path>         → dist/web/<path>  (known file types only)
 */
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { DEFAULT_DETECTOR_MODEL, DEFAULT_EMOTION_MODEL, MODEL_NAME_PATTERN, modelUrls } from '../env/models.js';
import { MODELS_DIR, packageRoot } from '../env/node.js';
import { EmolensError, UsageError } from '../errors.js';
import { resolveStaticFile, type ResolvedFile } from './files.js';

export interface WebServerOptions {
  /** Port to listen on; 0 picks a free one (default 8080). */
  port?: number;
  /** Interface to bind (default 127.0.0.1 — loopback only). */
  host?: string;
  /** Built web app (default <package>/dist/web). */
  webRoot?: string;
  /** Folder with <name>.onnx + <name>.json (default <package>/models). */
  modelsDir?: string;
  /** Model names (file stems in modelsDir) the page loads. */
  detectorModel?: string;
  /** The full model: snapshots and images. */
  emotionModel?: string;
  /** The live view's model (camera, screen, video files); default emotionModel, i.e. one model for both. */
  liveModel?: string;
  /** Why liveModel is not the one asked for (see src/cli/serve.ts); the page shows it as a notice. */
  liveFallback?: string;
  /** Called once per request with a one-line summary (default: silent). */
  log?: (line: string) => void;
}

export interface RunningWebServer {
  /** e.g. http://127.0.0.1:8080/ */
  url: string;
  port: number;
  host: string;
  server: Server;
  close(): Promise<void>;
}

// Re-exported for callers that imported them from here; src/env/models.ts defines them.
export { DEFAULT_DETECTOR_MODEL, DEFAULT_EMOTION_MODEL, packageRoot };

/** Limits that keep one misbehaving client from holding the server. */
const LIMITS = {
  maxConnections: 64,
  maxUrlLength: 2048,
  requestTimeoutMs: 60_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
};

// Cross-origin isolation (COOP + COEP) unlocks SharedArrayBuffer, so onnxruntime-web can use wasm threads.
// The CSP pins every fetch to this origin: even a compromised script could not send a frame elsewhere.
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Permissions-Policy': 'camera=(self), display-capture=(self), microphone=(), geolocation=()',
  'Content-Security-Policy': [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "worker-src 'self' blob:",
    "connect-src 'self'",
    "img-src 'self' blob: data:",
    "media-src 'self' blob: mediastream:",
    "style-src 'self' 'unsafe-inline'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
};

export function defaultWebRoot(): string { return join(packageRoot(), 'dist', 'web'); }
export function defaultModelsDir(): string { return MODELS_DIR; }

export async function startWebServer(options: WebServerOptions = {}): Promise<RunningWebServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`invalid port: ${port} (0..65535)`);
  const webRoot = resolve(options.webRoot ?? defaultWebRoot());
  const modelsDir = resolve(options.modelsDir ?? defaultModelsDir());
  const detectorModel = options.detectorModel ?? DEFAULT_DETECTOR_MODEL;
  const emotionModel = options.emotionModel ?? DEFAULT_EMOTION_MODEL;
  const liveModel = options.liveModel ?? emotionModel;
  for (const name of [detectorModel, emotionModel, liveModel]) {
    if (!MODEL_NAME_PATTERN.test(name)) throw new UsageError(`invalid model name: ${JSON.stringify(name)}`);
  }
  if (!existsSync(join(webRoot, 'index.html'))) {
    throw new EmolensError('WEB_NOT_BUILT', `web app not built: ${join(webRoot, 'index.html')} is missing (run npm run build)`);
  }
  const indexHtml = readFileSync(join(webRoot, 'index.html'));
  // The page's ServerConfig (src/web/protocol.ts).
  const config = {
    models: { detector: modelUrls(detectorModel), emotion: modelUrls(emotionModel), live: modelUrls(liveModel) },
    ...(options.liveFallback ? { liveFallback: options.liveFallback } : {}),
  };
  const configJson = Buffer.from(JSON.stringify(config));

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const started = Date.now();
    res.on('finish', () => options.log?.(`${req.method} ${req.url} ${res.statusCode} ${Date.now() - started}ms`));
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    // We never read request bodies; drain whatever a client sends so the socket stays usable.
    req.resume();

    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendText(res, 405, 'method not allowed');
    }
    const rawUrl = req.url ?? '/';
    if (rawUrl.length > LIMITS.maxUrlLength) return sendText(res, 414, 'URL too long');
    const path = rawUrl.split(/[?#]/, 1)[0];
    if (!path.startsWith('/')) return sendText(res, 400, 'bad request');

    if (path === '/' || path === '/index.html') {
      return sendBuffer(req, res, indexHtml, 'text/html; charset=utf-8');
    }
    if (path === '/config.json') return sendBuffer(req, res, configJson, 'application/json; charset=utf-8');
    if (path.startsWith('/models/')) {
      const file = resolveStaticFile(modelsDir, path.slice('/models/'.length));
      if (!file || !/\.(onnx|json)$/i.test(file.path)) return sendText(res, 404, 'not found');
      return sendFile(req, res, file, 'no-cache');
    }
    const file = resolveStaticFile(webRoot, path);
    if (!file) return sendText(res, 404, 'not found');
    // Vite fingerprints everything under assets/, so those can be cached for good.
    const cache = path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
    return sendFile(req, res, file, cache);
  };

  const server = createServer({ requestTimeout: LIMITS.requestTimeoutMs, headersTimeout: LIMITS.headersTimeoutMs }, handler);
  server.maxConnections = LIMITS.maxConnections;
  server.keepAliveTimeout = LIMITS.keepAliveTimeoutMs;

  await new Promise<void>((resolveListen, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      if (err.code === 'EADDRINUSE') reject(new UsageError(`port ${port} is already in use on ${host} (choose another with --port)`));
      else if (err.code === 'EACCES') reject(new UsageError(`no permission to listen on ${host}:${port} (ports below 1024 need privileges)`));
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') reject(new UsageError(`cannot listen on host ${host}: no such local address`));
      else reject(err);
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolveListen();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${urlHost}:${address.port}/`,
    port: address.port,
    host: address.address,
    server,
    close: () => new Promise<void>((done) => {
      server.close(() => done());
      server.closeAllConnections();
    }),
  };
}

function fileSize(path: string): number | undefined {
  try {
    const stats = statSync(path);
    return stats.isFile() ? stats.size : undefined;
  } catch {
    return undefined;
  }
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) + 1, 'Cache-Control': 'no-store' });
  res.end(`${text}\n`);
}

function sendBuffer(req: IncomingMessage, res: ServerResponse, body: Buffer, mime: string): void {
  res.writeHead(200, { 'Content-Type': mime, 'Content-Length': body.length, 'Cache-Control': 'no-cache' });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function sendFile(req: IncomingMessage, res: ServerResponse, file: ResolvedFile, cacheControl: string): void {
  const etag = `"${file.stats.size.toString(36)}-${Math.floor(file.stats.mtimeMs).toString(36)}"`;
  res.setHeader('ETag', etag);
  res.setHeader('Last-Modified', file.stats.mtime.toUTCString());
  res.setHeader('Cache-Control', cacheControl);
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304);
    res.end();
    return;
  }
  // Build-time precompressed twin (see vite.config.ts): the 10+ MB runtime .wasm shrinks to a quarter.
  const gzPath = `${file.path}.gz`;
  const wantsGzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  const gzSize = wantsGzip ? fileSize(gzPath) : undefined;
  const useGzip = gzSize !== undefined;
  const headers: Record<string, string | number> = { 'Content-Type': file.mime, Vary: 'Accept-Encoding' };
  if (useGzip) headers['Content-Encoding'] = 'gzip';
  headers['Content-Length'] = gzSize ?? file.stats.size;
  res.writeHead(200, headers);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = createReadStream(useGzip ? gzPath : file.path);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}
