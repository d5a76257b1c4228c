/**
 * What the sidecars of the RGB image models (the face detector, the 68-point landmark net) share: a square NCHW RGB
 * float input and a per-channel normalisation. Each stage's contract.ts adds its own outputs on top.
 */
import { InvalidModelError } from './errors.js';

export interface RgbModelSidecar<Task extends string> {
  format: 'emolens-model/1';
  name: string;
  task: Task;
  input: { name: string; layout: 'NCHW'; channels: 3; height: number; width: number; dtype: 'float32'; dynamicBatch: boolean };
  /** x' = (x * scale - mean) / std per RGB channel, x in 0..255. */
  preprocess: { scale: number; mean: [number, number, number]; std: [number, number, number] };
  sha256: string;
  provenance?: string;
  license?: string;
}

/**
 * Checks the shared fields (an object of `task`, a square NCHW RGB input, scale, mean[3] and std[3] > 0) and returns
 * the sidecar with a `fail` that throws InvalidModelError for `where`, for the stage's own checks.
 */
export function checkRgbModelSidecar<S extends RgbModelSidecar<string>>(value: unknown, task: S['task'], where: string): { s: S; fail: (reason: string) => never } {
  const fail = (reason: string): never => { throw new InvalidModelError(where, reason); };
  const s = value as S;
  if (!s || typeof s !== 'object') fail('sidecar is not a JSON object');
  if (s.task !== task) fail(`task is ${JSON.stringify(s.task)}, expected ${JSON.stringify(task)}`);
  if (!s.input || s.input.layout !== 'NCHW' || s.input.channels !== 3 || !(s.input.width > 0) || s.input.width !== s.input.height) {
    fail('input must be a square NCHW RGB tensor');
  }
  const p = s.preprocess;
  if (!p || typeof p.scale !== 'number' || p.mean?.length !== 3 || p.std?.length !== 3 || p.std.some((v) => !(v > 0))) {
    fail('preprocess needs scale, mean[3], std[3] (std > 0)');
  }
  return { s, fail };
}
