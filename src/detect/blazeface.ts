/**
 * FaceDetector: BlazeFace (MediaPipe short-range front model, converted to ONNX by training/tfjs_to_onnx.py) on any
 * RgbaImage. Owns pre-processing (letterbox, tiles), the batched ONNX runs (through engine/) and post-processing
 * (anchor decoding, sigmoid, NMS) the way @vladmandic/human does it. Browser-safe: no Node imports.
 */
import { OnnxModel, type OrtModule, type SessionOptions } from '../engine/index.js';
import { InvalidImageError } from '../errors.js';
import type { Box, DetectedFace, Landmarks, Point, RgbaImage } from '../types.js';
import { generateAnchors } from './anchors.js';
import { parseDetectorSidecar, type DetectorSidecar } from './contract.js';
import { nonMaxSuppression } from './nms.js';
import { letterboxInto, type Placement, type Region } from './resample.js';
import { isPartOf, planPasses, tileSizeFor, wholePhotoMinFace, type Pass, type TilePlan } from './tiles.js';

export interface DetectOptions {
  /** Minimum face score 0..1 (sigmoid of the logit). */
  minScore?: number;
  /** Candidates overlapping a better one by more than this IoU are dropped. */
  iouThreshold?: number;
  maxFaces?: number;
  /**
   * Extra tiled passes for small faces in large photos. 'auto': tiles sized to find faces down to `minFaceSize` px
   * (only when the whole-photo pass cannot); 'off': one whole-photo pass; a number: tile side in image px.
   */
  tiles?: 'auto' | 'off' | number;
  /** Smallest face side (image px) 'auto' tiling aims to find. */
  minFaceSize?: number;
  /** Overlap of neighbouring tiles as a fraction of the tile side. */
  tileOverlap?: number;
  /** Most inputs per ONNX run; bounds memory at batchSize x 768 KiB of input. */
  batchSize?: number;
}

export const DEFAULT_DETECT_OPTIONS: Required<DetectOptions> = {
  minScore: 0.5,
  iouThreshold: 0.3,
  maxFaces: 100,
  tiles: 'auto',
  minFaceSize: 40,
  tileOverlap: 0.25,
  batchSize: 8,
};

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const logit = (p: number): number => Math.log(p / (1 - p));

export class FaceDetector {
  readonly sidecar: DetectorSidecar;
  private readonly anchors: Float32Array;
  private readonly inputSize: number;

  private constructor(private readonly model: OnnxModel, sidecar: DetectorSidecar, private readonly defaults: Required<DetectOptions>) {
    this.sidecar = sidecar;
    this.anchors = generateAnchors(sidecar.anchors);
    this.inputSize = sidecar.input.width;
  }

  /** `bytes`: models/blazeface.onnx; `sidecar`: the parsed models/blazeface.json (validated here). */
  static async load(ort: OrtModule, bytes: Uint8Array, sidecar: unknown, options: SessionOptions & DetectOptions = {}): Promise<FaceDetector> {
    const parsed = parseDetectorSidecar(sidecar);
    const model = await OnnxModel.load(ort, bytes, options);
    const defaults = { ...DEFAULT_DETECT_OPTIONS, ...definedOnly(options) };
    return new FaceDetector(model, parsed, defaults);
  }

