import type { Emotion, EmotionProbabilities } from './labels.js';

/** Decoded pixels, RGBA, row-major, 4 bytes per pixel. The one image type the pipeline core sees. */
export interface RgbaImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

/** Single-channel pixels (0..255), row-major. */
export interface GrayImage {
  data: Uint8Array | Float32Array;
  width: number;
  height: number;
}

export interface Point { x: number; y: number }
export interface Box { x: number; y: number; width: number; height: number }

/** Face landmarks in image pixels. Eyes are the subject's own (rightEye is on the image's left). */
export interface Landmarks {
  rightEye: Point;
  leftEye: Point;
  nose: Point;
  mouth: Point;
  rightEar?: Point;
  leftEar?: Point;
}

/** What a detector returns for one face. */
export interface DetectedFace {
  box: Box;
  score: number;
  landmarks: Landmarks;
}

/** One analysed face: detection + emotions. */
export interface FaceResult extends DetectedFace {
  emotions: EmotionProbabilities;
  dominant: Emotion;
  /** The 68 iBUG 300-W points (image px), when the analyzer was asked for them (`landmarks68`). */
  landmarks68?: Point[];
  /** FERC's 24-value expressional vector (src/landmarks/ev.ts, EV_FEATURES order), when asked for (`ev`). */
  ev?: number[];
}

export interface AnalysisResult {
  width: number;
  height: number;
  faces: FaceResult[];
}
