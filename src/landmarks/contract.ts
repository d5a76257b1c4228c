/**
 * The 68-point landmark model's sidecar (`models/face-landmarks68.json`, written by training/convert/landmarks68.py): what
 * the ONNX graph expects and returns. Read by LandmarkDetector.load; nothing here touches pixels or ONNX Runtime.
 */
import { checkRgbModelSidecar, type RgbModelSidecar } from '../rgb-sidecar.js';

/** Number of points (iBUG 300-W markup). */
export const LANDMARK_COUNT = 68;

export interface LandmarkSidecar extends RgbModelSidecar<'face-landmarks'> {
  /** [N, 136]: x0, y0, x1, y1, … as fractions of the padded square crop. */
  output: { name: string; shape: [string, number] };
  points: number;
}

/** Checks the fields the landmark stage relies on; throws InvalidModelError naming the first bad one. */
export function parseLandmarkSidecar(value: unknown, where = 'face-landmarks68.json'): LandmarkSidecar {
  const { s, fail } = checkRgbModelSidecar<LandmarkSidecar>(value, 'face-landmarks', where);
  if (s.points !== LANDMARK_COUNT || s.output?.shape?.[1] !== 2 * LANDMARK_COUNT) fail(`output must be [N, ${2 * LANDMARK_COUNT}] (${LANDMARK_COUNT} points)`);
  return s;
}