  /** Faces in `image`, best first: boxes and landmarks in image pixels, clipped to the image. */
  async detect(image: RgbaImage, options: DetectOptions = {}): Promise<DetectedFace[]> {
    checkImage(image);
    const opts = { ...this.defaults, ...definedOnly(options) };
    const passes = planPasses(image.width, image.height, this.inputSize, this.tilePlan(image, opts));
    const minLogit = logit(Math.min(Math.max(opts.minScore, 1e-6), 1 - 1e-6));
    const found = await this.runRegions(image, passes.map((p) => p.region), minLogit, opts.batchSize);

    const wholePhoto: DetectedFace[] = [];
    const fromTiles: DetectedFace[] = [];
    passes.forEach((pass, i) => {
      for (const face of found[i]) if (keptByPass(face.box, pass)) (pass.wholeOnly ? fromTiles : wholePhoto).push(face);
    });
    if (fromTiles.length === 0) return nonMaxSuppression(wholePhoto, opts.iouThreshold, opts.maxFaces);

    // Only faces the whole-photo pass localises well (above the tiles' band) can claim a tile's face as their part.
    const tileCap = passes.find((p) => p.wholeOnly)?.maxFaceSize ?? Infinity;
    const large = wholePhoto.filter((f) => Math.max(f.box.width, f.box.height) >= tileCap);
    let ownFaces = fromTiles.filter((small) => !large.some((l) => isPartOf(small.box, l.box)));
    if (process.env.VERIFY) ownFaces = await this.confirmCloseUp(image, nonMaxSuppression(ownFaces, opts.iouThreshold, opts.maxFaces), minLogit, opts.batchSize);
    return nonMaxSuppression([...wholePhoto, ...ownFaces], opts.iouThreshold, opts.maxFaces);
  }

  /**
   * Looks again at each face a tile found, from close up (face ~1/CLOSE_UP of the input, the scale BlazeFace
   * knows best): a face is confirmed there, texture mostly is not. Returns the close-up's estimates of the confirmed.
   */
  private async confirmCloseUp(image: RgbaImage, faces: DetectedFace[], minLogit: number, batchSize: number): Promise<DetectedFace[]> {
    const CLOSE_UP = Number(process.env.CLOSE_UP ?? 4);
    const regions = faces.map(({ box }) => {
      const side = Math.max(box.width, box.height) * CLOSE_UP;
      const x = Math.max(0, Math.round(box.x + box.width / 2 - side / 2));
      const y = Math.max(0, Math.round(box.y + box.height / 2 - side / 2));
      return { x, y, width: Math.min(image.width - x, Math.round(side)), height: Math.min(image.height - y, Math.round(side)) };
    });
    const found = await this.runRegions(image, regions, minLogit, batchSize);
    const confirmed: DetectedFace[] = [];
    faces.forEach((face, i) => {
      const cx = face.box.x + face.box.width / 2;
      const cy = face.box.y + face.box.height / 2;
      const side = Math.max(face.box.width, face.box.height);
      const match = found[i].filter((f) => Math.hypot(f.box.x + f.box.width / 2 - cx, f.box.y + f.box.height / 2 - cy) < side / 2)
        .sort((a, b) => b.score - a.score)[0];
      if (match) confirmed.push(process.env.KEEP_TILE ? face : match);
    });
    return confirmed;
  }

  /** Every region letterboxed to the input and run in batches; faces (logit >= minLogit) per region, image pixels. */
  private async runRegions(image: RgbaImage, regions: Region[], minLogit: number, batchSize: number): Promise<DetectedFace[][]> {
    const size = this.inputSize;
    const perInput = 3 * size * size;
    const perRun = Math.max(1, Math.floor(batchSize));
    const buffer = new Float32Array(Math.min(perRun, regions.length) * perInput);
    const faces: DetectedFace[][] = [];
    for (let first = 0; first < regions.length; first += perRun) {
      const batch = regions.slice(first, first + perRun);
      const placements = batch.map((region, i) => letterboxInto(image, region, size, this.sidecar.preprocess, buffer, i * perInput));
      const input = batch.length * perInput === buffer.length ? buffer : buffer.subarray(0, batch.length * perInput);
      const out = await this.model.run(input, [batch.length, 3, size, size]);
      const boxes = out.regressors ?? out[this.model.outputNames[0]];
      const scores = out.classificators ?? out[this.model.outputNames[1]];
      placements.forEach((placement, i) => faces.push(this.decode(boxes.data, scores.data, i, placement, minLogit, image)));
    }
    return faces;
  }

