/**
 * The part of the public API that is the same in Node and the browser: the analyzer core, the pipeline stages that
 * run on any ONNX Runtime, the model contract, labels, result types and errors. Both entries re-export it
 * (src/index.ts for Node, src/browser.ts for the browser), so it must stay browser-safe: nothing here may import
 * onnxruntime-node, sharp or a Node built-in (test/browser-entry.test.ts walks the browser entry's imports).
 */
export { createAnalyzerCore, createEmotionStage } from './analyzer.js';
export type { AnalyzeOptions, Analyzer, AnalyzerModels, AnalyzerOptions, DetectorOptions, DetectorSidecar, EmotionStage } from './analyzer.js';
export { alignFace, cropToImageTransform, type AlignOptions, type FaceCropGeometry } from './align/index.js';
export {
  explainCrops, heatColor, heatmapRgba, overlayRgba, resolveMethod, SALIENCY_METHODS, supportsGradCam,
  type ExplainOptions, type FaceExplanation, type SaliencyMap, type SaliencyMethod,
} from './explain/index.js';
export { EmotionClassifier, validateEmotionSidecar, type ClassifierOptions } from './classify/index.js';
export {
  EV_FEATURES, EV_MIRROR, expressionalVector, faceOutline, interOcularDistance, LandmarkDetector, maskOutside, mirrorPoints,
  parseLandmarkSidecar, type EvFeature, type LandmarkOptions, type LandmarkSidecar,
} from './landmarks/index.js';
export { CONTRACT_FORMAT, type EmotionModelSidecar, type EvalMetrics } from './classify/contract.js';
export type { EmolensEnv, ModelTask } from './env/types.js';
export { dominantEmotion, EMOTIONS, isEmotion, toEmotionProbabilities, type Emotion, type EmotionProbabilities } from './labels.js';
export type { AnalysisResult, Box, DetectedFace, FaceResult, GrayImage, Landmarks, Point, RgbaImage } from './types.js';
export {
  DatasetError,
  EmolensError,
  ImageTooLargeError,
  InputNotFoundError,
  InvalidImageError,
  InvalidModelError,
  ModelNotFoundError,
  SidecarMissingError,
  UsageError,
} from './errors.js';
