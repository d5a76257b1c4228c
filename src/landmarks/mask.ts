/**
 * FERC's background removal: everything outside the face outline — the jaw line (points 0–16) closed over the
 * eyebrows (26 back to 17) — is replaced by one fill value. Applied to the gray crop the emotion CNN sees, in that
 * crop's pixels. Pure, browser-safe.
 */
import type { GrayImage, Point } from '../types.js';

/** The face polygon from 68 points: jaw left to right, then the brows right to left (closed implicitly). */
export function faceOutline(points: readonly Point[]): Point[] {
  const outline: Point[] = [];
  for (let i = 0; i <= 16; i++) outline.push(points[i]);
  for (let i = 26; i >= 17; i--) outline.push(points[i]);
  return outline;
}

/** Even-odd test of a point against a polygon. */
function inside(x: number, y: number, polygon: readonly Point[]): boolean {
  let hit = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const a = polygon[i];
    const b = polygon[j];
    if ((a.y > y) !== (b.y > y) && x < ((b.x - a.x) * (y - a.y)) / (b.y - a.y) + a.x) hit = !hit;
  }
  return hit;
}

/**
 * A copy of `image` with every pixel whose centre lies outside `polygon` set to `fill` (0..255; default: the mean
 * of the pixels inside, so the mask adds no dark edge the CNN never saw in training).
 */
export function maskOutside(image: GrayImage, polygon: readonly Point[], fill?: number): GrayImage {
  const { width, height, data } = image;
  const keep = new Uint8Array(width * height);
  let sum = 0;
  let count = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (inside(x + 0.5, y + 0.5, polygon)) {
        keep[y * width + x] = 1;
        sum += data[y * width + x];
        count++;
      }
    }
  }
  const value = fill ?? (count ? sum / count : 0);
  const out = data instanceof Float32Array ? new Float32Array(data) : new Uint8Array(data);
  for (let i = 0; i < keep.length; i++) if (!keep[i]) out[i] = value;
  return { width, height, data: out };
}
