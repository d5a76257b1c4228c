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
 * Browser code imports the core (`createAnalyzerCore` from 'emolens/dist/analyzer.js') and passes onnxruntime-web.
 */
export { analyze, createAnalyzer } from './node.js';
export type { AnalysisWithImage, AnalyzeInputOptions, CreateAnalyzerOptions, ImageInput, NodeAnalyzer } from './node.js';
export { analyzeVideo, DEFAULT_VIDEO_FPS, FfmpegNotFoundError, InvalidVideoError, VideoInterruptedError, VideoTooLargeError } from './video/index.js';
export type { AnalyzeVideoOptions, TrackSummary, VideoAnalysis, VideoFace, VideoFrameResult, VideoInfo, VideoSummary } from './video/index.js';
export { createAnalyzerCore } from './analyzer.js';
export type { AnalyzeOptions, Analyzer, AnalyzerModels, AnalyzerOptions, DetectorOptions, DetectorSidecar } from './analyzer.js';
export { alignFace, cropToImageTransform, type FaceCropGeometry, type AlignOptions } from './align/index.js';
export { EmotionClassifier, validateEmotionSidecar, type ClassifierOptions } from './classify/index.js';
export { CONTRACT_FORMAT, type EmotionModelSidecar, type EvalMetrics } from './classify/contract.js';
export { bundledModelNames, DEFAULT_EMOTION_MODEL, loadDetectorModel, loadEmotionModel } from './classify/node.js';
export { decodeImage, DEFAULT_MAX_PIXELS, type DecodeOptions, type DecodedImage } from './image/decode.js';
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
