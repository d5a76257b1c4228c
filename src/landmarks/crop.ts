/**
 * The landmark net's input crop, as face-api makes it for FaceLandmark68Net from a detection: the face box (floored
 * to whole pixels, clipped to the image), padded to a square with zeros — half the difference after, the rest before
 * (face-api's padToSquare(…, true)) — and resized to the net's side with TF's legacy bilinear resize
 * (tf.image.resizeBilinear, alignCorners false, no half-pixel centres). Pure, browser-safe.
 */
import type { Box, Point, RgbaImage } from '../types.js';

/** Where a crop came from: the integer box and the padded square, in image pixels. */
export interface SquareCrop {
  /** The box after flooring and clipping (image px). */
  box: Box;
  /** Side of the padded square (max of the box's width and height). */
  side: number;
}

/** face-api's FaceDetection.box.floor() then clipAtImageBorders. Width/height of at least 1 px. */
export function integerBox(box: Box, imageWidth: number, imageHeight: number): Box {
  const x = Math.min(Math.max(Math.floor(box.x), 0), imageWidth - 1);
  const y = Math.min(Math.max(Math.floor(box.y), 0), imageHeight - 1);
  const right = Math.min(Math.floor(box.x) + Math.floor(box.width), imageWidth);
  const bottom = Math.min(Math.floor(box.y) + Math.floor(box.height), imageHeight);
  return { x, y, width: Math.max(1, right - x), height: Math.max(1, bottom - y) };
}

/**
 * Writes the normalised NCHW crop of `box` into `out` at `offset` (3 × size × size floats) and returns its geometry.
 * `normalize` holds the sidecar's scale/mean/std per channel (x' = (x·scale − mean) / std).
 */
export function writeLandmarkInput(
  image: RgbaImage, box: Box, size: number,
  normalize: { scale: number; mean: readonly number[]; std: readonly number[] },
  out: Float32Array, offset: number,
): SquareCrop {
  const b = integerBox(box, image.width, image.height);
  const side = Math.max(b.width, b.height);
  // padToSquare(centred): round(diff / 2) zeros appended after, diff − that prepended.
  const diffX = side - b.width;
  const diffY = side - b.height;
  const padBeforeX = diffX - Math.round(diffX * 0.5);
  const padBeforeY = diffY - Math.round(diffY * 0.5);
  const plane = size * size;
  const ratio = side / size;
  const { data, width } = image;
  // A square pixel (sx, sy) -> channel value, 0 in the padding.
  const at = (sx: number, sy: number, c: number): number => {
    const bx = sx - padBeforeX;
    const by = sy - padBeforeY;
    if (bx < 0 || by < 0 || bx >= b.width || by >= b.height) return 0;
    return data[((b.y + by) * width + b.x + bx) * 4 + c];
  };
  for (let y = 0; y < size; y++) {
    const fy = y * ratio;
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, side - 1);
    const wy = fy - y0;
    for (let x = 0; x < size; x++) {
      const fx = x * ratio;
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, side - 1);
      const wx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const top = at(x0, y0, c) + (at(x1, y0, c) - at(x0, y0, c)) * wx;
        const bottom = at(x0, y1, c) + (at(x1, y1, c) - at(x0, y1, c)) * wx;
        const v = top + (bottom - top) * wy;
        out[offset + c * plane + y * size + x] = (v * normalize.scale - normalize.mean[c]) / normalize.std[c];
      }
    }
  }
  return { box: b, side };
}

/**
 * The net's 136 outputs (fractions of the padded square) → 68 points in image pixels, as face-api's
 * FaceLandmark68NetBase.postProcess does it (padding |w − h| / 2, unrounded), then shifted by the box origin.
 */
export function pointsFromOutput(row: ArrayLike<number>, crop: SquareCrop): Point[] {
  const { box, side } = crop;
  const padX = box.width < box.height ? (box.height - box.width) / 2 : 0;
  const padY = box.height < box.width ? (box.width - box.height) / 2 : 0;
  const points: Point[] = [];
  for (let i = 0; i < row.length / 2; i++) {
    points.push({ x: box.x + row[2 * i] * side - padX, y: box.y + row[2 * i + 1] * side - padY });
  }
  return points;
}
