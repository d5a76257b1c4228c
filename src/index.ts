/**
 * emolens — facial emotion recognition on ONNX Runtime.
 *
 * @example
 * import { analyze, createAnalyzer, EMOTIONS } from 'emolens';
 *
 * // One image:
 * const { faces } = await analyze('group.jpg');
 * for (const face of faces) console.log(face.box, face.dominant, face.emotions);
 *
 * // Many images: load the models once.
 * const analyzer = await createAnalyzer({ model: 'emolens-fer', threads: 2 });
 * const result = await analyzer.analyze(await fs.readFile('selfie.webp'));
 * await analyzer.dispose();
 *
 * This entry is Node-only (onnxruntime-node, sharp). Browser code imports 'emolens/browser' (src/browser.ts): the same
 * `createAnalyzerCore` with `browserEnv()` (onnxruntime-web, models by URL), and nothing Node-only.
 */
export * from './core.js';
export { analyze, createAnalyzer } from './node.js';
export type { AnalysisWithImage, AnalyzeInputOptions, CreateAnalyzerOptions, ImageInput, NodeAnalyzer } from './node.js';
export { analyzeVideo, DEFAULT_VIDEO_FPS, FfmpegNotFoundError, InvalidVideoError, VideoInterruptedError, VideoTooLargeError } from './video/index.js';
export type { AnalyzeVideoOptions, TrackSummary, VideoAnalysis, VideoFace, VideoFrameResult, VideoInfo, VideoSummary } from './video/index.js';
export { analyzeFrames, FrameTracking, type AnalyzeFramesOptions, type Frame, type FrameResult, type TrackedFace, type TrackedFrame } from './track/frames.js';
export { DEFAULT_SMOOTHING, FaceTracker, type SmoothingOptions, type Track } from './track/tracker.js';
export { ClassifyBudget, DEFAULT_CLASSIFY_BUDGET, type ClassifyBudgetOptions } from './track/budget.js';
export { groupMood, type GroupMood } from './aggregate/mood.js';
export { CSV_HEADER, csvRows, faceJson, serializeFace, type FaceJson } from './result/image.js';
export { EMOTION_COLORS } from './report/palette.js';
export {
  bundledModelNames, DEFAULT_DETECTOR_MODEL, DEFAULT_EMOTION_MODEL, DEFAULT_LANDMARK_MODEL, DEFAULT_LIVE_MODEL, loadDetectorModel, loadEmotionModel,
  loadLandmarkModel, loadNodeRuntime, nodeEnv, SHIPPED_EMOTION_MODELS,
  type ModelFiles, type NodeEnv, type NodeImageSource,
} from './env/node.js';
export { decodeImage, DEFAULT_MAX_PIXELS, type DecodeOptions, type DecodedImage } from './image/decode.js';
export { evaluate, evaluateWithSidecar, type EvalOptions, type EvalResult } from './eval/evaluate.js';
export { classificationMetrics, ConfusionMatrix, metricsFromConfusion, type ClassificationMetrics, type PerClassMetrics } from './eval/metrics.js';
export { CALIBRATION_BINS, CalibrationBins, calibrationMetrics, type CalibrationMetrics } from './eval/calibration.js';
export type { ReliabilityBin } from './types.js';
