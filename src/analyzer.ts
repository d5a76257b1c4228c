/**
 * The pipeline core: RgbaImage → detect → align every face → one batched classify → FaceResult[].
 * `analyze()` is `detect()` then `classifyFaces()`; callers that classify only some faces per frame (the web app's
 * live view) call the two steps themselves. The emotion half alone is an EmotionStage (`createEmotionStage`), so
 * faces found by one detector can be read by a second emotion model (the web app's fast live model).
 * Browser-safe (the web app runs it in a Web Worker on onnxruntime-web): it is handed the ONNX Runtime module and
 * the model bytes; reading files, decoding images and picking onnxruntime-node live in src/node.ts.
 */
import { alignFace } from './align/index.js';
import { EmotionClassifier, lumaWeights, type EmotionModelSidecar } from './classify/index.js';
import { FaceDetector, type DetectOptions, type DetectorSidecar } from './detect/index.js';
import { explainCrops, type ExplainOptions, type FaceExplanation } from './explain/index.js';
import type { OrtModule, SessionOptions } from './engine/index.js';
import { UsageError } from './errors.js';
import { assertRgbaImage } from './image/rgba.js';
import { expressionalVector, LandmarkDetector } from './landmarks/index.js';
import { dominantEmotion, type EmotionProbabilities } from './labels.js';
import type { AnalysisResult, Box, DetectedFace, FaceResult, GrayImage, RgbaImage } from './types.js';


/** The detector's sidecar (parsed models/blazeface.json) and per-call options, as src/detect/ defines them. */
export type { DetectorSidecar } from './detect/index.js';
export type DetectorOptions = DetectOptions;

/** Everything the core needs, with no file system: the runtime module and both models' bytes + sidecars. */
export interface AnalyzerModels {
  /** `onnxruntime-node` in Node, `onnxruntime-web` in the browser. */
  ort: OrtModule;
  detector: { bytes: Uint8Array; sidecar: DetectorSidecar };
  emotion: { bytes: Uint8Array; sidecar: EmotionModelSidecar };
  /** The 68-point landmark model (models/face-landmarks68): needed only for `landmarks68` / `ev`. */
  landmarks?: { bytes: Uint8Array; sidecar: unknown };
  /** Threads / execution providers for both ONNX sessions. */
  sessionOptions?: SessionOptions;
}

/** Per-analyzer defaults; every field can also be overridden per `analyze()` call. */
export interface AnalyzeOptions {
  /** Drop detections scoring below this (0..1). Default: the detector's own threshold (0.5). */
  minFaceScore?: number;
  /** Keep at most this many faces, highest scores first. Default: all. */
  maxFaces?: number;
  /** Passed to the detector (tiling for small faces in large photos, NMS threshold, …); see src/detect/. */
  detector?: DetectorOptions;
}

export interface AnalyzerOptions extends AnalyzeOptions {
  /** Faces per emotion-model run (default 32). */
  batchSize?: number;
  /** Add each face's 68 points (`landmarks68`) to analyze()'s results; needs `models.landmarks`. */
  landmarks68?: boolean;
  /** Add each face's 24-value expressional vector (`ev`); needs `models.landmarks`. */
  ev?: boolean;
}

/** One emotion model and the alignment it needs: the part of an Analyzer that reads faces someone else detected. */
export interface EmotionStage {
  /** The emotion model's sidecar (labels, crop geometry, metrics). */
  readonly emotionModel: EmotionModelSidecar;
  /** Emotions of faces detected in `image` (any subset of `detect()`'s), aligned from their landmarks; one batch. */
  classifyFaces(image: RgbaImage, faces: readonly DetectedFace[]): Promise<EmotionProbabilities[]>;
  /** Emotions for face crops that are already aligned (gray, `emotionModel.preprocess.faceCrop.size` square). */
  classifyCrops(crops: GrayImage[]): Promise<EmotionProbabilities[]>;
  /** The aligned gray crop the classifier sees for one detected face (for debugging and reports). */
  alignFace(image: RgbaImage, face: DetectedFace): GrayImage;
  /** Emotions and a saliency map over each aligned crop (Grad-CAM or occlusion; src/explain/, docs/explain.md). */
  explainCrops(crops: GrayImage[], options?: ExplainOptions): Promise<FaceExplanation[]>;
  /** Release the emotion model's ONNX session. */
  dispose(): Promise<void>;
}

