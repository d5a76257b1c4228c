/**
 * `evaluate()`: score an emotion model on a labelled face set (a folder per label, or Kaggle's fer2013.csv) —
 * accuracy, macro-F1, per-class precision/recall/F1, the confusion matrix, and the calibration of its top-1
 * confidence (ECE and reliability bins). Node-only: it reads the model and the data set from disk.
 *
 * Faces are FER-style pre-cropped images by default (decoded exactly as training reads them, by
 * src/image/datasets.ts, so the numbers match the sidecar's); `detect` instead finds and aligns the face in full
 * photos with the same pipeline as `analyze`.
 *
 * It prints nothing: progress and warnings go to the caller's callbacks (the CLI draws them on stderr).
 */
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import type { EmotionModelSidecar } from '../classify/contract.js';
import { EmotionClassifier } from '../classify/index.js';
import { DEFAULT_EMOTION_MODEL, loadDetectorModel, loadEmotionModel, loadNodeRuntime } from '../env/node.js';
import type { DetectorSidecar } from '../detect/index.js';
import type { OrtModule } from '../engine/index.js';
import { DatasetError, UsageError } from '../errors.js';
import { explainCrops, type SaliencyMap } from '../explain/index.js';
import { batches, evenSample, listFolderDataset, openDataset, type Split } from '../image/datasets.js';
import { dominantEmotion, EMOTIONS, type Emotion, type EmotionProbabilities } from '../labels.js';
import type { GrayImage } from '../types.js';
import { CalibrationBins, type CalibrationMetrics } from './calibration.js';
import { FerPlusScorer, FerPlusVotes, type FerPlusMetrics, type VoteKey } from './ferplus.js';
import { ConfusionMatrix, type ClassificationMetrics } from './metrics.js';

export interface EvalOptions {
  /** Folder (of split folders or label folders) or a fer2013.csv file. */
  data: string;
  split?: Split;
  /** Bundled model name or .onnx path (default emolens-fer). */
  model?: string;
  batchSize?: number;
  limit?: number;
  /** Find and align the face in each image (full photos) instead of treating images as face crops. */
  detect?: boolean;
  /** Called after each batch with the fraction done (0..1) and images scored so far. */
  onProgress?: (fraction: number, scored: number) => void;
  /** Called with a one-line warning that does not stop the run (e.g. the model's sha256 differs from its sidecar's). */
  onWarning?: (message: string) => void;
  /**
   * Keep up to this many correctly and this many wrongly classified faces per true class, the first met, with a
   * saliency map of the predicted label (src/explain/; the report's "why" section). Default 0: keep no faces.
   */
  saliencyExamples?: number;
  /**
   * FER+ votes (a votes CSV, a folder with `<split>.csv`, or Microsoft's fer2013new.csv for a fer2013.csv data set):
   * adds `ferplus`, the figures by FER+ majority and against the raters' distribution (src/eval/ferplus.ts).
   */
  labels?: string;
}

/** One kept face of `saliencyExamples`: the crop is the user's data, so only the report (opt-in) shows it. */
export interface SaliencyExample {
  source: string;
  label: Emotion;
  predicted: Emotion;
  /** Probability of the predicted label. */
  confidence: number;
  crop: GrayImage;
  saliency: SaliencyMap;
}

/** Picks the first n right and n wrong faces of each class as batches go by. */
class ExampleCollector {
  readonly kept: Array<Omit<SaliencyExample, 'saliency'>> = [];
  private readonly counts = new Map<string, number>();
  constructor(private readonly n: number) {}
  offer(sources: string[], labels: Emotion[], crops: GrayImage[], probabilities: EmotionProbabilities[]): void {
    if (this.n <= 0) return;
    probabilities.forEach((p, i) => {
      const predicted = dominantEmotion(p);
      const key = `${labels[i]}:${predicted === labels[i]}`;
      const count = this.counts.get(key) ?? 0;
      if (count >= this.n) return;
      this.counts.set(key, count + 1);
      this.kept.push({ source: sources[i], label: labels[i], predicted, confidence: p[predicted], crop: crops[i] });
    });
  }
  async explain(explainer: (crops: GrayImage[]) => Promise<Array<{ saliency: SaliencyMap }>>): Promise<SaliencyExample[]> {
    if (this.kept.length === 0) return [];
    const maps = await explainer(this.kept.map((k) => k.crop));
    return this.kept.map((k, i) => ({ ...k, saliency: maps[i].saliency }));
  }
}

