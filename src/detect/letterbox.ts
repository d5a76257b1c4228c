/**
 * Pixels -> detector input: a region of an RgbaImage, aspect kept, scaled into a square and padded (letterbox),
 * normalised and written as NCHW floats straight into a batch buffer. Pure TypeScript, browser-safe.
 *
 * Scaling is separable: area averaging when shrinking, bilinear when enlarging. A 1920 px photo shrunk 7.5x into
 * 256 px keeps small faces instead of aliasing them away, which plain 4-tap bilinear (tf.image.resizeBilinear,
 * what Human uses) does not.
 */
import { clamp } from '../geometry.js';
import type { RgbaImage } from '../types.js';

/** A rectangle of the image in pixels. */
export interface Region { x: number; y: number; width: number; height: number }

/** Where a region landed in the square input: inputX = (imageX - region.x) * scaleX + padX. */
export interface Placement {
  region: Region;
  scaleX: number;
  scaleY: number;
  padX: number;
  padY: number;
}

/** Per-channel affine normalisation: x' = (x * scale - mean[c]) / std[c]. */
export interface Normalization { scale: number; mean: readonly number[]; std: readonly number[] }

interface Taps { start: Int32Array; count: Int32Array; weights: Float32Array; maxTaps: number }

/**
 * For each of `dstSize` output pixels: the first source pixel, how many follow, and their weights, for the source
 * span [srcStart, srcStart + srcSize) (pixels past 0..srcLimit-1 repeat the edge). Shrinking averages the area an
 * output pixel covers (box filter); enlarging interpolates linearly between the two nearest source pixels.
 */
function filterTaps(srcStart: number, srcSize: number, dstSize: number, srcLimit: number): Taps {
  const step = srcSize / dstSize;                 // source pixels per output pixel
  const maxTaps = Math.ceil(step) + 2;
  const start = new Int32Array(dstSize);
  const count = new Int32Array(dstSize);
  const weights = new Float32Array(dstSize * maxTaps);
  const edge = (s: number) => clamp(s, 0, srcLimit - 1); // pixels past either end repeat the edge pixel
  for (let d = 0; d < dstSize; d++) {
    const taps = new Map<number, number>();       // source pixel -> weight (edge repeats fold into one tap)
    if (step > 1) {
      const lo = srcStart + d * step;
      const hi = lo + step;
      for (let s = Math.floor(lo); s < hi; s++) {
        const w = Math.min(hi, s + 1) - Math.max(lo, s);
        if (w > 0) taps.set(edge(s), (taps.get(edge(s)) ?? 0) + w);
      }
    } else {
      const centre = srcStart + (d + 0.5) * step - 0.5;
      const s0 = Math.floor(centre);
      const f = centre - s0;
      taps.set(edge(s0), (taps.get(edge(s0)) ?? 0) + 1 - f);
      taps.set(edge(s0 + 1), (taps.get(edge(s0 + 1)) ?? 0) + f);
    }
    const first = Math.min(...taps.keys());
    const last = Math.max(...taps.keys());
    let sum = 0;
    for (const w of taps.values()) sum += w;
    for (const [s, w] of taps) weights[d * maxTaps + s - first] = w / sum;
    start[d] = first;
    count[d] = last - first + 1;
  }
  return { start, count, weights, maxTaps };
}

/**
 * Letterboxes `region` of `image` into a size x size input (or `size.width` x `size.height`) at `out[offset ..]`
 * (3 planes, NCHW), padding with the normalised value of a black pixel. Returns where the region landed, to map
 * detections back.
 */
