/**
 * Helpers shared by the CLI commands: option parsing, input expansion (files, folders, globs), the terminal
 * table of faces, colours and the progress bar. Output formatting only — no inference here.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { DEFAULT_LIVE_MODEL } from '../env/models.js';
import { UsageError } from '../errors.js';
import { clamp } from '../geometry.js';
import { IMAGE_EXTENSION_LIST, isImageFileName } from '../image/formats.js';
import { EMOTIONS, type Emotion } from '../labels.js';
import { EMOTION_COLORS } from '../report/palette.js';
import type { AnalysisResult, FaceResult } from '../types.js';

// ---- option parsing -----------------------------------------------------------------------------------------

export function parseNumber(name: string, value: string, { min = -Infinity, max = Infinity, integer = false } = {}): number {
  const n = Number(value.replace(/_/g, ''));
  if (value.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    const range = max === Infinity ? `>= ${min}` : `between ${min} and ${max}`;
    throw new UsageError(`invalid ${name}: ${JSON.stringify(value)} (expected ${integer ? 'an integer' : 'a number'} ${range})`);
  }
  return n;
}

/** `--tiles auto|off|<px>` for the detector. */
export function parseTiles(value: string): 'auto' | 'off' | number {
  if (value === 'auto' || value === 'off') return value;
  return parseNumber('--tiles', value, { min: 64, integer: true });
}

// ---- input expansion ----------------------------------------------------------------------------------------

/** One thing to analyse: an existing file, or an argument that could not be expanded (reported as an error). */
export type InputItem = { file: string } | { file: string; error: string };

const isGlob = (s: string) => /[*?[\]{}]/.test(s);

/** Every file under `dir`, sorted, skipping dot-folders and node_modules. */
function walk(dir: string, out: string[] = []): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!entry.name.startsWith('.') && entry.name !== 'node_modules') walk(path, out);
    } else if (entry.isFile() || entry.isSymbolicLink()) out.push(path);
  }
  return out;
}

