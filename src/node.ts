/**
 * The Node entry point: the pipeline core (src/analyzer.ts) on the Node env (src/env/node.ts: onnxruntime-node, model
 * files from `models/`, images decoded with sharp), behind `createAnalyzer()` / `analyze()`. The browser's entry is
 * src/browser.ts (`emolens/browser`).
 */
import { createAnalyzerCore, type AnalyzeOptions, type Analyzer, type AnalyzerOptions, type DetectorSidecar } from './analyzer.js';
import type { EmotionModelSidecar } from './classify/contract.js';
import { lumaWeights } from './classify/index.js';
import { DEFAULT_DETECTOR_MODEL, DEFAULT_EMOTION_MODEL, loadDetectorModel, loadEmotionModel, loadLandmarkModel, loadNodeRuntime, type NodeImageSource } from './env/node.js';
import { UsageError } from './errors.js';
import { decodeFaceCrop, decodeImage, DEFAULT_MAX_PIXELS, type DecodedImage } from './image/decode.js';
import type { ExplainOptions, FaceExplanation, SaliencyMap } from './explain/index.js';
import type { EmotionProbabilities } from './labels.js';
import type { AnalysisResult, Box, DetectedFace, FaceResult, GrayImage, RgbaImage } from './types.js';

/** What `analyze()` accepts: a file path, an encoded image (JPEG, PNG, WebP, GIF, …) or decoded RGBA pixels. */
export type ImageInput = NodeImageSource;

export interface CreateAnalyzerOptions extends AnalyzerOptions {
  /** Emotion model: a bundled name (default "emolens-fer") or a path to an .onnx file with its .json beside it. */
  model?: string;
  /** Face detector model: bundled name or .onnx path (default "blazeface"). */
  detectorModel?: string;
  /** 68-point landmark model for `landmarks68` / `ev`: bundled name or .onnx path (default "face-landmarks68"). */
  landmarkModel?: string;
  /** ONNX Runtime intra-op threads per model (default: ORT's choice, usually all cores). */
  threads?: number;
  /** Refuse images over this many pixels, checked before decoding (default 50,000,000). */
  maxPixels?: number;
}

export interface AnalyzeInputOptions extends AnalyzeOptions {
  /** Overrides the analyzer's `maxPixels` for this call. */
  maxPixels?: number;
}

/** An image's analysis plus the decoded pixels (so callers can draw on them without decoding twice). */
export interface AnalysisWithImage extends AnalysisResult {
  image: DecodedImage;
}

/** An image's analysis with each face's saliency map, and the aligned crops the maps are over (for drawing). */
export interface ExplanationWithImage extends AnalysisWithImage {
  faces: Array<FaceResult & { saliency: SaliencyMap }>;
  crops: GrayImage[];
}

export interface NodeAnalyzer {
  /** The emotion model's sidecar: labels, crop geometry, validation metrics. */
  readonly emotionModel: EmotionModelSidecar;
  /** Faces, landmarks and 7 emotion probabilities for one image. */
  analyze(input: ImageInput, options?: AnalyzeInputOptions): Promise<AnalysisResult>;
  /** Like `analyze`, but also returns the decoded image. */
  analyzeWithImage(input: ImageInput, options?: AnalyzeInputOptions): Promise<AnalysisWithImage>;
  /**
   * Emotions of one face that is already cropped: a gray crop (0..255, any size; resized to the model's crop size)
   * or a face photo (path/buffer), e.g. a FER2013 48x48 JPEG. No detection or alignment is done.
   */
  classifyFace(crop: GrayImage | string | Buffer): Promise<EmotionProbabilities>;
  /** Batched `classifyFace` for gray crops (one ONNX Runtime call). */
  classifyCrops(crops: GrayImage[]): Promise<EmotionProbabilities[]>;
  /** Decode an input the way `analyze` does (EXIF orientation applied, pixel limit checked before decoding). */
  decode(input: ImageInput, options?: { maxPixels?: number }): Promise<DecodedImage>;
  /** Faces and landmarks only (no emotions): the first half of `analyze`, for callers that classify selectively. */
  detect(image: RgbaImage, options?: AnalyzeOptions): Promise<DetectedFace[]>;
  /** Faces of an earlier frame followed into `image` (undefined: gone); see the core Analyzer's `follow`. */
  follow(image: RgbaImage, boxes: readonly Box[], options?: AnalyzeOptions): Promise<(DetectedFace | undefined)[]>;
  /** Emotions of faces `detect()` found in `image` (any subset), aligned from their landmarks; one batch. */
  classifyFaces(image: RgbaImage, faces: readonly DetectedFace[]): Promise<EmotionProbabilities[]>;
  /** The aligned gray crop the classifier sees for a detected face. */
  alignFace(image: RgbaImage, face: DetectedFace): GrayImage;
  /** Emotions and a saliency map over each aligned crop (Grad-CAM or occlusion; docs/explain.md). */
  explainCrops(crops: GrayImage[], options?: ExplainOptions): Promise<FaceExplanation[]>;
  /** `analyzeWithImage`, then each face's emotions and saliency map from its aligned crop: `emolens explain`, the API's `?explain=`. */
  explainWithImage(input: ImageInput, options?: ExplainOptions): Promise<ExplanationWithImage>;
  /** Release the ONNX sessions. The analyzer cannot be used afterwards. */
  dispose(): Promise<void>;
}

