/**
 * Face alignment: photo + eye landmarks → a FER2013-style gray face crop (eye line level, fixed eye distance and
 * height; see the sidecar's preprocess.faceCrop). One inverse affine warp sampled straight from the RGBA source —
 * no intermediate full-image copies — so a 50 MP photo costs nothing beyond its decode. Browser-safe.
 *
 * Coordinates are continuous pixels: pixel (x, y) covers [x, x+1) × [y, y+1), its centre is (x+0.5, y+0.5).
 * The detector's landmarks and boxes use the same convention.
 */
import { equalizeHistogram } from '../classify/preprocess.js';
import type { GrayImage, Landmarks, Point, RgbaImage } from '../types.js';
import { PIL_LUMA_WEIGHTS } from '../image/gray-resize.js';

/** Where the eyes go in the crop (sidecar preprocess.faceCrop). */
export interface FaceCropGeometry {
  /** Side of the square crop in px (48 for FER2013). */
  size: number;
  /** Height of the eye midpoint, as a fraction of `size`. */
  eyeY: number;
  /** Inter-ocular distance, as a fraction of `size`. */
  eyeDistance: number;
}

export interface AlignOptions {
  /** RGB → gray weights (sidecar preprocess.grayscale.weights); default BT.601. */
  lumaWeights?: readonly [number, number, number];
  /** Histogram-equalise the crop (default false — the classifier applies the sidecar's own setting). */
  equalize?: boolean;
  /** Most samples per output pixel side when shrinking (anti-aliasing); default 4. 1 = plain bilinear. */
  maxSupersample?: number;
}

/** Affine map p' = [a b; c d]·p + [tx; ty]. */
export interface Affine { a: number; b: number; c: number; d: number; tx: number; ty: number }

export function applyAffine(m: Affine, p: Point): Point {
  return { x: m.a * p.x + m.b * p.y + m.tx, y: m.c * p.x + m.d * p.y + m.ty };
}

export function invertAffine(m: Affine): Affine {
  const det = m.a * m.d - m.b * m.c;
  const a = m.d / det, b = -m.b / det, c = -m.c / det, d = m.a / det;
  return { a, b, c, d, tx: -(a * m.tx + b * m.ty), ty: -(c * m.tx + d * m.ty) };
}

/**
 * The similarity transform from crop coordinates to image coordinates for a face whose eyes are at
 * `rightEye` (image left) and `leftEye` (image right). Its inverse puts the eye midpoint at
 * (size/2, eyeY·size) with the eyes `eyeDistance·size` apart on a horizontal line.
 */
export function cropToImageTransform(eyes: Pick<Landmarks, 'rightEye' | 'leftEye'>, crop: FaceCropGeometry): Affine {
  const { rightEye: r, leftEye: l } = eyes;
  const dx = l.x - r.x;
  const dy = l.y - r.y;
  const eyeDistancePx = Math.hypot(dx, dy);
  const targetPx = crop.eyeDistance * crop.size;
  // Degenerate eyes (coincident landmarks): keep the face upright at unit scale rather than divide by zero.
  const k = eyeDistancePx > 1e-6 ? eyeDistancePx / targetPx : 1; // image px per crop px
  const cos = eyeDistancePx > 1e-6 ? (dx / eyeDistancePx) * k : k;
  const sin = eyeDistancePx > 1e-6 ? (dy / eyeDistancePx) * k : 0;
  const mx = (r.x + l.x) / 2;
  const my = (r.y + l.y) / 2;
  const cx = crop.size / 2;
  const cy = crop.eyeY * crop.size;
  // p = M + k·Rot(θ)·(c − T)
  return { a: cos, b: -sin, c: sin, d: cos, tx: mx - (cos * cx - sin * cy), ty: my - (sin * cx + cos * cy) };
}

/**
 * Cut the aligned gray face crop (`crop.size` square, 0..255) out of `image`. Pixels outside the image
 * replicate the nearest edge. When the face is larger than the crop, each output pixel averages up to
 * `maxSupersample²` bilinear samples over its footprint, so shrinking does not alias.
 */
export function alignFace(image: RgbaImage, landmarks: Pick<Landmarks, 'rightEye' | 'leftEye'>, crop: FaceCropGeometry, options: AlignOptions = {}): GrayImage {
  const m = cropToImageTransform(landmarks, crop);
  const [wr, wg, wb] = options.lumaWeights ?? PIL_LUMA_WEIGHTS;
  const scale = Math.hypot(m.a, m.c); // image px per crop px
  const n = Math.max(1, Math.min(options.maxSupersample ?? 4, Math.ceil(scale - 1e-9)));
  const size = crop.size;
  const out = new Uint8Array(size * size);
  const data = image.data;
  const width = image.width;
  const maxX = width - 1;
  const maxY = image.height - 1;
  const inv = 1 / n;
  const norm = inv * inv;

  // Hot loop (size² · n² bilinear samples), written out flat: no closures, integer indexing.
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let sum = 0;
      for (let sy = 0; sy < n; sy++) {
        const cy = y + (sy + 0.5) * inv;
        for (let sx = 0; sx < n; sx++) {
          const cx = x + (sx + 0.5) * inv;
          // Continuous image coordinates → pixel-centre grid, edges replicated.
          let fx = m.a * cx + m.b * cy + m.tx - 0.5;
          let fy = m.c * cx + m.d * cy + m.ty - 0.5;
          fx = fx < 0 ? 0 : fx > maxX ? maxX : fx;
          fy = fy < 0 ? 0 : fy > maxY ? maxY : fy;
          const x0 = fx | 0;
          const y0 = fy | 0;
          const ax = fx - x0;
          const ay = fy - y0;
          const i00 = (y0 * width + x0) << 2;
          const i01 = x0 < maxX ? i00 + 4 : i00;
          const i10 = y0 < maxY ? i00 + (width << 2) : i00;
          const i11 = x0 < maxX ? i10 + 4 : i10;
          const g00 = wr * data[i00] + wg * data[i00 + 1] + wb * data[i00 + 2];
          const g01 = wr * data[i01] + wg * data[i01 + 1] + wb * data[i01 + 2];
          const g10 = wr * data[i10] + wg * data[i10 + 1] + wb * data[i10 + 2];
          const g11 = wr * data[i11] + wg * data[i11 + 1] + wb * data[i11 + 2];
          sum += (g00 + (g01 - g00) * ax) * (1 - ay) + (g10 + (g11 - g10) * ax) * ay;
        }
      }
      const v = Math.round(sum * norm);
      out[y * size + x] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  const face: GrayImage = { data: out, width: size, height: size };
  return options.equalize ? equalizeHistogram(face) : face;
}
