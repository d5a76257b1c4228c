/**
 * The gradient-free occlusion map (Zeiler & Fergus 2014): slide a grey patch over the part of the aligned crop the net
 * sees, classify every occluded copy in batches, and credit each pixel with the mean drop of the class's probability
 * over the patches that covered it. Grey is the normalisation mean, i.e. a net input of 0. Cost: one classifier pass
 * per patch position — 100 with the defaults (8 px patch, 4 px stride over a 44 px input) — plus the original.
 * Browser-safe, pure apart from the `classify` callback it is handed.
 */
import type { Emotion, EmotionProbabilities } from '../labels.js';
import type { GrayImage } from '../types.js';

export interface OcclusionOptions {
  /** Side of the square grey patch in crop px (default 8). */
  patch?: number;
  /** Step between patch positions in crop px (default 4). */
  stride?: number;
}

export const DEFAULT_OCCLUSION = { patch: 8, stride: 4 } as const;

/** The occlusion geometry for a crop: where the net's window lies and where the patches go. */
export interface OcclusionPlan {
  /** Top-left corners (crop px) of every patch, in row-major order. */
  positions: Array<{ x: number; y: number }>;
  patch: number;
}

/** Patch positions tiling the centre `window` × `window` of a `size` crop, last position flush with its edge. */
export function occlusionPlan(size: number, window: number, options: OcclusionOptions = {}): OcclusionPlan {
  const patch = Math.min(options.patch ?? DEFAULT_OCCLUSION.patch, window);
  const stride = options.stride ?? DEFAULT_OCCLUSION.stride;
  if (!(Number.isInteger(patch) && patch > 0) || !(Number.isInteger(stride) && stride > 0)) throw new RangeError('occlusion patch and stride must be positive integers');
  const offset = Math.floor((size - window) / 2);
  const starts: number[] = [];
  for (let p = 0; p + patch < window; p += stride) starts.push(p);
  starts.push(window - patch);
  const unique = [...new Set(starts)];
  const positions = unique.flatMap((y) => unique.map((x) => ({ x: offset + x, y: offset + y })));
  return { positions, patch };
}

/** A copy of `crop` with a `patch` square at (x, y) set to `fill`. */
export function occlude(crop: GrayImage, x: number, y: number, patch: number, fill: number): GrayImage {
  const data = Float32Array.from(crop.data);
  for (let yy = y; yy < Math.min(y + patch, crop.height); yy++) {
    for (let xx = x; xx < Math.min(x + patch, crop.width); xx++) data[yy * crop.width + xx] = fill;
  }
  return { data, width: crop.width, height: crop.height };
}

/**
 * The occlusion map over the crop (crop.width × crop.height, [0, 1], zero outside the net's window and where no
 * patch lowered the probability), and the probabilities of the unoccluded crop.
 */
export async function occlusionMap(
  classify: (crops: GrayImage[]) => Promise<EmotionProbabilities[]>,
  crop: GrayImage,
  emotion: Emotion | ((p: EmotionProbabilities) => Emotion),
  geometry: { window: number; fill: number },
  options: OcclusionOptions = {},
): Promise<{ data: Float32Array; probabilities: EmotionProbabilities; emotion: Emotion }> {
  const plan = occlusionPlan(crop.width, geometry.window, options);
  const crops = [crop, ...plan.positions.map((p) => occlude(crop, p.x, p.y, plan.patch, geometry.fill))];
  const probs = await classify(crops);
  const label = typeof emotion === 'function' ? emotion(probs[0]) : emotion;
  const base = probs[0][label];
  const sum = new Float32Array(crop.width * crop.height);
  const count = new Uint16Array(crop.width * crop.height);
  plan.positions.forEach((p, i) => {
    const drop = base - probs[i + 1][label];
    for (let y = p.y; y < p.y + plan.patch; y++) {
      for (let x = p.x; x < p.x + plan.patch; x++) {
        sum[y * crop.width + x] += drop;
        count[y * crop.width + x]++;
      }
    }
  });
  let max = 0;
  for (let i = 0; i < sum.length; i++) {
    sum[i] = count[i] ? Math.max(0, sum[i] / count[i]) : 0;
    max = Math.max(max, sum[i]);
  }
  for (let i = 0; i < sum.length; i++) sum[i] = max > 0 ? sum[i] / max : 0;
  return { data: sum, probabilities: probs[0], emotion: label };
}