/**
 * Load the detector and the emotion model once, then analyze as many images as you like.
 * @example
 * import { createAnalyzer } from 'emolens';
 *
 * const analyzer = await createAnalyzer({ model: 'emolens-fer', minFaceScore: 0.6 });
 * for (const file of ['team.jpg', 'party.png']) {
 *   const { faces } = await analyzer.analyze(file);
 *   for (const face of faces) console.log(file, face.dominant, face.emotions.happy.toFixed(2));
 * }
 * await analyzer.dispose();
 */
export async function createAnalyzer(options: CreateAnalyzerOptions = {}): Promise<NodeAnalyzer> {
  if (options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads > 0)) {
    throw new UsageError(`threads must be a positive integer, got ${options.threads}`);
  }
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const emotion = loadEmotionModel(options.model ?? DEFAULT_EMOTION_MODEL);
  const detector = loadDetectorModel<DetectorSidecar>(options.detectorModel ?? DEFAULT_DETECTOR_MODEL);
  const landmarks = options.landmarks68 || options.ev ? loadLandmarkModel(options.landmarkModel) : undefined;
  const core: Analyzer = await createAnalyzerCore(
    {
      ort: await loadNodeRuntime(),
      detector: { bytes: detector.bytes, sidecar: detector.sidecar },
      emotion: { bytes: emotion.bytes, sidecar: emotion.sidecar },
      ...(landmarks ? { landmarks: { bytes: landmarks.bytes, sidecar: landmarks.sidecar } } : {}),
      sessionOptions: options.threads ? { threads: options.threads } : {},
    },
    options,
  );
  const sidecar = core.emotionModel;
  const cropSize = sidecar.preprocess.faceCrop.size;

  const decode = (input: ImageInput, callOptions: { maxPixels?: number } = {}): Promise<DecodedImage> =>
    decodeImage(input, { maxPixels: callOptions.maxPixels ?? maxPixels });
  const analyzeWithImage = async (input: ImageInput, callOptions: AnalyzeInputOptions = {}): Promise<AnalysisWithImage> => {
    const { maxPixels: callMax, ...rest } = callOptions;
    const image = await decode(input, { maxPixels: callMax });
    return { ...(await core.analyze(image, rest)), image };
  };

  return {
    emotionModel: sidecar,
    async analyze(input, callOptions) {
      const { image: _image, ...result } = await analyzeWithImage(input, callOptions);
      return result;
    },
    analyzeWithImage,
    async classifyFace(crop) {
      const gray = typeof crop === 'string' || crop instanceof Uint8Array ? await decodeFaceCrop(crop, cropSize, lumaWeights(sidecar)) : crop;
      const [probabilities] = await core.classifyCrops([gray]);
      return probabilities;
    },
    classifyCrops: (crops) => core.classifyCrops(crops),
    decode,
    detect: (image, callOptions) => core.detect(image, callOptions),
    follow: (image, boxes, callOptions) => core.follow(image, boxes, callOptions),
    classifyFaces: (image, faces) => core.classifyFaces(image, faces),
    alignFace: (image, face) => core.alignFace(image, face),
    explainCrops: (crops, explainOptions) => core.explainCrops(crops, explainOptions),
    async explainWithImage(input, explainOptions) {
      const analysis = await analyzeWithImage(input);
      const crops = analysis.faces.map((f) => core.alignFace(analysis.image, f));
      const explained = await core.explainCrops(crops, explainOptions);
      const faces = analysis.faces.map((f, i) => ({ ...f, emotions: explained[i].emotions, dominant: explained[i].dominant, saliency: explained[i].saliency }));
      return { ...analysis, faces, crops };
    },
    dispose: () => core.dispose(),
  };
}

/**
 * One-shot: load the models, analyze one image, release the models. For many images use `createAnalyzer`.
 * @example
 * import { analyze } from 'emolens';
 *
 * const { faces } = await analyze('photo.jpg');
 * console.log(faces.map((f) => `${f.dominant} ${(f.emotions[f.dominant] * 100).toFixed(0)}%`));
 */
export async function analyze(input: ImageInput, options: CreateAnalyzerOptions & AnalyzeInputOptions = {}): Promise<AnalysisResult> {
  const analyzer = await createAnalyzer(options);
  try {
    return await analyzer.analyze(input);
  } finally {
    await analyzer.dispose();
  }
}
