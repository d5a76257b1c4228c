/**
 * The benchmark of emolens itself: how fast each pipeline stage runs on real photos (decode, detection, alignment,
 * the whole pipeline) and the emotion model's ms per face at batch 1 and 32 — and, when the comparison packages
 * (devDependencies) are installed, face-api's and Human's expression models on the SAME face crops (compare.ts,
 * imported only then). It returns numbers; the CLI (src/cli/bench.ts) prints them. Nothing here is a test.
 *
 * emolens runs on onnxruntime-node, as `analyze` does.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { alignFace } from '../align/index.js';
import { EmotionClassifier, lumaWeights } from '../classify/index.js';
import { DEFAULT_EMOTION_MODEL, loadDetectorModel, loadEmotionModel, loadNodeRuntime } from '../env/node.js';
import { FaceDetector } from '../detect/index.js';
import { UsageError } from '../errors.js';
import { decodeImage, type DecodedImage } from '../image/decode.js';
import { dominantEmotion, type Emotion } from '../labels.js';
import { samplePhotos } from '../samples.js';
import type { DetectedFace, GrayImage } from '../types.js';
import type { Classify } from './compare.js';
import { missingComparisonPackages, packageRoot } from './packages.js';

export interface BenchOptions {
  images?: string[];
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
  /** Share of faces whose dominant emotion matches emolens's (on the same crops). */
  agreement?: number;
}

export interface BenchResult {
  machine: { cpus: number; platform: string; node: string };
  images: string[];
  faces: number;
  rounds: number;
  model: { name: string; parameters?: number; macs?: number };
  /** Per image: reading + decoding to RGBA, detection, aligning all its faces. Per face: alignment. */
  decodeMsPerImage: number;
  detectMsPerImage: number;
  alignMsPerImage: number;
  alignMsPerFace: number;
  /** Whole pipeline (decode → detect → align → classify), one image after another. */
  pipelineMsPerImage: number;
  imagesPerSecond: number;
  /** emolens first (ORT default threads), then emolens on 1 thread, then the comparison models. */
  classifiers: ClassifierTiming[];
  /** theirs ÷ ours in ms/face: above 1 means emolens is faster. */
  ratios: Array<{ versus: string; batch1: number; batch32: number | null; batch1SingleThread: number; batch32SingleThread: number | null }>;
}

