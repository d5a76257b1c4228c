/**
 * The model contract: `models/<name>.onnx` + `models/<name>.json` (this sidecar).
 * Written by training/export.py, read by Node, the browser and `emolens eval`. Documented in docs/model-contract.md.
 */
import type { Emotion } from '../labels.js';
import type { ReliabilityBin } from '../types.js';

/** The version export.py writes. /2 added the optional `explain` block; readers accept every version below. */
export const CONTRACT_FORMAT = 'emolens-model/2';
export const READABLE_CONTRACT_FORMATS = ['emolens-model/1', 'emolens-model/2'] as const;
export type ContractFormat = (typeof READABLE_CONTRACT_FORMATS)[number];

/** A float32 tensor in a sidecar: its shape and little-endian bytes in base64 (exact, compact). */
export interface Float32Json { dtype: 'float32'; shape: number[]; base64: string }

/**
 * What exact Grad-CAM needs (contract /2, written by training/explain/gradcam_outputs.py; docs/explain.md): the graph outputs
 * holding each branch's last ReLU activations [N, K, H, W], which of them saw the mirrored input, and the linear head
 * [classes, 2K] that reads their spatial mean (first K) and max (last K).
 */
export interface GradCamSpec {
  pooling: 'mean+max';
  /** The class score explained: the head's logit (before softmax). */
  score: 'logit';
  /** Input pixels per activation cell (the product of the branch's pooling strides), e.g. 8. */
  stride: number;
  branches: Array<{ output: string; hflip: boolean; head: number }>;
  /** weight [classes, 2K] rows in `labels` order, bias [classes]. */
  heads: Array<{ weight: Float32Json; bias: Float32Json }>;
}

export interface PerClassMetrics { precision: number; recall: number; f1: number; support: number }

/** What `emolens eval` and training/metrics.py compute: the same names and shape on both sides. */
export interface ClassificationMetrics {
  n: number;
  accuracy: number;
  macroF1: number;
  perClass: Record<string, PerClassMetrics>;
  /** matrix[trueIndex][predictedIndex] = count; rows and columns in `labels` order. */
  confusionMatrix: { labels: string[]; matrix: number[][] };
}

export interface EvalMetrics extends ClassificationMetrics {
  split: string;            // "val" (FER2013 PublicTest) for shipped models
  /** Expected calibration error of top-1 confidence, 15 bins (src/eval/calibration.ts); absent in older sidecars. */
  ece?: number;
  /** The reliability diagram's bins behind `ece`; absent in older sidecars. */
  reliability?: ReliabilityBin[];
  /** The same predictions against the FER+ raters (src/eval/ferplus.ts); absent in sidecars before model v4. */
  ferplus?: {
    votes?: string;
    matched: number;
    majority: ClassificationMetrics & { ece: number; reliability: ReliabilityBin[] };
    distribution: { n: number; crossEntropy: number; kl: number; ece: number; raterAgreement: number };
  };
}

export interface EmotionModelSidecar {
  format: ContractFormat;
  name: string;
  task: 'emotion';
  /** Output order of the model. */
  labels: Emotion[];
  input: {
    name: string;
    layout: 'NCHW';
    channels: 1 | 3;
    height: number;        // e.g. 44
    width: number;
    dtype: 'float32';
    dynamicBatch: true;
  };
  output: { name: string; kind: 'probabilities' | 'logits' };
  preprocess: {
    /** How the face is cut from a photo before anything else (align/). */
    faceCrop: {
      policy: 'fer2013';   // eye-line levelled, framed like FER2013 (forehead to chin)
      size: number;        // side of the square face crop in px, e.g. 48
      /** Eye centres' mean height and inter-ocular distance as fractions of `size`. */
      eyeY: number;
      eyeDistance: number;
    };
    grayscale: { weights: [number, number, number] } | null;  // RGB -> luma weights
    equalize: boolean;     // histogram equalization of the face crop
    /** Centre crop of `faceCrop.size` fed to the net (= input.height). */
    centerCrop: number;
    /** x' = (x * scale - mean) / std, per channel. */
    scale: number;
    mean: number[];
    std: number[];
  };
  /** Test-time augmentation. `inGraph: true` means the ONNX graph already does it: callers do nothing. */
  tta: { hflip: boolean; inGraph: boolean };
  /** Contract /2: what saliency needs beyond the probabilities. Absent: `emolens explain` uses occlusion only. */
  explain?: { gradcam?: GradCamSpec };
  metrics: { val?: EvalMetrics } & Record<string, EvalMetrics | undefined>;
  training: Record<string, unknown> & { arch: string; history?: Array<Record<string, unknown>> };
  parameters: number;
  macs: number;
  sha256: string;           // of the .onnx file
  provenance?: string;
  license?: string;
}
