/**
 * Which ffmpeg / ffprobe binaries video analysis runs, and how to run one to completion. The one place that
 * decides: `EMOLENS_FFMPEG` / `EMOLENS_FFPROBE` (a path, or `system` for the one on PATH) when set; else the
 * binaries the npm packages @ffmpeg-installer/ffmpeg and @ffprobe-installer/ffprobe ship (so a fresh `npm ci`
 * is enough); else (package missing, or its binary not executable) `ffmpeg` / `ffprobe` on PATH. Node-only; knows nothing about frames or faces.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { FfmpegNotFoundError } from './errors.js';

export type BinarySource = 'EMOLENS_FFMPEG' | 'EMOLENS_FFPROBE' | 'npm' | 'system';

export interface Binary {
  /** What to spawn: an absolute path, or a bare name looked up on PATH. */
  path: string;
  /** Where it came from (printed by `--verbose`). */
  source: BinarySource;
  /** Why the npm binary was passed over, when it was. */
  note?: string;
}

export interface VideoTools {
  ffmpeg: Binary;
  ffprobe: Binary;
}

const NPM_PACKAGES = { ffmpeg: '@ffmpeg-installer/ffmpeg', ffprobe: '@ffprobe-installer/ffprobe' } as const;
const ENV = { ffmpeg: 'EMOLENS_FFMPEG', ffprobe: 'EMOLENS_FFPROBE' } as const;

function resolveBinary(name: 'ffmpeg' | 'ffprobe', env: NodeJS.ProcessEnv): Binary {
  const override = env[ENV[name]]?.trim();
  if (override) {
    if (override === 'system') return { path: name, source: 'system' };
    if (!existsSync(override)) throw new FfmpegNotFoundError(name, `${ENV[name]}=${override} does not exist`);
    return { path: override, source: ENV[name] };
  }
  try {
    // The installer packages are CommonJS and throw (a string) when their platform package is missing.
    const pkg = createRequire(import.meta.url)(NPM_PACKAGES[name]) as { path?: string };
    if (pkg.path && existsSync(pkg.path)) {
      // The platform packages set the exec bit in a postinstall script; installs that skip scripts leave it off.
      if (isExecutable(pkg.path)) return { path: pkg.path, source: 'npm' };
      return { path: name, source: 'system', note: `${pkg.path} is not executable (its install script did not run)` };
    }
  } catch {
    // fall through to PATH
  }
  return { path: name, source: 'system', note: `${NPM_PACKAGES[name]} is not installed for this platform` };
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The binaries to use, resolved once per call (cheap: no process is started). */
export function videoTools(env: NodeJS.ProcessEnv = process.env): VideoTools {
  return { ffmpeg: resolveBinary('ffmpeg', env), ffprobe: resolveBinary('ffprobe', env) };
}

/** "npm (@ffmpeg-installer/ffmpeg): /…/ffmpeg" — for `--verbose` and the HTML report's settings. */
export function describeBinary(binary: Binary, name: 'ffmpeg' | 'ffprobe'): string {
  const where = binary.source === 'npm' ? `npm (${NPM_PACKAGES[name]})` : binary.source === 'system' ? 'system (PATH)' : binary.source;
  return `${name}: ${where}: ${binary.path}${binary.note ? ` (${binary.note})` : ''}`;
}

export interface RunResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Run a binary to completion, collecting its output (for ffprobe and one-off ffmpeg calls; not for frames). */
export function runBinary(binary: Binary, args: string[], name: 'ffmpeg' | 'ffprobe'): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(binary.path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
    child.on('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT' ? new FfmpegNotFoundError(name, `${binary.path} (${binary.source})`) : err);
    });
    child.on('close', (code) => resolvePromise({ code, stdout: Buffer.concat(out), stderr }));
  });
}

/** The last meaningful line ffmpeg wrote to stderr (its error), for one-line messages. */
export function lastErrorLine(stderr: string): string {
  const lines = stderr.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  return lines[lines.length - 1] ?? '';
}
