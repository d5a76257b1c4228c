/**
 * The benchmark's comparison models: face-api's FaceExpressionNet and Human's emotion model (oarriaga's
 * mini-Xception, models/emotion.json), on @tensorflow/tfjs with the wasm backend, loaded from the files shipped in
 * their npm packages (no network). These four packages are devDependencies: src/bench/index.ts imports this module
 * only when missingComparisonPackages() is empty, so `emolens bench` in a user's install times emolens alone.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Emotion } from '../labels.js';
import type { GrayImage } from '../types.js';
import { packageRoot, require } from './packages.js';

/* tfjs is loaded untyped through require() to keep it out of
   the compile-time graph; only this module touches it. */
type Tf = any;

interface Tfjs { tf: Tf; runtime: string }

/** Dominant emotion per face crop, for a batch of crops. */
export type Classify<R> = (faces: GrayImage[]) => Promise<R[]>;

export interface Competitor {
  name: string;
  inputSize: string;
  classify: Classify<Emotion>;
  dispose(): void;
}

/** face-api's and Human's expression models on one tfjs wasm backend, with that runtime's description. */
export async function loadComparisons(): Promise<{ runtime: string; competitors: Competitor[] }> {
  const tfjs = await loadTfjsWasm();
  return { runtime: tfjs.runtime, competitors: [await loadFaceApiExpression(tfjs), await loadHumanEmotion(tfjs)] };
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
  const tensors = tensorCache((crop) => tf.tidy(() => {
    const gray = tf.tensor3d(Float32Array.from(crop.data), [crop.height, crop.width, 1]);
    return tf.image.resizeBilinear(tf.tile(gray, [1, 1, 3]), [112, 112]);
  }));
  return {
    name: 'face-api FaceExpressionNet',
    inputSize: '112x112x3',
    async classify(faces) {
      const input = faces.map(tensors.get);
      const out = await faceapi.nets.faceExpressionNet.predictExpressions(input.length === 1 ? input[0] : input);
      const list: Array<Record<string, number>> = Array.isArray(out) ? out : [out];
      return list.map((p) => {
        const best = Object.keys(toFaceApi).reduce((a, b) => (p[b] > p[a] ? b : a));
        return toFaceApi[best];
      });
    },
    dispose() {
      tensors.dispose();
      faceapi.nets.faceExpressionNet.dispose();
    },
  };
}

/** Each crop's input tensor, made on first use (so outside the timed runs) and kept until the adapter is disposed. */
function tensorCache(make: (crop: GrayImage) => any): { get: (crop: GrayImage) => any; dispose: () => void } {
  const cache = new Map<GrayImage, any>();
  return {
    get: (crop) => {
      let t = cache.get(crop);
      if (!t) cache.set(crop, (t = make(crop)));
      return t;
    },
    dispose: () => {
      for (const t of cache.values()) t.dispose();
      cache.clear();
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
  const tensors = tensorCache((crop) => tf.tidy(() => tf.tile(tf.tensor3d(Float32Array.from(crop.data), [crop.height, crop.width, 1]), [1, 1, 3]).div(255)));
  return {
    name: 'Human emotion (mini-Xception)',
    inputSize: '64x64x1',
    async classify(faces) {
      const inputs = faces.map(tensors.get);  // outside tidy(): cached tensors must outlive this call
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
      tensors.dispose();
      rgb.dispose();
      model.dispose();
    },
  };
}
