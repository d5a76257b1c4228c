/**
 * The detector dev set: synthetic canvases of FER2013 **val** faces, built in memory, deterministic for a seed, never
 * written to disk. Each face is a 48x48 val crop upscaled to 60-300 px, rotated by up to ±15°, tight (the crop as it
 * is, forehead to chin) or loose (the crop inside a synthetic border, see below), gray or tinted, on a plain or
 * cluttered background. The pasted square is the true face box. Used by scripts/bench-detector.ts and
 * test/detect-devset.test.ts; the match rule that scores detections against it lives here too.
 *
 * "Loose" is not a real wider photo (FER2013 has none): the crop is extended by 30 % of its side on every edge with
 * its own edge pixels smeared outwards (sharp extend 'copy'), blurred, and faded into the background, with the sharp
 * crop on top. It gives the detector a head-shaped surround without inventing hair or ears.
 *
 * Clutter is random rectangles, discs, lines and value noise in random colours: texture, never another face.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Emotion } from '../src/labels.js';
import type { Box, GrayImage, RgbaImage } from '../src/types.js';

export const DEFAULT_FER_VAL = '../shared/datasets/fer2013/val';

/** One pasted val face: its true box (the pasted square before rotation, centred where it was pasted). */
export interface TrueFace {
  box: Box;
  /** Side of the pasted square, px. */
  side: number;
  angleDeg: number;
  framing: 'tight' | 'loose';
  label: Emotion;
  file: string;
  /** The bare 48x48 crop (gray), for the read-out comparison. */
  crop: GrayImage;
}

export interface DevImage {
  name: string;
  image: RgbaImage;
  faces: TrueFace[];
  background: 'plain' | 'cluttered';
  colour: 'gray' | 'tinted';
}

export interface DevSetOptions {
  /** Folder of <label>/*.jpg val faces. */
  data?: string;
  count?: number;
  seed?: number;
  /** Face side range, px. */
  minSide?: number;
  maxSide?: number;
  /** Largest roll, degrees (uniform in ±maxAngle). */
  maxAngle?: number;
  /** Faces per canvas, at most. */
  maxFaces?: number;
}

/** Canvas sizes, drawn in turn: the issue's 960x960, a 720p video frame, a 1080p frame. */
const CANVASES = [[960, 960], [1280, 720], [960, 960], [1920, 1080]] as const;
const LOOSE_BORDER = 0.3;

/** mulberry32: small, fast, seedable. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every val file (label, path), sorted, then shuffled by `random`. Throws a one-line Error when the folder is absent. */
export function valFiles(data: string, random: () => number): { label: Emotion; path: string }[] {
  let labels: string[];
  try {
    labels = readdirSync(data).filter((d) => !d.startsWith('.')).sort();
  } catch {
    throw new Error(`FER2013 val faces not found at ${data} (expected <label>/*.jpg folders)`);
  }
  const files = labels.flatMap((label) => readdirSync(join(data, label)).filter((f) => f.endsWith('.jpg')).sort()
    .map((f) => ({ label: label as Emotion, path: join(data, label, f) })));
  for (let i = files.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [files[i], files[j]] = [files[j], files[i]];
  }
  return files;
}

