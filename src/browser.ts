/**
 * emolens in the browser (`import … from 'emolens/browser'`): the same pipeline core as Node (`createAnalyzerCore`)
 * with the browser env (onnxruntime-web, models fetched by URL, frames decoded on an OffscreenCanvas), labels, types
 * and errors. Imports nothing Node-only — no onnxruntime-node, no sharp, no `node:` module; test/browser-entry.test.ts
 * checks the whole import graph and loads this file in Chromium.
 *
 * @example
 * import { browserEnv, createAnalyzerCore, modelUrls, validateEmotionSidecar } from 'emolens/browser';
 *
 * const env = browserEnv({ wasmPaths: '/ort/' });            // where you serve onnxruntime-web's .wasm files
 * const [detector, emotion] = await Promise.all([
 *   env.loadModel(modelUrls('blazeface'), 'face-detection'),
 *   env.loadModel(modelUrls('emolens-fer'), 'emotion'),
 * ]);
 * const analyzer = await createAnalyzerCore({
 *   ort: await env.loadRuntime(),
 *   detector: { bytes: detector.bytes, sidecar: detector.sidecar as DetectorSidecar },
 *   emotion: { bytes: emotion.bytes, sidecar: validateEmotionSidecar(emotion.sidecar, 'emolens-fer.json') },
 * });
 * const { faces } = await analyzer.analyze(await env.decodeImage(await createImageBitmap(img)));
 */
export { createAnalyzerCore } from './analyzer.js';
export type { AnalyzeOptions, Analyzer, AnalyzerModels, AnalyzerOptions, DetectorOptions, DetectorSidecar } from './analyzer.js';
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
export type { OrtModule, SessionOptions } from './engine/index.js';
export {
  browserEnv, fetchModel, frameDecoder, loadBrowserRuntime,
  type BrowserEnv, type BrowserRuntime, type BrowserRuntimeOptions,
} from './env/browser.js';
export { DEFAULT_DETECTOR_MODEL, DEFAULT_EMOTION_MODEL, DEFAULT_LANDMARK_MODEL, modelUrls, type ModelUrls } from './env/models.js';
export type { EmolensEnv, ModelFiles, ModelTask } from './env/types.js';
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
