/** Messages between the page (analyzer-client.ts) and the analysis Web Worker (worker.ts). */
import type { AnalyzeOptions } from '../analyzer.js';
import type { EmotionProbabilities } from '../labels.js';
import type { ModelUrls } from '../env/models.js';
import type { Affine } from '../align/index.js';
import type { SaliencyMap } from '../explain/index.js';
import type { AnalysisResult, DetectedFace } from '../types.js';

/** A face's saliency map (over its aligned crop) and the crop → image transform that draws it over the face. */
export interface FaceSaliency extends SaliencyMap {
  cropToImage: Affine;
}

export type { ModelUrls } from '../env/models.js';

/**
 * What /config.json (written by the server) tells the page. `emotion` reads snapshots and images; `live` reads the
 * live view and video files (the same URLs when one model does both: the worker then loads it once).
 */
export interface ServerConfig {
  models: { detector: ModelUrls; emotion: ModelUrls; live: ModelUrls };
  /** Set when the live model asked for is missing, so `live` is `emotion`: why, for the page's notice. */
  liveFallback?: string;
}

export interface BackendInfo {
  /** Execution provider actually used: 'webgpu' or 'wasm'. */
  executionProvider: 'webgpu' | 'wasm';
  /** wasm threads (1 unless the page is cross-origin isolated; see src/env/browser.ts). */
  threads: number;
  simd: boolean;
  /** The model of snapshots and images. */
  emotionModel: string;
  /** Validation accuracy from the emotion sidecar, if it has one. */
  emotionAccuracy?: number;
  /** The model of the live view and video files (emotionModel when one model does both). */
  liveModel: string;
  liveAccuracy?: number;
  /** Why the live view fell back to emotionModel (the live model is missing or failed to load); else absent. */
  liveFallback?: string;
}

export type WorkerRequest =
  | {
    type: 'init';
    models: ServerConfig['models'];
    /** ServerConfig.liveFallback, passed on to BackendInfo. */
    liveFallback?: string;
    /** absolute URL of the folder with ort-wasm-*.mjs/.wasm */
    wasmPaths: string;
    preferWebGpu: boolean;
    /** wasm threads to ask for (the page's `?threads=` parameter); default: see src/env/browser.ts */
    threads?: number;
  }
  /** Snapshots and uploads: every face, detected and classified. */
  | { type: 'analyze'; id: number; frame: ImageBitmap; options?: AnalyzeOptions }
  /**
   * Live frames, step 1: faces only. The worker keeps this frame's pixels for the `classify` that follows. With
   * `stream`, track, then detect (src/track/frames.ts StreamDetector): frames of one stream (a camera session, a
   * video file) share its id and come in order, `tMs` their times; a new id starts over.
   */
  | { type: 'detect'; id: number; frame: ImageBitmap; options?: AnalyzeOptions; stream?: { id: number; tMs: number } }
  /** Live frames, step 2: emotions of some of the faces `detect` request `frameId` found, read by the live model. */
  | { type: 'classify'; id: number; frameId: number; faces: DetectedFace[] };

/** `phase` says which step failed, so the page can pick the right message. */
export type WorkerErrorPhase = 'model' | 'runtime' | 'analyze';

export type WorkerResponse =
  | { type: 'progress'; message: string }
  | { type: 'ready'; backend: BackendInfo; loadMs: number }
  /**
   * `model`: the emotion model that read the faces (`result`: the full model; `emotions`: the live model).
   * `saliency`: one Grad-CAM map per face, when the model has its outputs (sidecar explain.gradcam); else absent.
   */
  | { type: 'result'; id: number; result: AnalysisResult; model: string; ms: number; saliency?: FaceSaliency[] }
  | { type: 'faces'; id: number; width: number; height: number; faces: DetectedFace[]; ms: number; detection: 'full' | 'follow' }
  | { type: 'emotions'; id: number; emotions: EmotionProbabilities[]; model: string; ms: number }
  | { type: 'error'; id?: number; phase: WorkerErrorPhase; message: string };