function background(width: number, height: number, cluttered: boolean, tinted: boolean, random: () => number): Uint8ClampedArray {
  const data = new Uint8ClampedArray(width * height * 4);
  const colour = (): [number, number, number] => {
    if (!tinted) { const v = 30 + random() * 200; return [v, v, v]; }
    return [30 + random() * 200, 30 + random() * 200, 30 + random() * 200];
  };
  const base = colour();
  for (let i = 0; i < width * height; i++) {
    data[4 * i] = base[0]; data[4 * i + 1] = base[1]; data[4 * i + 2] = base[2]; data[4 * i + 3] = 255;
  }
  if (!cluttered) return data;
  const put = (x: number, y: number, c: [number, number, number]) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const p = 4 * (y * width + x);
    data[p] = c[0]; data[p + 1] = c[1]; data[p + 2] = c[2];
  };
  // value noise: a coarse random grid, bilinearly upsampled, added to the base
  const cell = 16 + Math.floor(random() * 48);
  const gw = Math.ceil(width / cell) + 2;
  const gh = Math.ceil(height / cell) + 2;
  const grid = Float32Array.from({ length: gw * gh }, () => (random() - 0.5) * 120);
  for (let y = 0; y < height; y++) {
    const gy = y / cell; const y0 = Math.floor(gy); const fy = gy - y0;
    for (let x = 0; x < width; x++) {
      const gx = x / cell; const x0 = Math.floor(gx); const fx = gx - x0;
      const v = (grid[y0 * gw + x0] * (1 - fx) + grid[y0 * gw + x0 + 1] * fx) * (1 - fy)
        + (grid[(y0 + 1) * gw + x0] * (1 - fx) + grid[(y0 + 1) * gw + x0 + 1] * fx) * fy;
      const p = 4 * (y * width + x);
      data[p] += v; data[p + 1] += v; data[p + 2] += v;
    }
  }
  const shapes = 15 + Math.floor(random() * 30);
  for (let s = 0; s < shapes; s++) {
    const c = colour();
    const kind = random();
    const x0 = random() * width; const y0 = random() * height;
    const size = 10 + random() * 200;
    if (kind < 0.4) {
      const w = size; const h = 10 + random() * 200;
      for (let y = Math.floor(y0); y < y0 + h; y++) for (let x = Math.floor(x0); x < x0 + w; x++) put(x, y, c);
    } else if (kind < 0.7) {
      const r = size / 2;
      for (let y = Math.floor(y0 - r); y < y0 + r; y++) for (let x = Math.floor(x0 - r); x < x0 + r; x++) {
        if ((x - x0) ** 2 + (y - y0) ** 2 <= r * r) put(x, y, c);
      }
    } else {
      const angle = random() * Math.PI;
      const thick = 2 + random() * 8;
      const len = 50 + random() * 400;
      for (let t = 0; t < len; t++) for (let k = -thick / 2; k < thick / 2; k++) {
        put(Math.round(x0 + t * Math.cos(angle) - k * Math.sin(angle)), Math.round(y0 + t * Math.sin(angle) + k * Math.cos(angle)), c);
      }
    }
  }
  return data;
}

/** The face as straight RGBA (gray in all three channels), framed tight or loose, rotated; alpha 0 outside. */
async function facePatch(jpeg: Buffer, side: number, angleDeg: number, loose: boolean): Promise<{ data: Buffer; width: number; height: number }> {
  const gray = await sharp(jpeg).greyscale().resize(side, side, { kernel: 'cubic' }).raw().toBuffer();
  const crop = Buffer.alloc(side * side * 4, 255);
  for (let i = 0; i < side * side; i++) crop[4 * i] = crop[4 * i + 1] = crop[4 * i + 2] = gray[i];
  let rgba = crop;
  let size = side;
  if (loose) {
    const border = Math.round(LOOSE_BORDER * side);
    size = side + 2 * border;
    const smeared = await sharp(crop, { raw: { width: side, height: side, channels: 4 } })
      .extend({ top: border, bottom: border, left: border, right: border, extendWith: 'copy' })
      .blur(Math.max(1, side / 25)).raw().toBuffer();
    for (let y = 0; y < side; y++) crop.copy(smeared, ((y + border) * size + border) * 4, y * side * 4, (y + 1) * side * 4);
    // fade the border out towards the edge
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
      const d = Math.min(x, y, size - 1 - x, size - 1 - y);
      if (d < border) smeared[(y * size + x) * 4 + 3] = Math.round((255 * d) / border);
    }
    rgba = smeared;
  }
  const { data, info } = await sharp(rgba, { raw: { width: size, height: size, channels: 4 } })
    .rotate(angleDeg, { background: { r: 0, g: 0, b: 0, alpha: 0 } }).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Decoded 48x48 gray crop. */
async function grayCrop(jpeg: Buffer): Promise<GrayImage> {
  const { data, info } = await sharp(jpeg).greyscale().resize(48, 48).raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, info.width * info.height), width: info.width, height: info.height };
}

/**
 * The dev set, one canvas at a time (memory: one canvas). Face sides are spread evenly over [minSide, maxSide];
 * faces never overlap (their rotated patches, loose borders included, keep 8 px apart).
 */
