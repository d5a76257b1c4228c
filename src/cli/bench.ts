/**
 * `emolens bench`: how fast each pipeline stage runs on real photos, and how emolens's emotion model compares with
 * the expression models of face-api (FaceExpressionNet) and Human (oarriaga's mini-Xception, models/emotion.json)
 * on the SAME face crops. A benchmark prints numbers; nothing here is a test.
 *
 * The comparison models run on @tensorflow/tfjs with the wasm backend, loaded from the files shipped in their npm
 * packages (no network). emolens runs on onnxruntime-node, as `analyze` does.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { alignFace } from '../align/index.js';
import { EmotionClassifier, lumaWeights } from '../classify/index.js';
import { DEFAULT_EMOTION_MODEL, loadDetectorModel, loadEmotionModel } from '../classify/node.js';
import { FaceDetector } from '../detect/index.js';
import type { OrtModule } from '../engine/index.js';
import { UsageError } from '../errors.js';
import { decodeImage, type DecodedImage } from '../image/decode.js';
import { dominantEmotion, type Emotion } from '../labels.js';
import type { DetectedFace, GrayImage } from '../types.js';

const require = createRequire(import.meta.url);

export interface BenchOptions {
  images?: string[];
  model?: string;
  /** Timed passes over the images, and timed rounds per classifier (after a warm-up). Medians are reported. */
  rounds?: number;
  /** Also time face-api and Human (default true). */
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

export function register(program: Command): void {
  program
    .command('bench')
    .description('time decode, detection, alignment and emotion classification on sample photos; compare with face-api and Human on the same faces')
    .option('--json', 'print one JSON object')
    .option('--images <files...>', 'photos to use (default: the sample photos shipped with @vladmandic/face-api)')
    .option('--model <name|path>', 'emotion model: bundled name or .onnx path', DEFAULT_EMOTION_MODEL)
    .option('--rounds <n>', 'timed passes over the photos after a warm-up pass', '3')
    .option('--no-compare', 'skip the face-api and Human comparison')
    .action(async (opts: { json?: boolean; images?: string[]; model: string; rounds: string; compare: boolean }) => {
      if (!/^\d+$/.test(opts.rounds) || Number(opts.rounds) < 1) throw new UsageError(`invalid --rounds: ${opts.rounds} (a positive integer)`);
      const result = await runBench({
        images: opts.images,
        model: opts.model,
        rounds: Number(opts.rounds),
        compare: opts.compare,
        log: (line) => process.stderr.write(`${line}\n`),
      });
      process.stdout.write(opts.json ? `${JSON.stringify(result, null, 2)}\n` : formatBench(result));
    });
}

/** The sample photos shipped with @vladmandic/face-api (1920 px group photos). */
export function samplePhotos(): string[] {
  const demo = join(packageRoot('@vladmandic/face-api'), 'demo');
  return [1, 2, 3, 4, 5, 6].map((i) => join(demo, `sample${i}.jpg`));
}

function packageRoot(name: string): string {
  // Resolve the package's entry (works whatever its "exports" allow) and walk up to its package.json.
  let dir = dirname(require.resolve(name));
  while (!existsJson(join(dir, 'package.json'), name)) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the ${name} package folder`);
    dir = up;
  }
  return dir;
}

function existsJson(file: string, name: string): boolean {
  try {
    return JSON.parse(readFileSync(file, 'utf8')).name === name;
  } catch {
    return false;
  }
}

export async function runBench(options: BenchOptions = {}): Promise<BenchResult> {
  const log = options.log ?? (() => {});
  const rounds = options.rounds ?? 3;
  const images = options.images?.length ? options.images : samplePhotos();
  const ort = (await import('onnxruntime-node')) as unknown as OrtModule;
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
  if (options.compare !== false) {
    log('bench: loading @tensorflow/tfjs (wasm backend), face-api and Human…');
    const tfjs = await loadTfjsWasm();
    for (const competitor of [await loadFaceApiExpression(tfjs), await loadHumanEmotion(tfjs)]) {
      contenders.push({ timing: { name: competitor.name, runtime: tfjs.runtime, inputSize: competitor.inputSize }, classify: competitor.classify, dispose: competitor.dispose });
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

type Classify<R> = (faces: GrayImage[]) => Promise<R[]>;

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

// ---- the comparison models, on @tensorflow/tfjs + wasm ----

/* tfjs is loaded untyped through require() to keep it out of
   the compile-time graph; only this block touches it. */
type Tf = any;

interface Tfjs { tf: Tf; runtime: string }

interface Competitor {
  name: string;
  inputSize: string;
  classify: Classify<Emotion>;
  dispose(): void;
}

async function loadTfjsWasm(): Promise<Tfjs> {
  // tfjs greets Node users on stdout-adjacent console.log/warn; keep stdout clean for --json.
  const restore = quietConsole();
  try {
    const tf = require('@tensorflow/tfjs');
    const wasm = require('@tensorflow/tfjs-backend-wasm');
    // The .wasm binaries ship inside the npm package: point the backend at them, no CDN.
    wasm.setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'))}/`);
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs wasm backend failed to initialise');
    await tf.ready();
    const threads = typeof wasm.getThreadsCount === 'function' ? wasm.getThreadsCount() : 1;
    return { tf, runtime: `@tensorflow/tfjs ${tf.version?.tfjs ?? ''} wasm, ${threads} thread${threads === 1 ? '' : 's'}` };
  } finally {
    restore();
  }
}

