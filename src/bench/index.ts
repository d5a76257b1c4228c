/**
 * The benchmark of emolens itself: how fast each pipeline stage runs on real photos (decode, detection, alignment,
 * the whole pipeline) and every shipped emotion model's ms per face at batch 1 and 32 (src/env/models.ts
 * SHIPPED_EMOTION_MODELS, or the one `model` given) — and, when the comparison packages (devDependencies) are
 * installed, face-api's and Human's expression models on the SAME faces (compare.ts, imported only then), with the
 * speed ratio of each emolens model to each of them. It returns numbers; the CLI (src/cli/bench.ts) prints them.
 * Nothing here is a test.
 *
 * emolens runs on onnxruntime-node, as `analyze` does.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { alignFace } from '../align/index.js';
import { EmotionClassifier, lumaWeights } from '../classify/index.js';
import type { EmotionModelSidecar } from '../classify/contract.js';
import type { OrtModule } from '../engine/index.js';
import { SHIPPED_EMOTION_MODELS } from '../env/models.js';
import { bundledModelNames, loadDetectorModel, loadEmotionModel, loadNodeRuntime, MODELS_DIR } from '../env/node.js';
import { FaceDetector } from '../detect/index.js';
import { ModelNotFoundError, UsageError } from '../errors.js';
import { decodeImage, type DecodedImage } from '../image/decode.js';
import { dominantEmotion, type Emotion } from '../labels.js';
import { samplePhotos } from '../samples.js';
import type { DetectedFace, GrayImage } from '../types.js';
import type { Classify } from './compare.js';
import { missingComparisonPackages, packageRoot } from './packages.js';

export interface BenchOptions {
  images?: string[];
  /** Time this emotion model (bundled name or .onnx path) instead of every shipped one. */
  model?: string;
  /** Timed passes over the images, and timed rounds per classifier (after a warm-up). Medians are reported. */
  rounds?: number;
  /** Also time face-api and Human (default true; skipped with one log line when their packages are not installed). */
  compare?: boolean;
  /** Progress lines go here (stderr in the CLI). */
  log?: (line: string) => void;
}

/** ms per face at batch 1 and batch 32 (null where a model cannot batch). */
export interface ClassifierTiming {
  name: string;
  runtime: string;
  inputSize: string;
  batch1MsPerFace: number;
  batch32MsPerFace: number | null;
  /** Share of faces whose dominant emotion matches the first emolens model's (on the same faces). */
  agreement?: number;
}

/** theirs ÷ ours in ms/face, one emolens model against one comparison model: above 1 means emolens is faster. */
export interface SpeedRatio {
  versus: string;
  batch1: number;
  batch32: number | null;
  batch1SingleThread: number;
  batch32SingleThread: number | null;
}

/** One emolens emotion model: what it is, its two timing rows of `classifiers`, and its ratios to the others. */
export interface ModelBench {
  name: string;
  parameters?: number;
  /** Multiply-adds per face, as its sidecar counts them (a mirror pass in the graph included). */
  macs?: number;
  /** FER2013 validation accuracy from its sidecar, if it has one. */
  valAccuracy?: number;
  /** FER+ majority accuracy on the same val images (the ten raters' label), from its sidecar (model v4 on). */
  valFerplusAccuracy?: number;
  /** ONNX Runtime's default threads. */
  timing: ClassifierTiming;
  singleThread: ClassifierTiming;
  ratios: SpeedRatio[];
}

export interface BenchResult {
  machine: { cpus: number; platform: string; node: string };
  images: string[];
  faces: number;
  rounds: number;
  /** The first of `models` (emolens-fer by default): the whole-pipeline figure is with this one. */
  model: { name: string; parameters?: number; macs?: number };
  /** Per image: reading + decoding to RGBA, detection, aligning all its faces. Per face: alignment. */
  decodeMsPerImage: number;
  detectMsPerImage: number;
  alignMsPerImage: number;
  alignMsPerFace: number;
  /** Whole pipeline (decode → detect → align → classify), one image after another. */
  pipelineMsPerImage: number;
  imagesPerSecond: number;
  /** Every row timed: each emolens model (ORT default threads, then 1 thread), then the comparison models. */
  classifiers: ClassifierTiming[];
  /** The first model's ratios (`models[0].ratios`). */
  ratios: SpeedRatio[];
  /** Every emolens model timed, in SHIPPED_EMOTION_MODELS order (the default first). */
  models: ModelBench[];
}