export async function* devSet(options: DevSetOptions = {}): AsyncGenerator<DevImage> {
  const { data = DEFAULT_FER_VAL, count = 100, seed = 1, minSide = 60, maxSide = 300, maxAngle = 15, maxFaces = 9 } = options;
  const random = rng(seed);
  const files = valFiles(data, random);
  let next = 0;
  for (let n = 0; n < count; n++) {
    const [width, height] = CANVASES[n % CANVASES.length];
    const cluttered = random() < 0.5;
    const tinted = random() < 0.5;
    const canvas = background(width, height, cluttered, tinted, random);
    const tint: [number, number, number] = tinted ? [1, 0.78 + random() * 0.12, 0.62 + random() * 0.16] : [1, 1, 1];
    const wanted = 1 + Math.floor(random() * maxFaces);
    const placed: { x: number; y: number; r: number }[] = [];
    const faces: TrueFace[] = [];
    for (let k = 0; k < wanted; k++) {
      const side = Math.round(minSide + random() * (maxSide - minSide));
      const angleDeg = (random() * 2 - 1) * maxAngle;
      const loose = random() < 0.4;
      const reach = (side * (loose ? 1 + 2 * LOOSE_BORDER : 1) * Math.SQRT2) / 2 + 4;   // rotated patch's half-diagonal
      let spot: { x: number; y: number } | undefined;
      for (let attempt = 0; attempt < 40 && !spot; attempt++) {
        const x = reach + random() * (width - 2 * reach);
        const y = reach + random() * (height - 2 * reach);
        if (width < 2 * reach || height < 2 * reach) break;
        if (placed.every((p) => Math.hypot(p.x - x, p.y - y) > p.r + reach)) spot = { x, y };
      }
      if (!spot) continue;
      const file = files[next++ % files.length];
      const jpeg = readFileSync(file.path);
      const patch = await facePatch(jpeg, side, angleDeg, loose);
      const left = Math.round(spot.x - patch.width / 2);
      const top = Math.round(spot.y - patch.height / 2);
      for (let y = 0; y < patch.height; y++) {
        const cy = top + y;
        if (cy < 0 || cy >= height) continue;
        for (let x = 0; x < patch.width; x++) {
          const cx = left + x;
          if (cx < 0 || cx >= width) continue;
          const s = (y * patch.width + x) * 4;
          const a = patch.data[s + 3] / 255;
          if (a === 0) continue;
          const d = (cy * width + cx) * 4;
          for (let c = 0; c < 3; c++) canvas[d + c] = canvas[d + c] * (1 - a) + patch.data[s + c] * tint[c] * a;
        }
      }
      const cxTrue = left + patch.width / 2;
      const cyTrue = top + patch.height / 2;
      placed.push({ x: cxTrue, y: cyTrue, r: reach });
      faces.push({
        box: { x: cxTrue - side / 2, y: cyTrue - side / 2, width: side, height: side }, side, angleDeg,
        framing: loose ? 'loose' : 'tight', label: file.label, file: file.path, crop: await grayCrop(jpeg),
      });
    }
    yield {
      name: `dev-${seed}-${n}`, image: { data: canvas, width, height }, faces,
      background: cluttered ? 'cluttered' : 'plain', colour: tinted ? 'tinted' : 'gray',
    };
  }
}

/**
 * The match rule, fixed for every candidate: a detection matches a true face when its centre lies within half the
 * true side of the true centre and its side (max of width, height) is 0.5-2x the true side. FER crops are tight
 * (forehead to chin) while detectors box brow to chin or the whole head, so sizes differ by design and IoU would
 * score box style rather than finding; the centre rule still rejects a box on half a face. Greedy, best score first,
 * one detection per face: a second detection of a face is a false positive.
 */
export function matchFaces<T extends { box: Box; score: number }>(truth: readonly { box: Box; side: number }[], found: readonly T[]): { matched: (T | undefined)[]; falsePositives: T[] } {
  const matched: (T | undefined)[] = truth.map(() => undefined);
  const falsePositives: T[] = [];
  for (const f of [...found].sort((a, b) => b.score - a.score)) {
    const fx = f.box.x + f.box.width / 2;
    const fy = f.box.y + f.box.height / 2;
    const fs = Math.max(f.box.width, f.box.height);
    let best = -1;
    let bestDistance = Infinity;
    truth.forEach((t, i) => {
      if (matched[i]) return;
      const d = Math.hypot(fx - (t.box.x + t.box.width / 2), fy - (t.box.y + t.box.height / 2));
      const ratio = fs / t.side;
      if (d < t.side / 2 && ratio >= 0.5 && ratio <= 2 && d < bestDistance) { best = i; bestDistance = d; }
    });
    if (best >= 0) matched[best] = f;
    else falsePositives.push(f);
  }
  return { matched, falsePositives };
}
