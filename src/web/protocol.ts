/** Messages between the page (analyzer-client.ts) and the analysis Web Worker (worker.ts). */
import type { AnalyzeOptions } from '../analyzer.js';
import type { AnalysisResult } from '../types.js';

export interface ModelUrls {
  onnx: string;
  sidecar: string;
}

/** What /config.json (written by the server) tells the page. */
export interface ServerConfig {
  models: { detector: ModelUrls; emotion: ModelUrls };
}

export interface BackendInfo {
  /** Execution provider actually used: 'webgpu' or 'wasm'. */
  executionProvider: 'webgpu' | 'wasm';
  /** wasm threads (1 unless the page is cross-origin isolated and the machine has cores to spare). */
  threads: number;
  simd: boolean;
  emotionModel: string;
  /** Validation accuracy from the emotion sidecar, if it has one. */
  emotionAccuracy?: number;
}

export type WorkerRequest =
  | { type: 'init'; models: ServerConfig['models']; /** absolute URL of the folder with ort-wasm-*.mjs/.wasm */ wasmPaths: string; preferWebGpu: boolean }
  | { type: 'analyze'; id: number; frame: ImageBitmap; options?: AnalyzeOptions };

/** `phase` says which step failed, so the page can pick the right message. */
export type WorkerErrorPhase = 'model' | 'runtime' | 'analyze';

export type WorkerResponse =
  | { type: 'progress'; message: string }
  | { type: 'ready'; backend: BackendInfo; loadMs: number }
  | { type: 'result'; id: number; result: AnalysisResult; ms: number }
  | { type: 'error'; id?: number; phase: WorkerErrorPhase; message: string };
