/**
 * The emotion classifier: aligned 48x48 gray face crops → 7 emotion probabilities, batched through the ONNX model
 * described by its sidecar (src/classify/contract.ts). Browser-safe: it gets the ONNX Runtime module and the model
 * bytes handed in; reading files lives in ./node.ts.
 */
import { firstErrorLine, OnnxModel, type OrtModule, type SessionOptions } from '../engine/index.js';
import { InvalidModelError } from '../errors.js';
import { EMOTIONS, type Emotion, type EmotionProbabilities } from '../labels.js';
import type { GrayImage } from '../types.js';
import { PIL_LUMA_WEIGHTS } from '../image/gray-resize.js';
import { READABLE_CONTRACT_FORMATS, type EmotionModelSidecar, type Float32Json } from './contract.js';
import { softmax, toNetInput } from './preprocess.js';

export type { EmotionModelSidecar } from './contract.js';
export { equalizeHistogram, softmax, toNetInput, writeNetInput } from './preprocess.js';

export interface ClassifierOptions extends SessionOptions {
  /** Faces per ONNX run (default 32). */
  batchSize?: number;
  /** Name used in error messages (a file path or model name). */
  source?: string;
}

/**
 * Check a sidecar against the contract; throws InvalidModelError naming the first problem.
 * Returns the sidecar typed, so it can also validate parsed JSON.
 */
export function validateEmotionSidecar(sidecar: unknown, source = 'emotion model sidecar'): EmotionModelSidecar {
  const fail = (reason: string): never => { throw new InvalidModelError(source, reason); };
  if (!sidecar || typeof sidecar !== 'object') fail('sidecar is not a JSON object');
  const s = sidecar as EmotionModelSidecar;
  if (!(READABLE_CONTRACT_FORMATS as readonly string[]).includes(s.format)) {
    fail(`sidecar format is ${JSON.stringify(s.format)}, expected one of ${READABLE_CONTRACT_FORMATS.map((f) => `"${f}"`).join(', ')}`);
  }
  if (s.task !== undefined && s.task !== 'emotion') fail(`sidecar task is ${JSON.stringify(s.task)}, expected "emotion"`);
  if (!Array.isArray(s.labels)) fail('sidecar has no "labels" array');
  const labels = new Set<string>(s.labels);
  if (labels.size !== EMOTIONS.length || s.labels.length !== EMOTIONS.length || !EMOTIONS.every((e) => labels.has(e))) {
    fail(`sidecar labels must be the 7 emotions ${EMOTIONS.join(', ')} (in any order), got ${JSON.stringify(s.labels)}`);
  }
  const input = s.input;
  if (!input || typeof input !== 'object') fail('sidecar has no "input" object');
  if (input.layout !== undefined && input.layout !== 'NCHW') fail(`input layout ${JSON.stringify(input.layout)} is not supported (NCHW only)`);
  if (input.channels !== 1 && input.channels !== 3) fail(`input channels must be 1 or 3, got ${JSON.stringify(input.channels)}`);
  const isSide = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;
  if (!isSide(input.height) || !isSide(input.width)) fail(`input height/width must be positive integers, got ${input.height}x${input.width}`);
  if (input.height !== input.width) fail(`input must be square, got ${input.height}x${input.width}`);
  if (!s.output || (s.output.kind !== 'logits' && s.output.kind !== 'probabilities')) {
    fail(`output.kind must be "logits" or "probabilities", got ${JSON.stringify(s.output?.kind)}`);
  }
  const p = s.preprocess;
  if (!p || typeof p !== 'object') fail('sidecar has no "preprocess" object');
  const fc = p.faceCrop;
  if (!fc || !isSide(fc.size)) fail('preprocess.faceCrop.size must be a positive integer');
  if (!(fc.eyeY > 0 && fc.eyeY < 1) || !(fc.eyeDistance > 0 && fc.eyeDistance < 1)) {
    fail('preprocess.faceCrop.eyeY and eyeDistance must be fractions between 0 and 1');
  }
  if (p.centerCrop !== input.height) fail(`preprocess.centerCrop (${p.centerCrop}) must equal the input size (${input.height})`);
  if (p.centerCrop > fc.size) fail(`preprocess.centerCrop (${p.centerCrop}) is larger than faceCrop.size (${fc.size})`);
  if (typeof p.scale !== 'number' || !Number.isFinite(p.scale)) fail('preprocess.scale must be a number');
  if (!Array.isArray(p.mean) || p.mean.length !== input.channels) fail(`preprocess.mean must have ${input.channels} value(s)`);
  if (!Array.isArray(p.std) || p.std.length !== input.channels || p.std.some((v) => !(v > 0))) {
    fail(`preprocess.std must have ${input.channels} positive value(s)`);
  }
  if (p.grayscale !== null && (!p.grayscale || !Array.isArray(p.grayscale.weights) || p.grayscale.weights.length !== 3)) {
    fail('preprocess.grayscale must be null or { weights: [r, g, b] }');
  }
  const gradcam = s.explain?.gradcam;
  if (gradcam !== undefined) {
    if (s.format === 'emolens-model/1') fail('explain is a contract /2 field: set format to "emolens-model/2"');
    if (gradcam.pooling !== 'mean+max' || gradcam.score !== 'logit') fail('explain.gradcam supports pooling "mean+max" and score "logit" only');
    if (!isSide(gradcam.stride)) fail('explain.gradcam.stride must be a positive integer');
    if (!Array.isArray(gradcam.heads) || gradcam.heads.length === 0) fail('explain.gradcam.heads must be a non-empty array');
    gradcam.heads.forEach((head, i) => {
      const shape = head?.weight?.shape;
      if (!isFloat32Json(head?.weight) || shape.length !== 2 || shape[0] !== s.labels.length || shape[1] % 2 !== 0) {
        fail(`explain.gradcam.heads[${i}].weight must be a float32 tensor [${s.labels.length}, 2K]`);
      }
      if (!isFloat32Json(head.bias) || head.bias.shape.join() !== String(s.labels.length)) fail(`explain.gradcam.heads[${i}].bias must be a float32 tensor [${s.labels.length}]`);
    });
    if (!Array.isArray(gradcam.branches) || gradcam.branches.length === 0) fail('explain.gradcam.branches must be a non-empty array');
    gradcam.branches.forEach((b, i) => {
      if (typeof b?.output !== 'string' || typeof b.hflip !== 'boolean' || !(Number.isInteger(b.head) && b.head >= 0 && b.head < gradcam.heads.length)) {
        fail(`explain.gradcam.branches[${i}] must be { output: string, hflip: boolean, head: index into heads }`);
      }
    });
  }
  return s;
}

