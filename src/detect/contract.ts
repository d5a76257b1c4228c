/**
 * The face detector's sidecar (`models/blazeface.json`, written by training/tfjs_to_onnx.py): what the ONNX graph
 * expects and returns. Read by FaceDetector.load; nothing here touches pixels or ONNX Runtime.
 */
import { InvalidModelError } from '../errors.js';

export const KEYPOINT_NAMES = ['rightEye', 'leftEye', 'nose', 'mouth', 'rightEar', 'leftEar'] as const;
export type KeypointName = (typeof KEYPOINT_NAMES)[number];

export interface DetectorSidecar {
  format: 'emolens-model/1';
  name: string;
  task: 'face-detection';
  input: { name: string; layout: 'NCHW'; channels: 3; height: number; width: number; dtype: 'float32'; dynamicBatch: boolean };
  /** x' = (x * scale - mean) / std per RGB channel, x in 0..255. */
  preprocess: { scale: number; mean: [number, number, number]; std: [number, number, number] };
  outputs: {
    /** [N, anchors, 4 + 2 * keypoints]: cx, cy, w, h, then (x, y) per keypoint, input pixels, offsets from the anchor. */
    regressors: { shape: [string, number, number] };
    /** [N, anchors, 1]: score logits. */
    classificators: { shape: [string, number, number] };
  };
  anchors: { inputSize: number; strides: number[]; anchorsPerCell: number[]; offset: number };
  /** Keypoint order of the regressors, the subject's own sides. */
  keypoints: KeypointName[];
  sha256: string;
  provenance?: string;
  license?: string;
}

/** Checks the fields the detector relies on; throws InvalidModelError naming the first bad one. */
export function parseDetectorSidecar(value: unknown, where = 'blazeface.json'): DetectorSidecar {
  const fail = (reason: string): never => { throw new InvalidModelError(where, reason); };
  const s = value as DetectorSidecar;
  if (!s || typeof s !== 'object') fail('sidecar is not a JSON object');
  if (s.task !== 'face-detection') fail(`task is ${JSON.stringify(s.task)}, expected "face-detection"`);
  if (!s.input || s.input.layout !== 'NCHW' || s.input.channels !== 3 || !(s.input.width > 0) || s.input.width !== s.input.height) {
    fail('input must be a square NCHW RGB tensor');
  }
  const p = s.preprocess;
  if (!p || typeof p.scale !== 'number' || p.mean?.length !== 3 || p.std?.length !== 3) fail('preprocess needs scale, mean[3], std[3]');
  const a = s.anchors;
  if (!a || a.inputSize !== s.input.width || !a.strides?.length || a.strides.length !== a.anchorsPerCell?.length) {
    fail('anchors need inputSize (= input width), strides and anchorsPerCell of equal length');
  }
  if (!Array.isArray(s.keypoints) || !s.keypoints.every((k) => (KEYPOINT_NAMES as readonly string[]).includes(k))) {
    fail(`keypoints must name some of ${KEYPOINT_NAMES.join(', ')}`);
  }
  for (const k of ['rightEye', 'leftEye', 'nose', 'mouth'] as const) if (!s.keypoints.includes(k)) fail(`keypoints lack ${k}`);
  const reg = s.outputs?.regressors?.shape;
  if (!reg || reg[2] !== 4 + 2 * s.keypoints.length) fail('outputs.regressors must be [N, anchors, 4 + 2 * keypoints]');
  return s;
}