/** The emotion models to time: `model` alone, or the shipped ones that are in the models folder. */
function modelsToTime(model: string | undefined, log: (line: string) => void): string[] {
  if (model) return [model];
  const bundled = new Set(bundledModelNames(MODELS_DIR, 'emotion'));
  const present = SHIPPED_EMOTION_MODELS.filter((name) => bundled.has(name));
  const missing = SHIPPED_EMOTION_MODELS.filter((name) => !bundled.has(name));
  if (present.length === 0) throw new ModelNotFoundError(SHIPPED_EMOTION_MODELS.join(', '), [...bundled]);
  if (missing.length) log(`bench: ${missing.join(', ')} not in ${MODELS_DIR}; timing ${present.join(', ')}`);
  return present;
}

/** One emolens model loaded for the bench: two sessions (default threads, 1 thread) and its own alignment. */
interface LoadedModel {
  sidecar: EmotionModelSidecar;
  classifier32: EmotionClassifier;
  classifier1t: EmotionClassifier;
  align(image: DecodedImage, face: DetectedFace): GrayImage;
  /** This model's crops of every face found (models may differ in crop geometry), in one order for all. */
  crops: GrayImage[];
}

/** Times the pipeline stages and every model's classification on the bench photos: the numbers `emolens bench` prints. */
export async function runBench(options: BenchOptions = {}): Promise<BenchResult> {
  const log = options.log ?? (() => {});
  const rounds = options.rounds ?? 3;
  const images = options.images?.length ? options.images : samplePhotos();
  const ort = await loadNodeRuntime();
  const models = await loadModels(ort, modelsToTime(options.model, log));
  const [main] = models;
  const detectorFiles = loadDetectorModel();
  const detector = await FaceDetector.load(ort, detectorFiles.bytes, detectorFiles.sidecar);

  await warmUp(images, detector, models, log);
  const crops = main.crops;
  if (crops.length === 0) throw new UsageError('no faces found in the bench photos; pass --images with photos of faces');
  log(`bench: ${crops.length} faces; timing stages (${rounds} rounds)…`);
  const stages = await timeStages(images, detector, main, rounds);

  const contenders = ownContenders(models);
  const ownRows = contenders.length;
  await detector.dispose();
  contenders.push(...(await comparisonContenders(options.compare, crops, log)));
  const classifiers = await timeClassifiers(contenders, crops, rounds, log);
  const peers = classifiers.slice(ownRows);
  const benched = models.map((m, k) => modelBench(m, classifiers[2 * k], classifiers[2 * k + 1], peers));

  return {
    machine: { cpus: availableParallelism(), platform: `${process.platform}-${process.arch}`, node: process.version },
    images: images.map((f) => basename(f)),
    faces: crops.length,
    rounds,
    model: { name: main.sidecar.name, parameters: main.sidecar.parameters, macs: main.sidecar.macs },
    ...stages,
    classifiers,
    ratios: benched[0].ratios,
    models: benched,
  };
}

/** Each model to time, loaded twice (batch 32 at ORT's default threads, and on 1 thread) with its own alignment. */
async function loadModels(ort: OrtModule, names: string[]): Promise<LoadedModel[]> {
  const models: LoadedModel[] = [];
  for (const name of names) {
    const emotion = loadEmotionModel(name);
    const geometry = emotion.sidecar.preprocess.faceCrop;
    const weights = lumaWeights(emotion.sidecar);
    models.push({
      sidecar: emotion.sidecar,
      classifier32: await EmotionClassifier.load(ort, emotion.bytes, emotion.sidecar, { batchSize: 32 }),
      classifier1t: await EmotionClassifier.load(ort, emotion.bytes, emotion.sidecar, { batchSize: 32, threads: 1 }),
      align: (image, face) => alignFace(image, face.landmarks, geometry, { lumaWeights: weights }),
      crops: [],
    });
  }
  return models;
}

/** One untimed pass over the photos, which also collects every model's crops of the faces found. */
async function warmUp(images: string[], detector: FaceDetector, models: LoadedModel[], log: (line: string) => void): Promise<void> {
  // The first runs of an ONNX session (and the first decodes) are slower than steady state.
  log(`bench: ${images.length} photos, warm-up…`);
  for (const file of images) {
    const image = await decodeImage(file);
    const faces = await detector.detect(image);
    if (faces.length === 0) continue;
    for (const m of models) {
      const faceCrops = faces.map((f) => m.align(image, f));
      m.crops.push(...faceCrops);
      await m.classifier32.classify(faceCrops);
      await m.classifier1t.classify(faceCrops.slice(0, 1));
    }
  }
}

