/**
 * Browser-safe 8-bit gray resampling with Pillow's exact arithmetic, so that a crop resized here gets the same
 * pixels the training pipeline (PIL) gave the model. Used by the FER data set readers (src/image/datasets.ts) and
 * by the classifier when it is handed a crop that isn't the model's size (src/classify/preprocess.ts).
 */
import type { GrayImage } from '../types.js';

/** ITU-R 601-2 luma weights, the ones PIL's convert('L') uses. */
export const PIL_LUMA_WEIGHTS: readonly [number, number, number] = [0.299, 0.587, 0.114];

/**
 * 8-bit gray from interleaved 8-bit pixels (`channels` per pixel), with PIL's convert('L') arithmetic: the weights in
 * 16-bit fixed point (for PIL's own, L = (19595 R + 38470 G + 7471 B + 32768) >> 16). One or two channels are gray
 * already (the first is taken); from three up, alpha and anything past blue are ignored.
 */
export function toGray8(data: ArrayLike<number>, width: number, height: number, channels: number,
  weights: readonly [number, number, number] = PIL_LUMA_WEIGHTS): GrayImage {
  const out = new Uint8Array(width * height);
  if (channels <= 2) {
    for (let i = 0; i < out.length; i++) out[i] = data[i * channels];
  } else {
    const [wr, wg, wb] = weights.map((w) => Math.round(w * 65536));
    for (let i = 0, p = 0; i < out.length; i++, p += channels) {
      out[i] = Math.min(255, (data[p] * wr + data[p + 1] * wg + data[p + 2] * wb + 0x8000) >>> 16);
    }
  }
  return { data: out, width, height };
}

/**
 * PIL's `Image.resize(size, BILINEAR)` for 8-bit gray: a triangle filter widened by the scale factor when
 * shrinking (antialiased), separable, horizontal pass first, coefficients in 22-bit fixed point, each pass
 * rounded to 8 bits — the same arithmetic as Pillow's Resample.c, so results match it pixel for pixel.
 */
export function resizeGrayBilinear(image: GrayImage, width: number, height: number): GrayImage {
  let { data, width: w, height: h } = image;
  let pixels = data instanceof Uint8Array ? data : Uint8Array.from(data, (v) => Math.max(0, Math.min(255, Math.round(v))));
  if (w !== width) {
    const { bounds, coeffs, taps } = resampleCoefficients(w, width);
    const out = new Uint8Array(width * h);
    for (let y = 0; y < h; y++) {
      const row = y * w;
      for (let x = 0; x < width; x++) {
        const [start, count] = [bounds[2 * x], bounds[2 * x + 1]];
        let acc = HALF;
        for (let k = 0; k < count; k++) acc += pixels[row + start + k] * coeffs[x * taps + k];
        out[y * width + x] = clip8(acc);
      }
    }
    pixels = out;
    w = width;
  }
  if (h !== height) {
    const { bounds, coeffs, taps } = resampleCoefficients(h, height);
    const out = new Uint8Array(w * height);
    for (let y = 0; y < height; y++) {
      const [start, count] = [bounds[2 * y], bounds[2 * y + 1]];
      for (let x = 0; x < w; x++) {
        let acc = HALF;
        for (let k = 0; k < count; k++) acc += pixels[(start + k) * w + x] * coeffs[y * taps + k];
        out[y * w + x] = clip8(acc);
      }
    }
    pixels = out;
    h = height;
  }
  return { data: pixels, width: w, height: h };
}

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);

function clip8(acc: number): number {
  const v = Math.floor(acc / ONE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Pillow's precompute_coeffs for the bilinear (triangle) filter, support 1. */
function resampleCoefficients(inSize: number, outSize: number): { bounds: Int32Array; coeffs: Float64Array; taps: number } {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const coeffs = new Float64Array(outSize * taps);
  const weights = new Float64Array(taps);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterScale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      const t = Math.abs((x + xmin - center + 0.5) * ss);
      const w = t < 1 ? 1 - t : 0;
      weights[x] = w;
      total += w;
    }
    for (let x = 0; x < xmax; x++) {
      const k = total ? weights[x] / total : 0;
      // Pillow rounds each coefficient to fixed point away from zero.
      coeffs[xx * taps + x] = k < 0 ? Math.trunc(-0.5 + k * ONE) : Math.trunc(0.5 + k * ONE);
    }
    bounds[2 * xx] = xmin;
    bounds[2 * xx + 1] = xmax;
  }
  return { bounds, coeffs, taps };
}