/** What `emolens eval --json` prints. */
export interface EvalResult extends ClassificationMetrics, CalibrationMetrics {
  model: { name: string; sha256: string };
  /** Wall time per scored image: decoding, preprocessing, inference (and detection + alignment with --detect). */
  msPerImage: number;
  split: Split | null;
  data: string;
  /** Images that could not be scored (unreadable, or no face found with --detect); not in the metrics. */
  skipped: number;
  skippedExamples: Array<{ source: string; reason: string }>;
  /** With `labels`: the same predictions scored against the FER+ raters (the FER2013-label figures are the rest). */
  ferplus?: FerPlusMetrics;
}

const MAX_SKIP_EXAMPLES = 20;

/** Score a model on a data set. */
export async function evaluate(options: EvalOptions): Promise<EvalResult> {
  return (await evaluateWithSidecar(options)).result;
}

/** As evaluate(), also returning the model's sidecar (the CLI compares with it and the report shows its card). */
export async function evaluateWithSidecar(options: EvalOptions): Promise<{ result: EvalResult; sidecar: EmotionModelSidecar; examples: SaliencyExample[] }> {
  const split = options.split ?? 'val';
  const batchSize = options.batchSize ?? 64;
  const files = loadEmotionModel(options.model ?? DEFAULT_EMOTION_MODEL);
  const sidecar = files.sidecar;
  const sha256 = createHash('sha256').update(files.bytes).digest('hex');
  if (sidecar.sha256 && sidecar.sha256 !== sha256) {
    options.onWarning?.(`${files.path}: sha256 ${sha256.slice(0, 12)}… differs from its sidecar's ${String(sidecar.sha256).slice(0, 12)}…`);
  }
  const ort = await loadNodeRuntime();
  const cropSize = sidecar.preprocess.faceCrop.size;
  const matrix = new ConfusionMatrix(EMOTIONS);
  const calibration = new CalibrationBins();
  const skipped: Array<{ source: string; reason: string }> = [];
  let skippedCount = 0;
  const skip = (source: string, reason: string): void => {
    skippedCount++;
    if (skipped.length < MAX_SKIP_EXAMPLES) skipped.push({ source, reason });
  };
  const ferplus = options.labels ? new FerPlusScorer(await FerPlusVotes.load(options.labels, split)) : null;
  const score = (labels: Emotion[], probabilities: EmotionProbabilities[], keys: VoteKey[]): void => {
    probabilities.forEach((p, i) => {
      const predicted = dominantEmotion(p);
      matrix.add(labels[i], predicted);
      calibration.add(p[predicted], predicted === labels[i]);
      ferplus?.add(keys[i], p);
    });
  };

  const collector = new ExampleCollector(options.saliencyExamples ?? 0);
  let dataSplit: Split | null;
  let elapsedMs: number;
  let examples: SaliencyExample[];
  if (options.detect) {
    ({ split: dataSplit, elapsedMs, examples } = await scoreDetected(options, split, batchSize, ort, files, score, skip, collector));
  } else {
    const dataset = await openDataset(options.data, { split, size: cropSize, limit: options.limit });
    const classifier = await EmotionClassifier.load(ort, files.bytes, sidecar, { batchSize, source: files.path });
    dataSplit = dataset.split;
    const started = performance.now();
    for await (const batch of batches(dataset.items(), batchSize)) {
      const faces: GrayImage[] = [];
      const labels: Emotion[] = [];
      const sources: string[] = [];
      const keys: VoteKey[] = [];
      for (const item of batch) {
        if (item.ok) {
          faces.push(item.image);
          labels.push(item.label);
          sources.push(item.source);
          keys.push(item.row === undefined ? { file: item.source } : { row: item.row });
        } else skip(item.source, item.reason);
      }
      if (faces.length) {
        const probabilities = await classifier.classify(faces);
        score(labels, probabilities, keys);
        collector.offer(sources, labels, faces, probabilities);
      }
      options.onProgress?.(dataset.progress(), matrix.n);
    }
    elapsedMs = performance.now() - started;
    examples = await collector.explain((crops) => explainCrops(classifier, crops));
    await classifier.dispose();
  }
  const n = matrix.n;
  if (n === 0) throw new DatasetError(`no image of ${options.data} could be scored${skipped[0] ? ` (first: ${skipped[0].source}: ${skipped[0].reason})` : ''}`);
  const result: EvalResult = {
    ...matrix.metrics(),
    ...calibration.metrics(),
    model: { name: sidecar.name || basename(files.path, '.onnx'), sha256 },
    msPerImage: elapsedMs / n,
    split: dataSplit,
    data: options.data,
    skipped: skippedCount,
    skippedExamples: skipped,
    ...(ferplus ? { ferplus: ferplus.metrics() } : {}),
  };
  return { result, sidecar, examples };
}

