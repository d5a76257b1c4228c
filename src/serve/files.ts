/**
 * Static files for `emolens serve`: URL path → file inside one root folder, and the MIME type to send.
 * Owns path safety (no traversal, no dotfiles, no symlinks out of the root); knows nothing about HTTP.
 */
import { realpathSync, statSync, type Stats } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';

/** Only these extensions are ever served; anything else is a 404, whatever lies in the folder. */
export const MIME_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  // The model card is Markdown; text/plain makes browsers show it instead of downloading it.
  '.md': 'text/plain; charset=utf-8',
};

export function mimeType(path: string): string | undefined {
  return MIME_TYPES[extname(path).toLowerCase()];
}

export interface ResolvedFile {
  path: string;
  stats: Stats;
  mime: string;
}

/**
 * Map a URL path (already stripped of its mount prefix, still percent-encoded) to a regular file under `root`.
 * Returns undefined for anything that is not a plain, known-type file inside `root`: `..` segments, encoded
 * slashes or NUL, dotfiles, directories, symlinks pointing outside, unknown extensions.
 */
export function resolveStaticFile(root: string, urlPath: string): ResolvedFile | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const segments = decoded.split('/').filter((s) => s !== '');
  if (segments.length === 0) return undefined;
  if (segments.some((s) => s === '..' || s === '.' || s.startsWith('.'))) return undefined;
  const mime = mimeType(segments[segments.length - 1]);
  if (!mime) return undefined;

  const rootReal = safeRealpath(resolve(root));
  if (!rootReal) return undefined;
  const candidate = safeRealpath(join(rootReal, ...segments));
  // realpath resolves symlinks, so this also refuses links that lead out of the root.
  if (!candidate || !candidate.startsWith(rootReal + sep)) return undefined;
  let stats: Stats;
  try {
    stats = statSync(candidate);
  } catch {
    return undefined;
  }
  if (!stats.isFile()) return undefined;
  return { path: candidate, stats, mime };
}

function safeRealpath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}