export function letterboxInto(
  image: RgbaImage, region: Region, size: number | { width: number; height: number }, norm: Normalization, out: Float32Array, offset: number,
): Placement {
  const outW = typeof size === 'number' ? size : size.width;
  const outH = typeof size === 'number' ? size : size.height;
  const fit = Math.min(outW / region.width, outH / region.height);
  const dstW = Math.max(1, Math.min(outW, Math.round(region.width * fit)));
  const dstH = Math.max(1, Math.min(outH, Math.round(region.height * fit)));
  const padX = Math.floor((outW - dstW) / 2);
  const padY = Math.floor((outH - dstH) / 2);
  const plane = outW * outH;

  // Fill the whole input with the padding value, then overwrite the picture.
  for (let c = 0; c < 3; c++) {
    const pad = (0 * norm.scale - norm.mean[c]) / norm.std[c];
    out.fill(pad, offset + c * plane, offset + (c + 1) * plane);
  }

  const xs = filterTaps(region.x, region.width, dstW, image.width);
  const ys = filterTaps(region.y, region.height, dstH, image.height);

  // Horizontal pass, one source row at a time, into a ring of the last ys.maxTaps rows (an output row needs at most
  // that many consecutive source rows, and they only move forward): memory is a few rows, not the whole region.
  const rowStride = dstW * 3;
  const ringSize = ys.maxTaps;
  const ring = new Float32Array(ringSize * rowStride);
  const ringRow = new Int32Array(ringSize).fill(-1);
  const src = image.data;
  const srcWidth = image.width;
  const { start: xStart, count: xCount, weights: xWeights, maxTaps: xTaps } = xs;
  const sourceRow = (sy: number): number => {
    const slot = sy % ringSize;
    let o = slot * rowStride;
    if (ringRow[slot] === sy) return o;
    ringRow[slot] = sy;
    const rowBase = sy * srcWidth * 4;
    for (let dx = 0; dx < dstW; dx++, o += 3) {
      let r = 0; let g = 0; let b = 0;
      let w = dx * xTaps;
      let p = rowBase + xStart[dx] * 4;
      for (let t = xCount[dx]; t > 0; t--, p += 4, w++) {
        const wt = xWeights[w];
        r += src[p] * wt; g += src[p + 1] * wt; b += src[p + 2] * wt;
      }
      ring[o] = r; ring[o + 1] = g; ring[o + 2] = b;
    }
    return slot * rowStride;
  };

  // Vertical pass straight into the normalised planes.
  const kR = norm.scale / norm.std[0]; const kG = norm.scale / norm.std[1]; const kB = norm.scale / norm.std[2];
  const mR = norm.mean[0] / norm.std[0]; const mG = norm.mean[1] / norm.std[1]; const mB = norm.mean[2] / norm.std[2];
  const acc = new Float32Array(rowStride);
  for (let dy = 0; dy < dstH; dy++) {
    acc.fill(0);
    for (let t = 0; t < ys.count[dy]; t++) {
      const q = sourceRow(ys.start[dy] + t);
      const wt = ys.weights[dy * ys.maxTaps + t];
      for (let i = 0; i < rowStride; i++) acc[i] += ring[q + i] * wt;
    }
    const line = offset + (padY + dy) * outW + padX;
    for (let dx = 0, i = 0; dx < dstW; dx++, i += 3) {
      out[line + dx] = acc[i] * kR - mR;
      out[plane + line + dx] = acc[i + 1] * kG - mG;
      out[2 * plane + line + dx] = acc[i + 2] * kB - mB;
    }
  }
  return { region, scaleX: dstW / region.width, scaleY: dstH / region.height, padX, padY };
}

/**
 * The whole image scaled by `scale` (< 1) with the same filter, as RGBA bytes. The tiles of one zoom level are then
 * copied from it 1:1 instead of each being filtered down from the full-size photo (overlapping tiles would filter
 * the same pixels again). Streams row by row: memory is the result plus one source-wide row.
 */
export function scaleImage(image: RgbaImage, scale: number): RgbaImage {
  // exactly `scale` (a result pixel is 1/scale source pixels); the last row/column may reach past the edge
  const width = Math.max(1, Math.ceil(image.width * scale));
  const height = Math.max(1, Math.ceil(image.height * scale));
  const xs = filterTaps(0, width / scale, width, image.width);
  const ys = filterTaps(0, height / scale, height, image.height);
  const src = image.data;
  const srcRow = image.width * 4;
  const column = new Float32Array(image.width * 3);     // one output row, filtered vertically, full source width
  const out = new Uint8ClampedArray(width * height * 4);
  for (let dy = 0; dy < height; dy++) {
    column.fill(0);
    for (let t = 0; t < ys.count[dy]; t++) {
      const wt = ys.weights[dy * ys.maxTaps + t];
      let p = (ys.start[dy] + t) * srcRow;
      for (let i = 0; i < column.length; i += 3, p += 4) {
        column[i] += src[p] * wt; column[i + 1] += src[p + 1] * wt; column[i + 2] += src[p + 2] * wt;
      }
    }
    let o = dy * width * 4;
    for (let dx = 0; dx < width; dx++, o += 4) {
      let r = 0; let g = 0; let b = 0;
      let q = xs.start[dx] * 3;
      for (let t = 0, w = dx * xs.maxTaps; t < xs.count[dx]; t++, w++, q += 3) {
        const wt = xs.weights[w];
        r += column[q] * wt; g += column[q + 1] * wt; b += column[q + 2] * wt;
      }
      out[o] = r + 0.5; out[o + 1] = g + 0.5; out[o + 2] = b + 0.5; out[o + 3] = 255;
    }
  }
  return { data: out, width, height };
}