/** Glob → RegExp over '/'-separated relative paths: `**`, `*`, `?`, `[abc]`, `{a,b}`. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  let braces = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const slash = glob[i + 2] === '/';
        re += slash ? '(?:[^/]*/)*' : '.*';
        i += slash ? 2 : 1;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        const body = glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
        re += `[${body}]`;
        i = end;
      }
    } else if (c === '{') { braces++; re += '(?:'; }
    else if (c === '}' && braces > 0) { braces--; re += ')'; }
    else if (c === ',' && braces > 0) re += '|';
    else re += c.replace(/[.+^$()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Expand CLI arguments: files as given, folders recursively (images only), globs (images only, matched
 * against paths relative to the glob's fixed prefix). Missing files and empty folders/globs come back as
 * error items so the caller reports them and still processes the rest. Duplicates are dropped.
 */
export function expandInputs(args: string[]): InputItem[] {
  const items: InputItem[] = [];
  const seen = new Set<string>();
  const add = (file: string) => {
    const key = resolve(file);
    if (!seen.has(key)) { seen.add(key); items.push({ file }); }
  };
  for (const arg of args) {
    if (existsSync(arg)) {
      if (statSync(arg).isDirectory()) {
        const images = walk(arg).filter(isImageFileName);
        if (images.length === 0) items.push({ file: arg, error: `no images in this folder (looked for ${IMAGE_EXTENSION_LIST})` });
        images.forEach(add);
      } else add(arg);
    } else if (isGlob(arg)) {
      const normalized = arg.split(sep).join('/');
      const segments = normalized.split('/');
      const firstGlob = segments.findIndex(isGlob);
      const base = segments.slice(0, firstGlob).join('/') || (normalized.startsWith('/') ? '/' : '.');
      const pattern = globToRegExp(segments.slice(firstGlob).join('/'));
      const matches = existsSync(base) ? walk(base).filter((f) => pattern.test(relative(base, f).split(sep).join('/')) && isImageFileName(f)) : [];
      if (matches.length === 0) items.push({ file: arg, error: 'no image files match this pattern' });
      matches.forEach(add);
    } else {
      items.push({ file: arg }); // decodeImage reports "file not found" in the same stream as every other error
    }
  }
  return items;
}

// ---- terminal output ----------------------------------------------------------------------------------------

export interface Style { color: boolean }

/** Colours only on a TTY, and never when NO_COLOR is set (https://no-color.org). */
export function styleFor(stream: NodeJS.WriteStream): Style {
  return { color: Boolean(stream.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb' };
}

const ansi = (open: string, text: string, style: Style) => (style.color ? `\x1b[${open}m${text}\x1b[0m` : text);
/**
 * `emolens serve --live-model`: the emotion model of the web app's live view (camera, screen, video files). A name in
 * the models folder, as serve's --model (the page fetches models by URL); LIVE_MODEL_SAME reuses --model's.
 */
export const LIVE_MODEL_SAME = 'same';
export const LIVE_MODEL_OPTION = [
  '--live-model <name>',
  `emotion model of the live view and video files, in the models folder ("${LIVE_MODEL_SAME}": the --model one, loaded once)`,
  DEFAULT_LIVE_MODEL,
] as const;

export const bold = (text: string, style: Style) => ansi('1', text, style);
export const dim = (text: string, style: Style) => ansi('2', text, style);
export const red = (text: string, style: Style) => ansi('31', text, style);
export function emotionColor(emotion: Emotion, text: string, style: Style): string {
  const n = parseInt(EMOTION_COLORS[emotion].slice(1), 16);
  return ansi(`38;2;${n >> 16};${(n >> 8) & 255};${n & 255}`, text, style);
}

const pct = (p: number) => `${Math.round(p * 100)}%`;

/** A bar of `width` cells for p in 0..1, with eighth-block resolution. */
export function bar(p: number, width: number): string {
  const eighths = Math.round(clamp(p, 0, 1) * width * 8);
  const full = Math.floor(eighths / 8);
  const part = eighths % 8;
  return ('█'.repeat(full) + (part ? ' ▏▎▍▌▋▊▉'[part] : '')).padEnd(width, ' ');
}

/**
 * The faces of one image as a table: index, dominant emotion with a bar, then all 7 probabilities.
 *
 *   #  dominant            angry disgust  fear happy neutral   sad surprise   box (x,y wxh)   score
 *   1  happy   ████████▍ 84%    1%      0%    2%   84%     9%    2%       2%   812,233 141x141  0.94
 */
export function faceTable(result: AnalysisResult, style: Style, indent = '  '): string[] {
  if (result.faces.length === 0) return [`${indent}${dim('no faces found', style)}`];
  const widths = EMOTIONS.map((e) => Math.max(e.length, 4));
  const header = `${indent}${'#'.padStart(2)}  ${'dominant'.padEnd(19)} ${EMOTIONS.map((e, i) => e.padStart(widths[i])).join(' ')}   ${'box x,y wxh'.padEnd(18)} score`;
  const rows = result.faces.map((face: FaceResult, i) => {
    const d = face.dominant;
    const dominant = `${emotionColor(d, d.padEnd(8), style)} ${emotionColor(d, bar(face.emotions[d], 6), style)} ${pct(face.emotions[d]).padStart(4)}`;
    const probs = EMOTIONS.map((e, k) => {
      const cell = pct(face.emotions[e]).padStart(widths[k]);
      return e === d ? bold(cell, style) : face.emotions[e] < 0.05 ? dim(cell, style) : cell;
    }).join(' ');
    const b = face.box;
    const box = `${Math.round(b.x)},${Math.round(b.y)} ${Math.round(b.width)}x${Math.round(b.height)}`.padEnd(18);
    return `${indent}${String(i + 1).padStart(2)}  ${dominant} ${probs}   ${box} ${face.score.toFixed(2)}`;
  });
  return [dim(header, style), ...rows];
}

/** "12 faces: 5 happy, 4 neutral, 2 surprise, 1 sad" */
export function moodSummary(results: AnalysisResult[]): string {
  const counts = new Map<Emotion, number>();
  let faces = 0;
  for (const r of results) for (const f of r.faces) { faces++; counts.set(f.dominant, (counts.get(f.dominant) ?? 0) + 1); }
  const parts = [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([e, n]) => `${n} ${e}`);
  return `${faces} face${faces === 1 ? '' : 's'}${parts.length ? `: ${parts.join(', ')}` : ''}`;
}

export { errorLine } from '../result/error.js';