export async function runBench(options: BenchOptions = {}): Promise<BenchResult> {
  const log = options.log ?? (() => {});
  const rounds = options.rounds ?? 3;
  const images = options.images?.length ? options.images : samplePhotos();
  const ort = await loadNodeRuntime();
  const emotion = loadEmotionModel(options.model ?? DEFAULT_EMOTION_MODEL);
  const detectorFiles = loadDetectorModel();
  const detector = await FaceDetector.load(ort, detectorFiles.bytes, detectorFiles.sidecar);
  const classifier32 = await EmotionClassifier.load(ort, emotion.bytes, emotion.sidecar, { batchSize: 32 });
  const classifier1t = await EmotionClassifier.load(ort, emotion.bytes, emotion.sidecar, { batchSize: 32, threads: 1 });
  const geometry = emotion.sidecar.preprocess.faceCrop;
  const align = (image: DecodedImage, face: DetectedFace): GrayImage => alignFace(image, face.landmarks, geometry, { lumaWeights: lumaWeights(emotion.sidecar) });

  // Warm-up pass: the first runs of an ONNX session (and the first decodes) are slower than steady state.
  log(`bench: ${images.length} photos, warm-up…`);
  const crops: GrayImage[] = [];
  for (const file of images) {
    const image = await decodeImage(file);
    const faces = await detector.detect(image);
    const faceCrops = faces.map((f) => align(image, f));
    crops.push(...faceCrops);
    if (faceCrops.length) {
      await classifier32.classify(faceCrops);
      await classifier1t.classify(faceCrops.slice(0, 1));
    }
  }
  if (crops.length === 0) throw new UsageError('no faces found in the bench photos; pass --images with photos of faces');

  // Stage by stage, per image, `rounds` times; each figure is the median round's mean.
  log(`bench: ${crops.length} faces; timing stages (${rounds} rounds)…`);
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
      for (const f of faces) align(image, f);
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
      if (faces.length) await classifier32.classify(faces.map((f) => align(image, f)));
    }
    pipelineRounds.push((performance.now() - t) / images.length);
  }
  const pipelineMsPerImage = median(pipelineRounds);

  // Emotion classification alone, on the crops found above. Every model is timed once per round, the models
  // interleaved, and each reports its median round: a busy machine then slows all of them alike.
  const batch32 = Array.from({ length: 32 }, (_, i) => crops[i % crops.length]);
  const ortRuntime = `onnxruntime-node ${ortVersion()}`;
  const contenders: Array<{ timing: Omit<ClassifierTiming, 'batch1MsPerFace' | 'batch32MsPerFace'>; classify: Classify<Emotion>; dispose(): void | Promise<void> }> = [
    {
      timing: { name: `emolens ${emotion.sidecar.name}`, runtime: `${ortRuntime}, default threads (${availableParallelism()} CPUs)`, inputSize: inputSizeOf(emotion.sidecar) },
      classify: async (faces) => (await classifier32.classify(faces)).map(dominantEmotion),
      dispose: () => classifier32.dispose(),
    },
    {
      timing: { name: `emolens ${emotion.sidecar.name} (1 thread)`, runtime: `${ortRuntime}, 1 thread`, inputSize: inputSizeOf(emotion.sidecar) },
      classify: async (faces) => (await classifier1t.classify(faces)).map(dominantEmotion),
      dispose: () => classifier1t.dispose(),
    },
  ];
  await detector.dispose();
  const missing = options.compare === false ? [] : missingComparisonPackages();
  if (missing.length) {
    log(`bench: the face-api and Human comparison needs emolens's dev dependencies (missing ${missing.join(', ')}; npm install --include=dev in a checkout); timing emolens only`);
  } else if (options.compare !== false) {
    log('bench: loading @tensorflow/tfjs (wasm backend), face-api and Human…');
    const { loadComparisons } = await import('./compare.js');
    const { runtime, competitors } = await loadComparisons();
    for (const competitor of competitors) {
      contenders.push({ timing: { name: competitor.name, runtime, inputSize: competitor.inputSize }, classify: competitor.classify, dispose: () => competitor.dispose() });
    }
  }
  log(`bench: emotion classification, ${contenders.length} models × ${rounds} rounds…`);
  const batch1Rounds = contenders.map(() => [] as number[]);
  const batch32Rounds = contenders.map(() => [] as number[]);
  for (const c of contenders) {
    // Warm-up at both shapes (first runs allocate and pick kernels).
    await c.classify([crops[0]]);
    await c.classify(batch32);
  }
  for (let r = 0; r < rounds; r++) {
    for (const [i, c] of contenders.entries()) {
      let t = performance.now();
      for (const crop of crops) await c.classify([crop]);
      batch1Rounds[i].push((performance.now() - t) / crops.length);
      t = performance.now();
      await c.classify(batch32);
      batch32Rounds[i].push((performance.now() - t) / batch32.length);
    }
  }
  const oursDominant = await contenders[0].classify(crops);
  const classifiers: ClassifierTiming[] = [];
  for (const [i, c] of contenders.entries()) {
    const timing: ClassifierTiming = { ...c.timing, batch1MsPerFace: median(batch1Rounds[i]), batch32MsPerFace: median(batch32Rounds[i]) };
    if (i >= 2) {
      const theirs = await c.classify(crops);
      timing.agreement = theirs.filter((e, k) => e === oursDominant[k]).length / crops.length;
    }
    classifiers.push(timing);
    await c.dispose();
  }

  const [main, single] = classifiers;
  const ratio = (theirs: number | null, own: number | null): number | null => (theirs !== null && own ? theirs / own : null);
  const ratios = classifiers.slice(2).map((c) => ({
    versus: c.name,
    batch1: c.batch1MsPerFace / main.batch1MsPerFace,
    batch32: ratio(c.batch32MsPerFace, main.batch32MsPerFace),
    batch1SingleThread: c.batch1MsPerFace / single.batch1MsPerFace,
    batch32SingleThread: ratio(c.batch32MsPerFace, single.batch32MsPerFace),
  }));

  return {
    machine: { cpus: availableParallelism(), platform: `${process.platform}-${process.arch}`, node: process.version },
    images: images.map((f) => basename(f)),
    faces: crops.length,
    rounds,
    model: { name: emotion.sidecar.name, parameters: emotion.sidecar.parameters, macs: emotion.sidecar.macs },
    decodeMsPerImage: median(decodeRounds),
    detectMsPerImage: median(detectRounds),
    alignMsPerImage: median(alignRounds),
    alignMsPerFace: median(alignPerFaceRounds),
    pipelineMsPerImage,
    imagesPerSecond: 1000 / pipelineMsPerImage,
    classifiers,
    ratios,
  };
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
