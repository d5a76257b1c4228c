/**
 * Face crop → network input, exactly as the model sidecar says (docs/model-contract.md):
 * [equalize] → centre crop → x' = (x * scale - mean) / std, NCHW float32. Browser-safe, pure functions.
 * The order matches training/common.py's predict (normalise, then centre crop — the two commute).
 */
import type { EmotionModelSidecar } from './contract.js';
import { resizeGrayBilinear } from '../image/gray-resize.js';
import type { GrayImage } from '../types.js';

/** Histogram-equalise a gray image (0..255) in place-free fashion; returns a new Uint8Array image. */
export function equalizeHistogram(image: GrayImage): GrayImage {
  const n = image.width * image.height;
  const hist = new Uint32Array(256);
  const src = image.data;
  const values = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = Math.max(0, Math.min(255, Math.round(src[i])));
    values[i] = v;
    hist[v]++;
  }
  // Classic OpenCV-style mapping: cdf rescaled so the lowest occupied bin maps to 0.
  let cdfMin = 0;
  for (let v = 0; v < 256; v++) if (hist[v]) { cdfMin = hist[v]; break; }
  const lut = new Uint8Array(256);
  const denom = n - cdfMin;
  let cdf = 0;
  for (let v = 0; v < 256; v++) {
    cdf += hist[v];
    lut[v] = denom > 0 ? Math.round(((cdf - cdfMin) / denom) * 255) : v;
  }
  for (let i = 0; i < n; i++) values[i] = lut[values[i]];
  return { data: values, width: image.width, height: image.height };
}

/**
 * Write one face crop into `out` at `offset` (NCHW, `channels` planes of centerCrop²). Gray crops feed every
 * channel of a 3-channel model identically.
 */
export function writeNetInput(face: GrayImage, sidecar: EmotionModelSidecar, out: Float32Array, offset: number): void {
  const p = sidecar.preprocess;
  const size = p.faceCrop.size;
  let img = face.width === size && face.height === size ? face : resizeGrayBilinear(face, size, size);
  if (p.equalize) img = equalizeHistogram(img);
  const crop = p.centerCrop;
  const top = Math.floor((size - crop) / 2);
  const left = Math.floor((size - crop) / 2);
  const channels = sidecar.input.channels;
  const plane = crop * crop;
  for (let c = 0; c < channels; c++) {
    const mean = p.mean[c];
    const std = p.std[c];
    const base = offset + c * plane;
    for (let y = 0; y < crop; y++) {
      const row = (top + y) * size + left;
      for (let x = 0; x < crop; x++) out[base + y * crop + x] = (img.data[row + x] * p.scale - mean) / std;
    }
  }
}

/** A batch of face crops as one NCHW float32 tensor. */
export function toNetInput(faces: GrayImage[], sidecar: EmotionModelSidecar): { data: Float32Array; dims: number[] } {
  const { channels, height, width } = sidecar.input;
  const per = channels * height * width;
  const data = new Float32Array(faces.length * per);
  faces.forEach((face, i) => writeNetInput(face, sidecar, data, i * per));
  return { data, dims: [faces.length, channels, height, width] };
}

/** Numerically stable softmax of one row. */
export function softmax(row: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]);
  const exps = Array.from(row, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}