export interface Analyzer extends EmotionStage {
  /** Find every face in `image` and its 7 emotion probabilities: `detect()` then `classifyFaces()`. */
  analyze(image: RgbaImage, options?: AnalyzeOptions): Promise<AnalysisResult>;
  /** Find the faces only (boxes, scores, landmarks), in reading order: rows top to bottom, each left to right. */
  detect(image: RgbaImage, options?: AnalyzeOptions): Promise<DetectedFace[]>;
  /**
   * Follow faces found in an earlier frame into `image` (video and streams: track, then detect): per box, the same
   * face close up around it, or undefined where it is not there any more (then call `detect`). Cheaper than
   * `detect` (one small input per face) and finds no new faces. `minFaceScore` applies.
   */
  follow(image: RgbaImage, boxes: readonly Box[], options?: AnalyzeOptions): Promise<(DetectedFace | undefined)[]>;
  /** Release every ONNX session (detector, emotion model, landmarks). */
  dispose(): Promise<void>;
}

/**
 * Load one emotion model on its own: align (with this model's crop geometry and luma weights) and classify faces
 * that an Analyzer's `detect()` found. createAnalyzerCore builds its emotion half with it.
 * @example
 * const live = await createEmotionStage(ort, { bytes, sidecar }, { sessionOptions });
 * const emotions = await live.classifyFaces(image, await analyzer.detect(image));
 */
export async function createEmotionStage(
  ort: OrtModule,
  emotion: AnalyzerModels['emotion'],
  options: { sessionOptions?: SessionOptions; batchSize?: number } = {},
): Promise<EmotionStage> {
  const classifier = await EmotionClassifier.load(ort, emotion.bytes, emotion.sidecar, { ...options.sessionOptions, batchSize: options.batchSize });
  const sidecar = classifier.sidecar;
  const geometry = sidecar.preprocess.faceCrop;
  const weights = lumaWeights(sidecar);
  const alignOne = (image: RgbaImage, face: DetectedFace): GrayImage => alignFace(image, face.landmarks, geometry, { lumaWeights: weights });
  return {
    emotionModel: sidecar,
    async classifyFaces(image, faces) {
      assertRgbaImage(image);
      return classifier.classify(faces.map((face) => alignOne(image, face)));
    },
    classifyCrops: (crops) => classifier.classify(crops),
    alignFace: alignOne,
    explainCrops: (crops, explainOptions) => explainCrops(classifier, crops, explainOptions),
    dispose: () => classifier.dispose(),
  };
}

/**
 * Load both models and return the analyzer. The browser worker and src/node.ts both start here.
 * @example
 * const analyzer = await createAnalyzerCore({ ort, detector: { bytes, sidecar }, emotion: { bytes, sidecar } });
 * const { faces } = await analyzer.analyze({ data, width, height });
 */