type StageTimes = Pick<BenchResult, 'decodeMsPerImage' | 'detectMsPerImage' | 'alignMsPerImage' | 'alignMsPerFace' | 'pipelineMsPerImage' | 'imagesPerSecond'>;

/** Stage by stage, per image, `rounds` times, then the whole pipeline with `main`; each figure is the median round's mean. */
async function timeStages(images: string[], detector: FaceDetector, main: LoadedModel, rounds: number): Promise<StageTimes> {
  const decodeRounds: number[] = [];
  const detectRounds: number[] = [];
  const alignRounds: number[] = [];
  const alignPerFaceRounds: number[] = [];
  const pipelineRounds: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let decodeMs = 0;
    let detectMs = 0;
    let alignMs = 0;
    let faceCount = 0;
    for (const file of images) {
      let t = performance.now();
      const image = await decodeImage(file);
      decodeMs += performance.now() - t;
      t = performance.now();
      const faces = await detector.detect(image);
      detectMs += performance.now() - t;
      t = performance.now();
      for (const f of faces) main.align(image, f);
      alignMs += performance.now() - t;
      faceCount += faces.length;
    }
    decodeRounds.push(decodeMs / images.length);
    detectRounds.push(detectMs / images.length);
    alignRounds.push(alignMs / images.length);
    alignPerFaceRounds.push(faceCount ? alignMs / faceCount : 0);
    // The whole pipeline, image after image, as `emolens analyze` on a folder runs it.
    const t = performance.now();
    for (const file of images) {
      const image = await decodeImage(file);
      const faces = await detector.detect(image);
      if (faces.length) await main.classifier32.classify(faces.map((f) => main.align(image, f)));
    }
    pipelineRounds.push((performance.now() - t) / images.length);
  }
  const pipelineMsPerImage = median(pipelineRounds);
  return {
    decodeMsPerImage: median(decodeRounds),
    detectMsPerImage: median(detectRounds),
    alignMsPerImage: median(alignRounds),
    alignMsPerFace: median(alignPerFaceRounds),
    pipelineMsPerImage,
    imagesPerSecond: 1000 / pipelineMsPerImage,
  };
}

/**
 * One classifier in the classification timing. A contender gets face k of the first model's crops as crop k of its
 * own list (an emolens model its own alignment; the comparison models the first model's).
 */
interface Contender {
  timing: Omit<ClassifierTiming, 'batch1MsPerFace' | 'batch32MsPerFace'>;
  crops: GrayImage[];
  /** Measure its agreement with the first model (not the first model itself, nor a 1-thread twin). */
  agrees: boolean;
  classify: Classify<Emotion>;
  dispose(): void | Promise<void>;
}

/** The emolens rows: every model at ORT's default threads, then on 1 thread. */
function ownContenders(models: LoadedModel[]): Contender[] {
  const ortRuntime = `onnxruntime-node ${ortVersion()}`;
  return models.flatMap((m, k): Contender[] => [
    {
      timing: { name: `emolens ${m.sidecar.name}`, runtime: `${ortRuntime}, default threads (${availableParallelism()} CPUs)`, inputSize: inputSizeOf(m.sidecar) },
      crops: m.crops,
      agrees: k > 0,
      classify: async (faces) => (await m.classifier32.classify(faces)).map(dominantEmotion),
      dispose: () => m.classifier32.dispose(),
    },
    {
      timing: { name: `emolens ${m.sidecar.name} (1 thread)`, runtime: `${ortRuntime}, 1 thread`, inputSize: inputSizeOf(m.sidecar) },
      crops: m.crops,
      agrees: false,
      classify: async (faces) => (await m.classifier1t.classify(faces)).map(dominantEmotion),
      dispose: () => m.classifier1t.dispose(),
    },
  ]);
}

