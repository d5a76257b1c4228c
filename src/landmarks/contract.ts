/**
 * The 68-point landmark model's sidecar (`models/face-landmarks68.json`, written by training/landmarks68.py): what
 * the ONNX graph expects and returns. Read by LandmarkDetector.load; nothing here touches pixels or ONNX Runtime.
 */
import { InvalidModelError } from '../errors.js';

/** Number of points (iBUG 300-W markup). */
export const LANDMARK_COUNT = 68;

export interface LandmarkSidecar {
  format: 'emolens-model/1';
  name: string;
  task: 'face-landmarks';
  input: { name: string; layout: 'NCHW'; channels: 3; height: number; width: number; dtype: 'float32'; dynamicBatch: boolean };
  /** x' = (x * scale - mean) / std per RGB channel, x in 0..255. */
  preprocess: { scale: number; mean: [number, number, number]; std: [number, number, number] };
  /** [N, 136]: x0, y0, x1, y1, … as fractions of the padded square crop. */
  output: { name: string; shape: [string, number] };
  points: number;
  sha256: string;
  provenance?: string;
  license?: string;
}

/** Checks the fields the landmark stage relies on; throws InvalidModelError naming the first bad one. */
export function parseLandmarkSidecar(value: unknown, where = 'face-landmarks68.json'): LandmarkSidecar {
  const fail = (reason: string): never => { throw new InvalidModelError(where, reason); };
  const s = value as LandmarkSidecar;
  if (!s || typeof s !== 'object') fail('sidecar is not a JSON object');
  if (s.task !== 'face-landmarks') fail(`task is ${JSON.stringify(s.task)}, expected "face-landmarks"`);
  if (!s.input || s.input.layout !== 'NCHW' || s.input.channels !== 3 || !(s.input.width > 0) || s.input.width !== s.input.height) {
    fail('input must be a square NCHW RGB tensor');
  }
  const p = s.preprocess;
  if (!p || typeof p.scale !== 'number' || p.mean?.length !== 3 || p.std?.length !== 3 || p.std.some((v) => !(v > 0))) {
    fail('preprocess needs scale, mean[3], std[3] (std > 0)');
  }
  if (s.points !== LANDMARK_COUNT || s.output?.shape?.[1] !== 2 * LANDMARK_COUNT) fail(`output must be [N, ${2 * LANDMARK_COUNT}] (${LANDMARK_COUNT} points)`);
  return s;
}