function isFloat32Json(t: Float32Json | undefined): t is Float32Json {
  return Boolean(t) && t!.dtype === 'float32' && Array.isArray(t!.shape) && t!.shape.every((d) => Number.isInteger(d) && d > 0) && typeof t!.base64 === 'string';
}

/** Luma weights of a sidecar (ITU-R BT.601 when it leaves grayscale to the caller). */
export function lumaWeights(sidecar: EmotionModelSidecar): [number, number, number] {
  return sidecar.preprocess.grayscale?.weights ?? [...PIL_LUMA_WEIGHTS];
}

export class EmotionClassifier {
  /** For each output column, the index into EMOTIONS (sidecars may list the labels in another order). */
  private readonly columnToEmotion: number[];

  private constructor(
    private readonly model: OnnxModel,
    readonly sidecar: EmotionModelSidecar,
    private readonly outputName: string,
    private readonly batchSize: number,
  ) {
    this.columnToEmotion = sidecar.labels.map((label) => EMOTIONS.indexOf(label as Emotion));
  }

  /**
   * Validate the sidecar, open the ONNX session and check the graph's input matches the sidecar.
   * @throws InvalidModelError when the sidecar or the bytes are not a usable emotion model.
   */
  static async load(ort: OrtModule, bytes: Uint8Array, sidecar: EmotionModelSidecar, options: ClassifierOptions = {}): Promise<EmotionClassifier> {
    const source = options.source ?? sidecar?.name ?? 'emotion model';
    validateEmotionSidecar(sidecar, source);
    const model = await OnnxModel.loadModel(ort, bytes, source, options);
    const outputName = model.outputNames.includes(sidecar.output.name) ? sidecar.output.name : model.outputNames[0];
    const batchSize = Math.max(1, Math.floor(options.batchSize ?? 32));
    const classifier = new EmotionClassifier(model, sidecar, outputName, batchSize);
    await classifier.checkInputShape(source);
    return classifier;
  }

