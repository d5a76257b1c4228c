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

/** One face in a video frame: the tracker's smoothed values. */
export interface VideoFace {
  /** Stable while the tracker keeps the face (docs/video.md: a face lost for over 1.5 s comes back with a new id). */
  id: number;
  box: Box;
  score: number;
  /** Smoothed probabilities. */
  emotions: EmotionProbabilities;
  /** The smoothed label (with hysteresis): what the live view shows. */
  dominant: Emotion;
}

/** A moment of the video with its faces (a decoded frame, or a per-second sample). */
export interface VideoMoment {
  /** Seconds from the start of the video. */
  t: number;
  faces: VideoFace[];
}

/** What one tracked face adds up to over a video (src/aggregate/tracks.ts). */
export interface TrackSummary {
  id: number;
  /** First and last time (s) the face was in the results. */
  from: number;
  to: number;
  /** Frames the face was in. */
  frames: number;
  /** The label the face held for the most frames (ties: the emotion listed first). */
  dominant: Emotion;
  /** Mean of its smoothed probabilities over those frames. */
  meanEmotions: EmotionProbabilities;
}

/** One bin of a reliability diagram (src/eval/calibration.ts; a sidecar's `metrics.val`). `confidence` and `accuracy` are null for an empty bin. */
export interface ReliabilityBin {
  /** Lower (exclusive, except the first bin) and upper (inclusive) confidence bounds. */
  lo: number;
  hi: number;
  count: number;
  /** Mean top-1 confidence of the faces in the bin. */
  confidence: number | null;
  /** Share of the faces in the bin whose top-1 class is the label. */
  accuracy: number | null;
}