  async dispose(): Promise<void> { await this.model.dispose(); }

  /** Tiling for this image under `opts`, or null for a single whole-photo pass. */
  private tilePlan(image: RgbaImage, opts: Required<DetectOptions>): TilePlan | null {
    if (opts.tiles === 'off') return null;
    if (opts.tiles !== 'auto') return { tileSize: opts.tiles, overlap: opts.tileOverlap };
    // auto: tiles only when the whole-photo pass cannot see faces as small as minFaceSize
    if (wholePhotoMinFace(image.width, image.height, this.inputSize) <= opts.minFaceSize) return null;
    return { tileSize: tileSizeFor(opts.minFaceSize, this.inputSize), overlap: opts.tileOverlap };
  }

  /** Anchor outputs of batch item `item` -> faces in image pixels (logit at least minLogit only). */
  private decode(boxes: Float32Array, scores: Float32Array, item: number, p: Placement, minLogit: number, image: RgbaImage): DetectedFace[] {
    const faces: DetectedFace[] = [];
    const anchorCount = this.anchors.length / 2;
    const stride = 4 + 2 * this.sidecar.keypoints.length;
    const toImage = (x: number, y: number): Point => ({ x: p.region.x + (x - p.padX) / p.scaleX, y: p.region.y + (y - p.padY) / p.scaleY });
    for (let a = 0; a < anchorCount; a++) {
      const s = scores[item * anchorCount + a];
      if (!(s >= minLogit)) continue;
      const r = (item * anchorCount + a) * stride;
      const ax = this.anchors[2 * a];
      const ay = this.anchors[2 * a + 1];
      const cx = ax + boxes[r];
      const cy = ay + boxes[r + 1];
      const w = boxes[r + 2];
      const h = boxes[r + 3];
      if (!(w > 0 && h > 0)) continue;
      const topLeft = toImage(cx - w / 2, cy - h / 2);
      const bottomRight = toImage(cx + w / 2, cy + h / 2);
      const box = clipBox(topLeft, bottomRight, image);
      if (box.width <= 0 || box.height <= 0) continue;
      const points: Partial<Record<string, Point>> = {};
      this.sidecar.keypoints.forEach((name, k) => { points[name] = toImage(ax + boxes[r + 4 + 2 * k], ay + boxes[r + 5 + 2 * k]); });
      faces.push({ box, score: sigmoid(s), landmarks: points as unknown as Landmarks });
    }
    return faces;
  }
}

/** Whether `pass` owns this face: its size is in the pass's band and, for tiles, it lies wholly inside. */
function keptByPass(box: Box, pass: Pass): boolean {
  const side = Math.max(box.width, box.height);
  if (side < pass.minFaceSize || side >= pass.maxFaceSize) return false;
  if (!pass.wholeOnly) return true;
  const r = pass.region;
  const slack = 0.1 * side;                      // a whole face's predicted box may poke out a little
  return box.x >= r.x - slack && box.y >= r.y - slack
    && box.x + box.width <= r.x + r.width + slack && box.y + box.height <= r.y + r.height + slack;
}

function clipBox(a: Point, b: Point, image: RgbaImage): Box {
  const x0 = Math.max(0, Math.min(image.width, a.x));
  const y0 = Math.max(0, Math.min(image.height, a.y));
  const x1 = Math.max(0, Math.min(image.width, b.x));
  const y1 = Math.max(0, Math.min(image.height, b.y));
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

function checkImage(image: RgbaImage): void {
  if (!image || !(image.width > 0) || !(image.height > 0) || !Number.isInteger(image.width) || !Number.isInteger(image.height)) {
    throw new InvalidImageError('image', 'width and height must be positive integers');
  }
  if (!image.data || image.data.length !== image.width * image.height * 4) {
    throw new InvalidImageError('image', `expected ${image.width * image.height * 4} bytes of RGBA, got ${image.data?.length ?? 0}`);
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