function quietConsole(): () => void {
  const { log, warn, info } = console;
  console.log = console.warn = console.info = () => {};
  return () => Object.assign(console, { log, warn, info });
}

/** FaceExpressionNet as face-api runs it: 112x112 RGB face tensors (0..255) → predictExpressions. */
async function loadFaceApiExpression({ tf }: Tfjs): Promise<Competitor> {
  const restore = quietConsole();
  let faceapi: any;
  try {
    faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
  } finally {
    restore();
  }
  const modelDir = join(packageRoot('@vladmandic/face-api'), 'model');
  await faceapi.nets.faceExpressionNet.loadFromDisk(modelDir);
  const toFaceApi: Record<string, Emotion> = {
    neutral: 'neutral', happy: 'happy', sad: 'sad', angry: 'angry', fearful: 'fear', disgusted: 'disgust', surprised: 'surprise',
  };
  // Crops → the 112x112x3 tensors face-api's own pipeline would hand the net (prepared once, outside the timing).
  const cache = new Map<GrayImage, any>();
  const tensorFor = (crop: GrayImage): any => {
    let t = cache.get(crop);
    if (!t) {
      t = tf.tidy(() => {
        const gray = tf.tensor3d(Float32Array.from(crop.data), [crop.height, crop.width, 1]);
        return tf.image.resizeBilinear(tf.tile(gray, [1, 1, 3]), [112, 112]);
      });
      cache.set(crop, t);
    }
    return t;
  };
  return {
    name: 'face-api FaceExpressionNet',
    inputSize: '112x112x3',
    async classify(faces) {
      const input = faces.map(tensorFor);
      const out = await faceapi.nets.faceExpressionNet.predictExpressions(input.length === 1 ? input[0] : input);
      const list: Array<Record<string, number>> = Array.isArray(out) ? out : [out];
      return list.map((p) => {
        const best = Object.keys(toFaceApi).reduce((a, b) => (p[b] > p[a] ? b : a));
        return toFaceApi[best];
      });
    },
    dispose() {
      for (const t of cache.values()) t.dispose();
      faceapi.nets.faceExpressionNet.dispose();
    },
  };
}

/**
 * Human's emotion model (oarriaga mini-Xception, 64x64 gray, dynamic batch) loaded from models/emotion.json, run
 * with the exact ops of Human's src/gear/emotion.ts predict(): RGB face (0..1) → resizeBilinear 64 → luma →
 * (x - 0.5) * 2 → execute.
 */
