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

/**
 * An upright square around a face: centre, side and the rotation (radians) that levels its eye line. Detected faces
 * are cropped this way by default; face-api's axis-aligned box crop (writeLandmarkInput) is kept for the check
 * against face-api itself (scripts/verify-landmarks68.ts), since the net was trained on upright faces and fails
 * on heads tilted by more than about 15° (see docs/ferc.md).
 */
export interface UprightSquare {
  cx: number;
  cy: number;
  side: number;
  /** Angle of the eye line (from the subject's right eye to the left), radians; the crop undoes it. */
  angle: number;
}

/** The upright square for a detected face: the box's centre, `scale` × its larger side, the eye line's angle. */
export function uprightSquare(box: Box, rightEye: Point, leftEye: Point, scale: number): UprightSquare {
  return {
    cx: box.x + box.width / 2,
    cy: box.y + box.height / 2,
    side: Math.max(box.width, box.height) * scale,
    angle: Math.atan2(leftEye.y - rightEye.y, leftEye.x - rightEye.x),
  };
}

/** Net-input pixel (u, v) of a `size` square → image point, for an upright square. */
function squareToImage(sq: UprightSquare, size: number, u: number, v: number): Point {
  const s = sq.side / size;
  const cos = Math.cos(sq.angle);
  const sin = Math.sin(sq.angle);
  const dx = (u - size / 2) * s;
  const dy = (v - size / 2) * s;
  return { x: sq.cx + dx * cos - dy * sin, y: sq.cy + dx * sin + dy * cos };
}

/** Writes the normalised NCHW crop of an upright square (bilinear at pixel centres, zeros outside the image). */
export function writeUprightInput(
  image: RgbaImage, sq: UprightSquare, size: number,
  normalize: { scale: number; mean: readonly number[]; std: readonly number[] },
  out: Float32Array, offset: number,
): void {
  const { data, width, height } = image;
  const plane = size * size;
  // The affine map of squareToImage, written out once: image = origin + u·du + v·dv (at pixel centres).
  const origin = squareToImage(sq, size, 0.5, 0.5);
  const right = squareToImage(sq, size, 1.5, 0.5);
  const down = squareToImage(sq, size, 0.5, 1.5);
  const du = { x: right.x - origin.x, y: right.y - origin.y };
  const dv = { x: down.x - origin.x, y: down.y - origin.y };
  const gain = [0, 1, 2].map((c) => normalize.scale / normalize.std[c]);
  const bias = [0, 1, 2].map((c) => -normalize.mean[c] / normalize.std[c]);
  const px = (x: number, y: number, c: number): number => (x < 0 || y < 0 || x >= width || y >= height ? 0 : data[(y * width + x) * 4 + c]);
  for (let v = 0; v < size; v++) {
    for (let u = 0; u < size; u++) {
      const fx = origin.x + u * du.x + v * dv.x - 0.5;
      const fy = origin.y + u * du.y + v * dv.y - 0.5;
      const x0 = Math.floor(fx);
      const y0 = Math.floor(fy);
      const wx = fx - x0;
      const wy = fy - y0;
      const inside = x0 >= 0 && y0 >= 0 && x0 + 1 < width && y0 + 1 < height;
      const i00 = (y0 * width + x0) * 4;
      const i10 = i00 + 4;
      const i01 = i00 + width * 4;
      const i11 = i01 + 4;
      for (let c = 0; c < 3; c++) {
        let value: number;
        if (inside) {
          const top = data[i00 + c] * (1 - wx) + data[i10 + c] * wx;
          value = top + (data[i01 + c] * (1 - wx) + data[i11 + c] * wx - top) * wy;
        } else {
          const top = px(x0, y0, c) * (1 - wx) + px(x0 + 1, y0, c) * wx;
          value = top + (px(x0, y0 + 1, c) * (1 - wx) + px(x0 + 1, y0 + 1, c) * wx - top) * wy;
        }
        out[offset + c * plane + v * size + u] = value * gain[c] + bias[c];
      }
    }
  }
}

/** The net's 136 outputs (fractions of the square) → 68 image points, for an upright square. */
export function pointsFromUprightOutput(row: ArrayLike<number>, sq: UprightSquare, size: number): Point[] {
  const points: Point[] = [];
  for (let i = 0; i < row.length / 2; i++) points.push(squareToImage(sq, size, row[2 * i] * size, row[2 * i + 1] * size));
  return points;
}