  /** Side of the square face crop the classifier expects (sidecar preprocess.faceCrop.size). */
  get cropSize(): number { return this.sidecar.preprocess.faceCrop.size; }

  /**
   * Emotion probabilities for each face crop (gray 0..255, `cropSize` square; other sizes are resized).
   * Runs in batches of `batchSize`.
   */
  async classify(faces: GrayImage[]): Promise<EmotionProbabilities[]> {
    const results: EmotionProbabilities[] = [];
    for (let start = 0; start < faces.length; start += this.batchSize) {
      const batch = faces.slice(start, start + this.batchSize);
      const { data, dims } = toNetInput(batch, this.sidecar);
      const out = (await this.model.run(data, dims, [this.outputName]))[this.outputName];
      results.push(...this.probabilityRows(out.data, batch.length));
    }
    return results;
  }

  /**
   * Probabilities plus the named extra graph outputs (e.g. Grad-CAM activations, sidecar explain.gradcam) for each
   * face, in one run per batch. Each extra output comes back per face: `outputs[name][i]` is face i's slice.
   */
  async classifyWithOutputs(faces: GrayImage[], extra: readonly string[]): Promise<{ probabilities: EmotionProbabilities[]; outputs: Record<string, Array<{ data: Float32Array; dims: number[] }>> }> {
    const missing = extra.filter((name) => !this.model.outputNames.includes(name));
    if (missing.length) throw new InvalidModelError(this.sidecar.name, `the ONNX graph has no output ${missing.join(', ')} (its sidecar names it)`);
    const probabilities: EmotionProbabilities[] = [];
    const outputs: Record<string, Array<{ data: Float32Array; dims: number[] }>> = Object.fromEntries(extra.map((name) => [name, []]));
    for (let start = 0; start < faces.length; start += this.batchSize) {
      const batch = faces.slice(start, start + this.batchSize);
      const { data, dims } = toNetInput(batch, this.sidecar);
      const out = await this.model.run(data, dims, [this.outputName, ...extra]);
      probabilities.push(...this.probabilityRows(out[this.outputName].data, batch.length));
      for (const name of extra) {
        const { data: values, dims: shape } = out[name];
        const per = values.length / batch.length;
        for (let i = 0; i < batch.length; i++) outputs[name].push({ data: values.slice(i * per, (i + 1) * per), dims: [1, ...shape.slice(1)] });
      }
    }
    return { probabilities, outputs };
  }

  private probabilityRows(data: Float32Array, faces: number): EmotionProbabilities[] {
    const classes = this.sidecar.labels.length;
    const rows: EmotionProbabilities[] = [];
    for (let i = 0; i < faces; i++) {
      const row = data.subarray(i * classes, (i + 1) * classes);
      const probs = this.sidecar.output.kind === 'logits' ? softmax(row) : normalize(row);
      const record = {} as EmotionProbabilities;
      this.columnToEmotion.forEach((e, col) => (record[EMOTIONS[e]] = probs[col]));
      rows.push(record);
    }
    return rows;
  }

  async dispose(): Promise<void> { await this.model.dispose(); }

  /** One run on a zero batch: catches a graph whose input dims disagree with the sidecar at load time. */
  private async checkInputShape(source: string): Promise<void> {
    const { channels, height, width } = this.sidecar.input;
    try {
      const out = await this.model.run(new Float32Array(channels * height * width), [1, channels, height, width], [this.outputName]);
      const result = out[this.outputName];
      const classes = result.dims[result.dims.length - 1];
      if (result.data.length !== 7 || classes !== 7) {
        throw new InvalidModelError(source, `model output ${this.outputName} has shape [${result.dims.join(', ')}], expected [N, 7]`);
      }
    } catch (err) {
      if (err instanceof InvalidModelError) throw err;
      throw new InvalidModelError(source, `model does not accept input [N, ${channels}, ${height}, ${width}] from its sidecar (${firstErrorLine(err)})`);
    }
  }
}

/** Guard against tiny drift in models that already output probabilities. */
function normalize(row: ArrayLike<number>): number[] {
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += row[i];
  return Array.from(row, (v) => (sum > 0 ? v / sum : 1 / row.length));
}
