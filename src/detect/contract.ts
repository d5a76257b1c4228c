/**
 * The face detector's sidecar (`models/blazeface.json`, written by training/convert/tfjs_to_onnx.py): what the ONNX graph
 * expects and returns. Read by FaceDetector.load; nothing here touches pixels or ONNX Runtime.
 */
import { checkRgbModelSidecar, type RgbModelSidecar } from '../rgb-sidecar.js';

export const KEYPOINT_NAMES = ['rightEye', 'leftEye', 'nose', 'mouth', 'rightEar', 'leftEar'] as const;
export type KeypointName = (typeof KEYPOINT_NAMES)[number];

export interface DetectorSidecar extends RgbModelSidecar<'face-detection'> {
  /**
   * sizeMultiple: a larger input's height and width must be multiples of it (the network's total downsampling,
   * which is more than the coarsest anchor stride where a network upsamples back to a fine grid, as the full-range
   * model does); default the coarsest anchor stride.
   */
  input: RgbModelSidecar<'face-detection'>['input'] & { sizeMultiple?: number };
  outputs: {
    /** [N, anchors, 4 + 2 * keypoints]: cx, cy, w, h, then (x, y) per keypoint, input pixels, offsets from the anchor. */
    regressors: { shape: [string, number, number] };
    /** [N, anchors, 1]: score logits. */
    classificators: { shape: [string, number, number] };
  };
  anchors: { inputSize: number; strides: number[]; anchorsPerCell: number[]; offset: number };
  /** Keypoint order of the regressors, the subject's own sides. */
  keypoints: KeypointName[];
}

/** Checks the fields the detector relies on; throws InvalidModelError naming the first bad one. */
export function parseDetectorSidecar(value: unknown, where = 'blazeface.json'): DetectorSidecar {
  const { s, fail } = checkRgbModelSidecar<DetectorSidecar>(value, 'face-detection', where);
  const a = s.anchors;
  if (!a || a.inputSize !== s.input.width || !a.strides?.length || a.strides.length !== a.anchorsPerCell?.length) {
    fail('anchors need inputSize (= input width), strides and anchorsPerCell of equal length');
  }
  const multiple = s.input.sizeMultiple;
  if (multiple !== undefined && !(Number.isInteger(multiple) && multiple > 0 && multiple % Math.max(...a.strides) === 0)) {
    fail('input.sizeMultiple must be a positive multiple of the coarsest anchor stride');
  }
  if (!Array.isArray(s.keypoints) || !s.keypoints.every((k) => (KEYPOINT_NAMES as readonly string[]).includes(k))) {
    fail(`keypoints must name some of ${KEYPOINT_NAMES.join(', ')}`);
  }
  for (const k of ['rightEye', 'leftEye', 'nose', 'mouth'] as const) if (!s.keypoints.includes(k)) fail(`keypoints lack ${k}`);
  const reg = s.outputs?.regressors?.shape;
  if (!reg || reg[2] !== 4 + 2 * s.keypoints.length) fail('outputs.regressors must be [N, anchors, 4 + 2 * keypoints]');
  return s;
}