/** face-api's and Human's rows on `crops`: none when `compare` is false or their packages are not installed. */
async function comparisonContenders(compare: boolean | undefined, crops: GrayImage[], log: (line: string) => void): Promise<Contender[]> {
  if (compare === false) return [];
  const missing = missingComparisonPackages();
  if (missing.length) {
    log(`bench: the face-api and Human comparison needs emolens's dev dependencies (missing ${missing.join(', ')}; npm install --include=dev in a checkout); timing emolens only`);
    return [];
  }
  log('bench: loading @tensorflow/tfjs (wasm backend), face-api and Human…');
  const { loadComparisons } = await import('./compare.js');
  const { runtime, competitors } = await loadComparisons();
  return competitors.map((competitor) => ({ timing: { name: competitor.name, runtime, inputSize: competitor.inputSize }, crops, agrees: true, classify: competitor.classify, dispose: () => competitor.dispose() }));
}

/**
 * Emotion classification alone, on the faces found: every contender timed once per round, interleaved, each
 * reporting its median round (a busy machine then slows all of them alike); then its agreement, and it is disposed.
 */
async function timeClassifiers(contenders: Contender[], crops: GrayImage[], rounds: number, log: (line: string) => void): Promise<ClassifierTiming[]> {
  log(`bench: emotion classification, ${contenders.length} models × ${rounds} rounds…`);
  const batch1Rounds = contenders.map(() => [] as number[]);
  const batch32Rounds = contenders.map(() => [] as number[]);
  const batch32Of = (list: GrayImage[]): GrayImage[] => Array.from({ length: 32 }, (_, i) => list[i % list.length]);
  for (const c of contenders) {
    // Warm-up at both shapes (first runs allocate and pick kernels).
    await c.classify([c.crops[0]]);
    await c.classify(batch32Of(c.crops));
  }
  for (let r = 0; r < rounds; r++) {
    for (const [i, c] of contenders.entries()) {
      const batch32 = batch32Of(c.crops);
      let t = performance.now();
      for (const crop of c.crops) await c.classify([crop]);
      batch1Rounds[i].push((performance.now() - t) / c.crops.length);
      t = performance.now();
      await c.classify(batch32);
      batch32Rounds[i].push((performance.now() - t) / batch32.length);
    }
  }
  const oursDominant = await contenders[0].classify(crops);
  const classifiers: ClassifierTiming[] = [];
  for (const [i, c] of contenders.entries()) {
    const timing: ClassifierTiming = { ...c.timing, batch1MsPerFace: median(batch1Rounds[i]), batch32MsPerFace: median(batch32Rounds[i]) };
    if (c.agrees) {
      const theirs = await c.classify(c.crops);
      timing.agreement = theirs.filter((e, k) => e === oursDominant[k]).length / crops.length;
    }
    classifiers.push(timing);
    await c.dispose();
  }
  return classifiers;
}

/** One emolens model's entry: what its sidecar says, its two timing rows, and its speed ratios to each peer row. */
function modelBench(m: LoadedModel, timing: ClassifierTiming, singleThread: ClassifierTiming, peers: ClassifierTiming[]): ModelBench {
  return {
    name: m.sidecar.name,
    parameters: m.sidecar.parameters,
    macs: m.sidecar.macs,
    valAccuracy: m.sidecar.metrics?.val?.accuracy,
    valFerplusAccuracy: m.sidecar.metrics?.val?.ferplus?.majority.accuracy,
    timing,
    singleThread,
    ratios: peers.map((c) => ({
      versus: c.name,
      batch1: c.batch1MsPerFace / timing.batch1MsPerFace,
      batch32: ratio(c.batch32MsPerFace, timing.batch32MsPerFace),
      batch1SingleThread: c.batch1MsPerFace / singleThread.batch1MsPerFace,
      batch32SingleThread: ratio(c.batch32MsPerFace, singleThread.batch32MsPerFace),
    })),
  };
}

/** theirs ÷ own, null where either side cannot batch. */
function ratio(theirs: number | null, own: number | null): number | null {
  return theirs !== null && own ? theirs / own : null;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** e.g. "44x44x1 +flip": a flip TTA inside the graph means two passes per face, counted in our ms/face. */
function inputSizeOf(sidecar: { input: { height: number; width: number; channels: number }; tta?: { hflip: boolean; inGraph: boolean } }): string {
  const flip = sidecar.tta?.hflip && sidecar.tta.inGraph ? ' +flip' : '';
  return `${sidecar.input.width}x${sidecar.input.height}x${sidecar.input.channels}${flip}`;
}

function ortVersion(): string {
  try {
    return JSON.parse(readFileSync(join(packageRoot('onnxruntime-node'), 'package.json'), 'utf8')).version;
  } catch {
    return '';
  }
}