async function loadHumanEmotion({ tf }: Tfjs): Promise<Competitor> {
  const dir = join(packageRoot('@vladmandic/human'), 'models');
  const json = JSON.parse(await readFile(join(dir, 'emotion.json'), 'utf8'));
  const weightSpecs = json.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights);
  const buffers = await Promise.all(json.weightsManifest.flatMap((g: { paths: string[] }) => g.paths).map((p: string) => readFile(join(dir, p))));
  const weights = Buffer.concat(buffers);
  const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength);
  const model = await tf.loadGraphModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData, format: json.format }));
  const size = 64;
  const labels: Emotion[] = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral']; // oarriaga order
  const rgb = tf.tensor1d([0.2989, 0.587, 0.114], 'float32');
  const cache = new Map<GrayImage, any>();
  const tensorFor = (crop: GrayImage): any => {
    let t = cache.get(crop);
    if (!t) {
      t = tf.tidy(() => tf.tile(tf.tensor3d(Float32Array.from(crop.data), [crop.height, crop.width, 1]), [1, 1, 3]).div(255));
      cache.set(crop, t);
    }
    return t;
  };
  return {
    name: 'Human emotion (mini-Xception)',
    inputSize: '64x64x1',
    async classify(faces) {
      const inputs = faces.map(tensorFor);  // outside tidy(): cached tensors must outlive this call
      const out = tf.tidy(() => {
        const image = tf.stack(inputs);
        const resized = tf.image.resizeBilinear(image, [size, size], false);
        const gray = tf.sum(tf.mul(resized, rgb), 3, true);
        return model.execute(tf.mul(tf.sub(gray, 0.5), 2));
      });
      const data: Float32Array = await out.data();
      out.dispose();
      return faces.map((_, i) => {
        const row = data.subarray(i * labels.length, (i + 1) * labels.length);
        let best = 0;
        for (let k = 1; k < row.length; k++) if (row[k] > row[best]) best = k;
        return labels[best];
      });
    },
    dispose() {
      for (const t of cache.values()) t.dispose();
      rgb.dispose();
      model.dispose();
    },
  };
}


/** The readable report printed without --json. */
export function formatBench(r: BenchResult): string {
  const ms = (v: number | null): string => (v === null ? 'n/a' : v.toFixed(2));
  const x = (v: number | null): string => (v === null ? 'n/a' : `${v.toFixed(1)}x`);
  const lines: string[] = [];
  lines.push(`emolens bench — ${r.images.length} photos (${r.images.join(', ')}), ${r.faces} faces, ${r.rounds} timed rounds after warm-up`);
  lines.push(`machine: ${r.machine.cpus} CPUs, ${r.machine.platform}, Node ${r.machine.node}; model ${r.model.name}${r.model.parameters ? ` (${r.model.parameters.toLocaleString('en-US')} params)` : ''}`);
  lines.push('');
  lines.push('pipeline stage                 ms');
  lines.push(`decode (per image)      ${ms(r.decodeMsPerImage).padStart(9)}`);
  lines.push(`detect (per image)      ${ms(r.detectMsPerImage).padStart(9)}`);
  lines.push(`align  (per image)      ${ms(r.alignMsPerImage).padStart(9)}   (${ms(r.alignMsPerFace)} per face)`);
  lines.push(`whole pipeline          ${ms(r.pipelineMsPerImage).padStart(9)}   per image = ${r.imagesPerSecond.toFixed(2)} images/s`);
  lines.push('');
  lines.push('emotion classification, ms per face (same crops for every model)');
  const w = Math.max(...r.classifiers.map((c) => c.name.length)) + 2;
  lines.push(`${'model'.padEnd(w)}${'input'.padEnd(15)}${'batch 1'.padStart(9)}${'batch 32'.padStart(10)}  agrees  runtime`);
  for (const c of r.classifiers) {
    const agree = c.agreement === undefined ? '      ' : `${(c.agreement * 100).toFixed(0).padStart(5)}%`;
    lines.push(`${c.name.padEnd(w)}${c.inputSize.padEnd(15)}${ms(c.batch1MsPerFace).padStart(9)}${ms(c.batch32MsPerFace).padStart(10)}  ${agree}  ${c.runtime}`);
  }
  if (r.ratios.length) {
    lines.push('');
    lines.push('speed-up of emolens (their ms/face ÷ ours; >1 = emolens faster)');
    for (const q of r.ratios) {
      lines.push(`vs ${q.versus}: batch 1 ${x(q.batch1)}, batch 32 ${x(q.batch32)}; emolens on 1 thread: batch 1 ${x(q.batch1SingleThread)}, batch 32 ${x(q.batch32SingleThread)}`);
    }
    lines.push('("agrees": share of faces whose top emotion matches emolens\'s; not accuracy — these photos have no labels.');
    lines.push(' "+flip": emolens averages the face and its mirror image inside the graph, two passes per face, all in its ms/face.)');
  }
  return `${lines.join('\n')}\n`;
}