/** --detect: decode each photo, detect + align its most confident face, classify in batches. */
async function scoreDetected(
  options: EvalOptions,
  split: Split,
  batchSize: number,
  ort: OrtModule,
  emotion: { bytes: Uint8Array; sidecar: EmotionModelSidecar },
  score: (labels: Emotion[], p: EmotionProbabilities[], keys: VoteKey[]) => void,
  skip: (source: string, reason: string) => void,
  collector: ExampleCollector,
): Promise<{ split: Split | null; elapsedMs: number; examples: SaliencyExample[] }> {
  if (options.data.toLowerCase().endsWith('.csv')) {
    throw new UsageError('--detect needs image files (a folder per label); a fer2013.csv holds face crops already');
  }
  // Loaded only with --detect: crop scoring needs neither the detector nor the photo decoder.
  const [{ createAnalyzerCore }, { decodeImage }] = await Promise.all([import('../analyzer.js'), import('../image/decode.js')]);
  const detector = loadDetectorModel<DetectorSidecar>();
  const analyzer = await createAnalyzerCore({ ort, detector, emotion }, { batchSize });
  const listing = await listFolderDataset(options.data, split);
  const files = evenSample(listing.files, options.limit);
  let crops: GrayImage[] = [];
  let labels: Emotion[] = [];
  let sources: string[] = [];
  let done = 0;
  const started = performance.now();
  const flush = async (): Promise<void> => {
    if (crops.length) {
      const probabilities = await analyzer.classifyCrops(crops);
      score(labels, probabilities, sources.map((file) => ({ file })));
      collector.offer(sources, labels, crops, probabilities);
    }
    crops = [];
    labels = [];
    sources = [];
    options.onProgress?.(done / files.length, done);
  };
  // Detection is per photo; classification is batched across photos, as in `analyze` on a folder.
  for (const { file, label } of files) {
    done++;
    try {
      const image = await decodeImage(file);
      const faces = (await analyzer.analyze(image, { maxFaces: 1 })).faces;
      if (faces.length === 0) {
        skip(file, 'no face found');
        continue;
      }
      crops.push(analyzer.alignFace(image, faces[0]));
      labels.push(label);
      sources.push(file);
    } catch (err) {
      skip(file, err instanceof Error ? err.message.split('\n')[0] : String(err));
    }
    if (crops.length >= batchSize) await flush();
  }
  await flush();
  const elapsedMs = performance.now() - started;
  const examples = await collector.explain((c) => analyzer.explainCrops(c));
  await analyzer.dispose();
  return { split: listing.split, elapsedMs, examples };
}
