/**
 * Drawing a saliency map: values in [0, 1] → colours (a dark-to-yellow ramp, like matplotlib's "inferno"), blended
 * over the gray face crop so that unimportant pixels show the face and important ones glow. RGBA out; encoding
 * (sharp in Node, a canvas in the browser) is the caller's. Browser-safe, pure.
 */
import type { GrayImage } from '../types.js';
import type { SaliencyMap } from './index.js';

/** The ramp's stops: value → [r, g, b]. */
const STOPS: ReadonlyArray<readonly [number, number, number, number]> = [
  [0.0, 0, 0, 4],
  [0.25, 87, 16, 110],
  [0.5, 188, 55, 84],
  [0.75, 249, 142, 9],
  [1.0, 252, 255, 164],
];

/** The ramp colour of a value in [0, 1]. */
export function heatColor(value: number): [number, number, number] {
  const v = Math.min(Math.max(value, 0), 1);
  let i = 1;
  while (i < STOPS.length - 1 && STOPS[i][0] < v) i++;
  const [v0, r0, g0, b0] = STOPS[i - 1];
  const [v1, r1, g1, b1] = STOPS[i];
  const t = (v - v0) / (v1 - v0);
  return [Math.round(r0 + (r1 - r0) * t), Math.round(g0 + (g1 - g0) * t), Math.round(b0 + (b1 - b0) * t)];
}

/** Just the map's colours, with alpha rising with the value (for drawing over a face on screen). */
export function heatmapRgba(map: SaliencyMap, maxAlpha = 0.6): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(map.width * map.height * 4);
  for (let i = 0; i < map.data.length; i++) {
    const [r, g, b] = heatColor(map.data[i]);
    out.set([r, g, b, Math.round(255 * maxAlpha * Math.sqrt(map.data[i]))], i * 4);
  }
  return out;
}

/** The crop with the map blended over it: pixel = (1 − a)·gray + a·colour, a = maxAlpha·√value. Opaque RGBA. */
export function overlayRgba(crop: GrayImage, map: SaliencyMap, maxAlpha = 0.6): Uint8ClampedArray<ArrayBuffer> {
  if (crop.width !== map.width || crop.height !== map.height) throw new RangeError(`map ${map.width}x${map.height} does not match crop ${crop.width}x${crop.height}`);
  const out = new Uint8ClampedArray(crop.width * crop.height * 4);
  for (let i = 0; i < map.data.length; i++) {
    const a = maxAlpha * Math.sqrt(Math.min(Math.max(map.data[i], 0), 1));
    const g = crop.data[i];
    const [r, gg, b] = heatColor(map.data[i]);
    out[i * 4] = (1 - a) * g + a * r;
    out[i * 4 + 1] = (1 - a) * g + a * gg;
    out[i * 4 + 2] = (1 - a) * g + a * b;
    out[i * 4 + 3] = 255;
  }
  return out;
}
