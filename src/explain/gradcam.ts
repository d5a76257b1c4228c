/**
 * Exact Grad-CAM without gradients from the runtime. The model (contract /2, sidecar explain.gradcam) returns each
 * branch's last ReLU activations A [K, H, W]; its head is  logit_c = W[c, :K]·mean(A) + W[c, K:]·max(A) + b_c. So
 * ∂logit_c/∂A[k, i, j] = W[c,k]/(H·W) + W[c,K+k]·[(i,j) is channel k's argmax], whose spatial mean — Grad-CAM's
 * channel weight — is α_k = (W[c,k] + W[c,K+k]) / (H·W), whatever the argmax. The coarse map of a branch is
 * Σ_k α_k A[k]; each is upsampled to the net input bilinearly (cell centres every `stride` px), a mirrored branch is
 * flipped back, the branches are averaged (the gradient of their mean logit), then ReLU and scaled to [0, 1].
 * Browser-safe, pure. docs/explain.md says how to read the result.
 */
import type { Float32Json, GradCamSpec } from '../classify/contract.js';

/** Decode a sidecar float32 tensor (little-endian base64). */
export function decodeFloat32(t: Float32Json): Float32Array {
  const binary = atob(t.base64);
  const count = t.shape.reduce((a, b) => a * b, 1);
  if (binary.length !== count * 4) throw new Error(`float32 tensor [${t.shape.join(', ')}] needs ${count * 4} bytes, got ${binary.length}`);
  const view = new DataView(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) view.setUint8(i, binary.charCodeAt(i));
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

const headCache = new WeakMap<GradCamSpec, Float32Array[]>();

function headWeights(spec: GradCamSpec): Float32Array[] {
  let heads = headCache.get(spec);
  if (!heads) {
    heads = spec.heads.map((h) => decodeFloat32(h.weight));
    headCache.set(spec, heads);
  }
  return heads;
}

/** One branch's activations for one face: data [K·H·W], dims [1, K, H, W] (or [K, H, W]). */
export interface BranchActivations { data: Float32Array; dims: readonly number[] }

/**
 * Grad-CAM's coarse map (H × W, before ReLU) of one branch for the head row `column` (the class's index in the
 * sidecar's labels).
 */
export function coarseGradCam(spec: GradCamSpec, branch: number, activations: BranchActivations, column: number): { width: number; height: number; data: Float32Array } {
  const dims = activations.dims.slice(-3);
  const [channels, height, width] = dims;
  const weight = headWeights(spec)[spec.branches[branch].head];
  const twoK = weight.length / spec.heads[spec.branches[branch].head].weight.shape[0];
  if (twoK !== 2 * channels) throw new Error(`Grad-CAM branch ${branch}: head reads ${twoK / 2} channels, activations have ${channels}`);
  const cells = height * width;
  const out = new Float32Array(cells);
  const row = column * twoK;
  for (let k = 0; k < channels; k++) {
    const alpha = (weight[row + k] + weight[row + channels + k]) / cells;
    if (alpha === 0) continue;
    const base = k * cells;
    for (let i = 0; i < cells; i++) out[i] += alpha * activations.data[base + i];
  }
  return { width, height, data: out };
}

/**
 * Bilinear upsampling of a coarse map to `size` × `size` input pixels: cell (i, j) is centred on input pixel
 * ((j + 0.5)·stride − 0.5, (i + 0.5)·stride − 0.5); beyond the outer cell centres the edge value holds.
 */
export function upsampleCells(coarse: { width: number; height: number; data: Float32Array }, stride: number, size: number, hflip = false): Float32Array {
  const out = new Float32Array(size * size);
  const { width, height, data } = coarse;
  const axis = (p: number, cells: number) => {
    const u = Math.min(Math.max((p + 0.5) / stride - 0.5, 0), cells - 1);
    const i0 = Math.floor(u);
    const i1 = Math.min(i0 + 1, cells - 1);
    return [i0, i1, u - i0] as const;
  };
  for (let y = 0; y < size; y++) {
    const [y0, y1, fy] = axis(y, height);
    for (let x = 0; x < size; x++) {
      const [x0, x1, fx] = axis(x, width);
      const top = data[y0 * width + x0] * (1 - fx) + data[y0 * width + x1] * fx;
      const bottom = data[y1 * width + x0] * (1 - fx) + data[y1 * width + x1] * fx;
      // A mirrored branch saw column x at size − 1 − x: write it back where it came from.
      out[y * size + (hflip ? size - 1 - x : x)] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/**
 * The Grad-CAM map over the net input (`inputSize` square): branches' upsampled coarse maps averaged, ReLU, divided
 * by the maximum (all zeros when nothing in the face raises the class's logit).
 */
export function gradCamInputMap(spec: GradCamSpec, activations: BranchActivations[], column: number, inputSize: number): Float32Array {
  if (activations.length !== spec.branches.length) throw new Error(`Grad-CAM needs ${spec.branches.length} branch outputs, got ${activations.length}`);
  const sum = new Float32Array(inputSize * inputSize);
  spec.branches.forEach((branch, b) => {
    const up = upsampleCells(coarseGradCam(spec, b, activations[b], column), spec.stride, inputSize, branch.hflip);
    for (let i = 0; i < sum.length; i++) sum[i] += up[i] / spec.branches.length;
  });
  return scaleToUnit(sum);
}

/** ReLU, then divide by the maximum; in place. */
export function scaleToUnit(values: Float32Array): Float32Array {
  let max = 0;
  for (let i = 0; i < values.length; i++) max = Math.max(max, values[i]);
  for (let i = 0; i < values.length; i++) values[i] = max > 0 ? Math.max(0, values[i]) / max : 0;
  return values;
}