export async function createAnalyzerCore(models: AnalyzerModels, options: AnalyzerOptions = {}): Promise<Analyzer> {
  const session = models.sessionOptions ?? {};
  const wantsPoints = Boolean(options.landmarks68 || options.ev);
  if (wantsPoints && !models.landmarks) throw new UsageError('landmarks68 / ev need the landmark model (models.landmarks)');
  const [detector, emotion, landmarker] = await Promise.all([
    FaceDetector.load(models.ort, models.detector.bytes, models.detector.sidecar, session),
    createEmotionStage(models.ort, models.emotion, { sessionOptions: session, batchSize: options.batchSize }),
    wantsPoints ? LandmarkDetector.load(models.ort, models.landmarks!.bytes, models.landmarks!.sidecar, session) : undefined,
  ]);

  const detect = async (image: RgbaImage, callOptions: AnalyzeOptions = {}): Promise<DetectedFace[]> => {
    assertRgbaImage(image);
    const opts = { ...options, ...callOptions };
    if (opts.minFaceScore !== undefined && !(opts.minFaceScore >= 0 && opts.minFaceScore <= 1)) {
      throw new UsageError(`minFaceScore must be between 0 and 1, got ${opts.minFaceScore}`);
    }
    if (opts.maxFaces !== undefined && !(Number.isInteger(opts.maxFaces) && opts.maxFaces >= 0)) {
      throw new UsageError(`maxFaces must be a non-negative integer, got ${opts.maxFaces}`);
    }
    // The detector applies the score floor and the cap itself (its own defaults when ours are unset).
    const detectOptions: DetectorOptions = { ...opts.detector };
    if (opts.minFaceScore !== undefined) detectOptions.minScore = opts.minFaceScore;
    if (opts.maxFaces !== undefined) detectOptions.maxFaces = opts.maxFaces;
    let faces = await detector.detect(image, detectOptions);
    if (opts.minFaceScore !== undefined) faces = faces.filter((f) => f.score >= opts.minFaceScore!);
    faces = [...faces].sort((a, b) => b.score - a.score);
    if (opts.maxFaces !== undefined) faces = faces.slice(0, opts.maxFaces);
    // Reading order (top-to-bottom rows, then left-to-right) so face #1 is where a person looks first.
    return orderForReading(faces);
  };

  const follow = async (image: RgbaImage, boxes: readonly Box[], callOptions: AnalyzeOptions = {}): Promise<(DetectedFace | undefined)[]> => {
    const opts = { ...options, ...callOptions };
    if (opts.minFaceScore !== undefined && !(opts.minFaceScore >= 0 && opts.minFaceScore <= 1)) {
      throw new UsageError(`minFaceScore must be between 0 and 1, got ${opts.minFaceScore}`);
    }
    const minScore = opts.minFaceScore ?? opts.detector?.minScore;
    return detector.follow(image, boxes, { ...(minScore !== undefined ? { minScore } : {}), ...(opts.detector?.batchSize ? { batchSize: opts.detector.batchSize } : {}) });
  };

  return {
    emotionModel: emotion.emotionModel,

    async analyze(image, callOptions = {}) {
      const faces = await detect(image, callOptions);
      const emotions = await emotion.classifyFaces(image, faces);
      const points = landmarker ? await landmarker.detectFaces(image, faces) : undefined;
      const results: FaceResult[] = faces.map((face, i) => ({
        box: face.box,
        score: face.score,
        landmarks: face.landmarks,
        emotions: emotions[i],
        dominant: dominantEmotion(emotions[i]),
        ...(points && options.landmarks68 ? { landmarks68: points[i] } : {}),
        ...(points && options.ev ? { ev: expressionalVector(points[i]) } : {}),
      }));
      return { width: image.width, height: image.height, faces: results };
    },

    detect,
    follow,
    classifyFaces: emotion.classifyFaces,
    classifyCrops: emotion.classifyCrops,
    alignFace: emotion.alignFace,
    explainCrops: emotion.explainCrops,

    async dispose() {
      await Promise.all([detector.dispose(), emotion.dispose(), landmarker?.dispose()]);
    },
  };
}

/** Sort faces left to right within rows; a face starts a new row when it lies below the row's faces' centres. */
function orderForReading(faces: DetectedFace[]): DetectedFace[] {
  const byTop = [...faces].sort((a, b) => a.box.y - b.box.y);
  const rows: DetectedFace[][] = [];
  for (const face of byTop) {
    const row = rows[rows.length - 1];
    const rowCentre = row ? Math.max(...row.map((f) => f.box.y + f.box.height / 2)) : -Infinity;
    if (row && face.box.y < rowCentre) row.push(face);
    else rows.push([face]);
  }
  return rows.flatMap((row) => row.sort((a, b) => a.box.x - b.box.x));
}
