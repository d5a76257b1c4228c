/**
 * FaceDetector: BlazeFace (MediaPipe's 256 px model, converted to ONNX by training/convert/tfjs_to_onnx.py, any input size)
 * on any RgbaImage. Owns pre-processing (letterbox; the whole photo at 256 px and as larger views; tiles), the
 * batched ONNX runs (through engine/, the only ORT user) and post-processing: anchor decoding, sigmoid and NMS as
 * @vladmandic/human does them, plus the merging of passes (tiles.ts), a close-up check of faces only a tile or a
 * view saw small, and the second look (close-ups of faint view faces and of weak faces). Browser-safe: no Node imports.
 */
import { OnnxModel, type OrtModule, type SessionOptions } from '../engine/index.js';
import { UsageError } from '../errors.js';
import { boxFromCorners, containment, iou } from '../geometry.js';
import { assertRgbaImage } from '../image/rgba.js';
import type { Box, DetectedFace, Landmarks, Point, RgbaImage } from '../types.js';
import { generateAnchors } from './anchors.js';
import { parseDetectorSidecar, type DetectorSidecar } from './contract.js';
import { NESTED_THRESHOLD, nonMaxSuppression } from './nms.js';
import { letterboxInto, scaleImage, type Placement, type Region } from './letterbox.js';
import { floorFor, isPartOf, MIN_FACE_INPUT_PX, planPasses, plausibleLandmarks, tileSizeFor, type Pass, type TilePlan } from './tiles.js';

export interface DetectOptions {
  /** Minimum face score 0..1 (sigmoid of the logit). */
  minScore?: number;
  /**
   * Larger views of the whole photo, as multiples of the base pass's resolution (the photo shrunk into the 256 px
   * input): e.g. [2] adds one pass at twice the resolution (four times the pixels). Blurry or tightly cropped faces
   * need ~40 input px where sharp faces in context need 12; these passes give them that. [] = none.
   */
  views?: number[];
  /** Most input pixels over all views together (a 1024 x 640 view is 655,360); views past it are left out. */
  maxViewPixels?: number;
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
  /** Most tiles per photo (all levels); very large photos get larger tiles to stay within it. */
  maxTiles?: number;
  /** Most inputs per ONNX run; bounds memory at batchSize x 768 KiB of input. */
  batchSize?: number;
  /**
   * Look again at the faces a view saw but not surely enough (scores from 0.35 to the views' bar, or seen larger
   * than views keep), close up at four zooms, keeping those found at every one; and at faces scoring under 0.8,
   * from close up, dropping those not found there. Only with views (no effect with views: []).
   */
  secondLook?: boolean;
  /**
   * Views after the first see only windows around what the coarser passes saw (their faces and candidates scoring
   * at least this, not already sure), each window at the view's zoom and the network's own input size; the whole
   * view when that would cost as much. false: every view sees the whole photo (the default before issue 20).
   */
  focus?: false | number;
}

export const DEFAULT_DETECT_OPTIONS: Required<DetectOptions> = {
  minScore: 0.5,
  views: [2, 3],
  maxViewPixels: 1024 * 1024,
  iouThreshold: 0.3,
  maxFaces: 100,
  tiles: 'auto',
  minFaceSize: 40,
  tileOverlap: 0.25,
  maxTiles: 48,
  batchSize: 8,
  secondLook: true,
  focus: 0.1,
};

/** Smallest face box (input px) a view reports at all; below MIN_FACE_INPUT_PX only the close-up can tell. */
const VIEW_MIN_INPUT_PX = 8;
/** A view's face seen at this box side (input px) or more is sure; smaller ones get a close-up check. */
const VIEW_SURE_INPUT_PX = 24;
/**
 * Larger faces in a view are left to coarser passes, which see them at a third (or less) of this and well: zoomed
 * in, a dark corner or a shirt's texture is more often taken for a big face than a real one is missed.
 */
const VIEW_MAX_INPUT_PX = 128;
/** How much more than minScore a sure face from a view must score. */
const VIEW_SCORE_MARGIN = 0.1;

/** Close-up side for confirming a tile's face, in face sizes. */
const CLOSE_UP_CONTEXT = 4;

/**
 * With secondLook, a face scoring under RECHECK_BELOW is also looked at again close up and dropped if nothing
 * there scores RECHECK_MIN_SCORE: a weak "face" on a loose face's border or on clutter often vanishes close up,
 * a weak real face rarely does (seed 1, 500 canvases: 9 of 38 false faces gone, 4 of 1,873 found faces lost).
 */
const RECHECK_BELOW = 0.8;
const RECHECK_MIN_SCORE = 0.25;

/**
 * Second look (option secondLook): a view's face scoring at least this, but under the views' bar (or seen over
 * VIEW_MAX_INPUT_PX, up to SECOND_LOOK_MAX_INPUT_PX), is a candidate. Tight, blurry faces often score 0.4-0.6
 * whole and 0.8 close up; texture that passes one close-up rarely passes four at different zooms.
 */
const SECOND_LOOK_MIN_SCORE = 0.35;
const SECOND_LOOK_MAX_INPUT_PX = 200;
/** At most this many second-look candidates per photo, best first (each costs up to four inputs). */
const SECOND_LOOK_MAX_FACES = 16;
/**
 * The close-ups, in turn (crop side in face sizes, lowest score there): the first one's estimate replaces the
 * view's; a close-up whose crop would be larger than the photo is skipped. Set on dev-set seed 1 (docs/detector.md).
 */
const SECOND_LOOK_ZOOMS = [
  { context: 1.5, minScore: 0.7 }, { context: 2, minScore: 0.5 }, { context: 3, minScore: 0.5 }, { context: 4, minScore: 0.55 },
] as const;

/**
 * The last NMS, over the faces every pass and close-up kept: a face with this fraction of its box or more inside a
 * better face's box is dropped. Real faces' boxes (brow to chin) overlap that much only under heavy occlusion; what
 * does is a second box on a face's smeared border or on part of it, which the earlier merges (nested at 0.7) let
 * through. Only here: in the earlier merges it also removed small faces next to a coarse pass's badly sized box
 * (small sample faces at 35-60 px: 89 % -> 84 %). Dev-set seed 1 (tuning, 500 canvases): 29 -> 25 false faces,
 * recall unchanged. Human's NMS (IoU 0.1) is stricter still for boxes of equal size.
 */
const FINAL_OVERLAP = 0.3;

/** follow(): crop side in box sides, its input side (px, a multiple of 32), and how far a face may have moved (box sides). */
const FOLLOW_CONTEXT = 2;
const FOLLOW_INPUT_PX = 160;
const FOLLOW_MAX_SHIFT = 0.5;

/** With `focus`: a coarser pass's face scoring this (with face-like keypoints) needs no window in a finer view. */
const FOCUS_SURE_SCORE = 0.9;
/** With `focus`: candidates seen larger than this in the finer view get no window (coarser passes own them). */
const FOCUS_MAX_INPUT_PX = 96;
/** With `focus`: a window spans this many candidate sides at the finer view's zoom (at least FOCUS_MIN_INPUT_PX). */
const FOCUS_CONTEXT = 3.5;
const FOCUS_MIN_INPUT_PX = 96;

function finalFaces(faces: DetectedFace[], opts: Required<DetectOptions>): DetectedFace[] {
  return nonMaxSuppression(faces, opts.iouThreshold, opts.maxFaces, FINAL_OVERLAP);
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const logit = (p: number): number => Math.log(p / (1 - p));

/** Work a detector has done since it was loaded (or since `resetWork()`): exact, whatever the machine's load. */
export interface DetectorWork {
  /** detect() calls. */
  calls: number;
  /** ONNX runs (batches). */
  runs: number;
  /** Inputs (images in batches: whole photo, views, tiles, close-ups). */
  inputs: number;
  /** Input pixels over all inputs (a 256 x 256 input is 65,536): the network's cost grows with it. */
  inputPixels: number;
}

export class FaceDetector {
  readonly sidecar: DetectorSidecar;
  /** Counts of the work done (benchmarks compare them: docs/detector.md). */
  readonly work: DetectorWork = { calls: 0, runs: 0, inputs: 0, inputPixels: 0 };
  private readonly anchorsBySize = new Map<string, Float32Array>();
  private readonly inputSize: number;

  private constructor(private readonly model: OnnxModel, sidecar: DetectorSidecar, private readonly defaults: Required<DetectOptions>) {
    this.sidecar = sidecar;
    this.inputSize = sidecar.input.width;
  }

  /**
   * `bytes`: models/blazeface.onnx; `sidecar`: the parsed models/blazeface.json (validated here).
   * @throws InvalidModelError when the sidecar or the bytes are not a usable detector.
   */
  static async load(ort: OrtModule, bytes: Uint8Array, sidecar: unknown, options: SessionOptions & DetectOptions = {}): Promise<FaceDetector> {
    const parsed = parseDetectorSidecar(sidecar);
    const model = await OnnxModel.loadModel(ort, bytes, parsed.name, options);
    return new FaceDetector(model, parsed, resolveOptions(DEFAULT_DETECT_OPTIONS, options));
  }

  /** Faces in `image`, best first: boxes and landmarks in image pixels, clipped to the image. */
  async detect(image: RgbaImage, options: DetectOptions = {}): Promise<DetectedFace[]> {
    assertRgbaImage(image);
    const opts = resolveOptions(this.defaults, options);
    this.work.calls++;
    const views = this.viewPlan(image, opts);
    const passes = planPasses(image.width, image.height, this.inputSize, this.tilePlan(image, opts, views.at(-1)?.zoom));
    const minLogit = logit(Math.min(Math.max(opts.minScore, 1e-6), 1 - 1e-6));
    const focusLogit = opts.focus === false ? Infinity : logit(Math.min(Math.max(opts.focus, 1e-6), 1 - 1e-6));
    // with focus, the coarser passes also report weaker candidates: where the finer views look
    const proposals: DetectedFace[] = [];
    const found = (await this.runRegions(image, passes.map((p) => p.region), Math.min(minLogit, focusLogit), opts.batchSize, passes.map((p) => p.level)))
      .map((faces) => { proposals.push(...faces); return faces.filter((f) => f.score >= opts.minScore); });

    // every face with the pass it came from and that pass's zoom (input px per image px)
    const kept: { face: DetectedFace; pass: Pass; zoom: number }[] = [];
    passes.forEach((pass, i) => {
      const zoom = this.inputSize / Math.max(pass.region.width, pass.region.height);
      for (const face of found[i]) {
        if (!keptByPass(face.box, pass)) continue;
        // a face with its keypoints bunched together (part of a face, texture; a strong half profile too) needs a close-up
        const p = plausibleLandmarks(face) ? pass : { ...pass, level: Math.max(1, pass.level) };
        kept.push({ face, pass: p, zoom });
      }
    });
    const whole = { x: 0, y: 0, width: image.width, height: image.height };
    const doubtful: DetectedFace[] = [];   // second-look candidates
    const viewLogit = opts.secondLook ? Math.min(minLogit, logit(SECOND_LOOK_MIN_SCORE)) : minLogit;
    for (const [v, view] of views.entries()) {
      // focused only where the coarser view sees faces of minFaceSize: smaller ones leave it nothing to focus on
      const coarserSees = v > 0 && MIN_FACE_INPUT_PX / views[v - 1].zoom <= opts.minFaceSize;
      const windows = !coarserSees || opts.focus === false ? undefined : this.focusWindows(image, view, proposals);
      const decodeLogit = v < views.length - 1 ? Math.min(viewLogit, focusLogit) : viewLogit;
      let faces: DetectedFace[];
      if (windows === undefined) {
        [faces] = await this.runRegions(image, [whole], decodeLogit, opts.batchSize, undefined, view);
      } else {
        faces = [];
        for (const { inputSide, regions } of windows) {
          const found = await this.runRegions(image, regions, decodeLogit, opts.batchSize, undefined, { width: inputSide, height: inputSide });
          found.forEach((inWindow, w) => faces.push(...inWindow.filter((f) => insideRegion(f.box, regions[w]))));
        }
      }
      proposals.push(...faces);
      if (decodeLogit < viewLogit) faces = faces.filter((f) => f.score >= sigmoid(viewLogit) - 1e-9);
      // Seen at VIEW_SURE_INPUT_PX or more, a view's face is as good as the base pass's (if it scores a little
      // higher: views are where texture turns into "faces"); smaller ones get a close-up, like tile faces (level 1).
      for (const face of faces) {
        const inputSide = sideOf(face.box) * view.zoom;
        // zoomed in, part of a large face or texture passes for a face, its keypoints often bunched together
        if (inputSide < VIEW_MIN_INPUT_PX || !plausibleLandmarks(face)) continue;
        const sure = inputSide >= VIEW_SURE_INPUT_PX;
        if (inputSide > VIEW_MAX_INPUT_PX || (sure && face.score < opts.minScore + VIEW_SCORE_MARGIN)) {
          if (opts.secondLook && sure && inputSide <= SECOND_LOOK_MAX_INPUT_PX) doubtful.push(face);
          continue;
        }
        if (face.score < opts.minScore) continue;
        const pass: Pass = { region: whole, level: sure ? 0 : 1, floor: MIN_FACE_INPUT_PX / view.zoom, minFaceSize: 0, maxFaceSize: Infinity };
        kept.push({ face, pass, zoom: view.zoom });
      }
    }
    // A finer pass's face on the head of a face a coarser pass sees well (comfortably above its floor) is part of it.
    const wellSeen = kept.filter((k) => sideOf(k.face.box) >= k.pass.floor * 1.25);
    const partOfAnother = (small: (typeof kept)[number]) => wellSeen.some((l) => l.zoom < small.zoom && isPartOf(small.face, l.face));
    // Sure: whole-photo faces (base pass, large in a view); tile faces and small view faces need a close-up.
    const wholePhoto = nonMaxSuppression(kept.filter((k) => k.pass.level === 0).map((k) => k.face), opts.iouThreshold, opts.maxFaces);
    const unsure = kept.filter((k) => k.pass.level > 0 && !partOfAnother(k));
    let faces = wholePhoto;
    if (unsure.length > 0) {
      // A candidate on a face already sure is that face: no close-up for it.
      const fresh = nonMaxSuppression(unsure.map((k) => k.face), opts.iouThreshold, opts.maxFaces)
        .filter((c) => !overlapsAny(c, wholePhoto, opts.iouThreshold));
      const confirmed = await this.confirmCloseUp(image, fresh, minLogit, opts.batchSize);
      faces = nonMaxSuppression([...wholePhoto, ...confirmed], opts.iouThreshold, opts.maxFaces);
    }
    if (opts.secondLook && views.length > 0) faces = await this.recheckWeak(image, faces, opts.batchSize);
    if (doubtful.length === 0) return finalFaces(faces, opts);
    const second = nonMaxSuppression(doubtful, opts.iouThreshold, opts.maxFaces)
      .filter((c) => !overlapsAny(c, faces, opts.iouThreshold)).slice(0, SECOND_LOOK_MAX_FACES);
    // the close-up's estimate scores 0.7 or more, but a caller's minScore may be higher still
    const confirmed = (await this.secondLook(image, second, opts.batchSize)).filter((f) => f.score >= opts.minScore);
    return finalFaces([...faces, ...confirmed], opts);
  }

  /**
   * Follows faces from a previous frame into this one (video, live: track, then detect): for each box, a square crop
   * FOLLOW_CONTEXT box sides wide around it, seen at FOLLOW_INPUT_PX (the face ~80 input px, as a view sees it), and
   * the best face there that is the same one (centre within FOLLOW_MAX_SHIFT sides of the box's, size within 1.5x);
   * undefined where none scores `minScore` (the face left, turned away or moved too far: run `detect`). One input of
   * FOLLOW_INPUT_PX² per box, a ninth of a whole 1280x720 frame with its views.
   */
  async follow(image: RgbaImage, boxes: readonly Box[], options: Pick<DetectOptions, 'minScore' | 'batchSize'> = {}): Promise<(DetectedFace | undefined)[]> {
    assertRgbaImage(image);
    const opts = resolveOptions(this.defaults, options);
    this.work.calls++;
    if (boxes.length === 0) return [];
    const minLogit = logit(Math.min(Math.max(opts.minScore, 1e-6), 1 - 1e-6));
    const regions = boxes.map((box) => squareAround(image, box, FOLLOW_CONTEXT));
    const input = { width: FOLLOW_INPUT_PX, height: FOLLOW_INPUT_PX };
    const found = await this.runRegions(image, regions, minLogit, opts.batchSize, undefined, input);
    return boxes.map((box, i) => {
      const cx = box.x + box.width / 2;
      const cy = box.y + box.height / 2;
      const side = sideOf(box);
      return found[i].filter((f) => {
        const ratio = sideOf(f.box) / side;
        return ratio > 0.67 && ratio < 1.5 && insideRegion(f.box, regions[i])
          && Math.hypot(f.box.x + f.box.width / 2 - cx, f.box.y + f.box.height / 2 - cy) < side * FOLLOW_MAX_SHIFT;
      }).sort((a, b) => b.score - a.score)[0];
    });
  }

  /**
   * With `focus`: square windows for a finer view (zoom `view.zoom`, the network's input size each) around the
   * coarser passes' candidates that are not already sure, nearby candidates sharing a window; undefined when the
   * windows would cost as many input pixels as the whole view (then it runs whole).
   */
  private focusWindows(image: RgbaImage, view: { width: number; height: number; zoom: number }, proposals: DetectedFace[]): { inputSide: number; regions: Region[] }[] | undefined {
    const cell = this.sidecar.input.sizeMultiple ?? Math.max(...this.sidecar.anchors.strides);
    const sure = proposals.filter((f) => f.score >= FOCUS_SURE_SCORE && plausibleLandmarks(f));
    const candidates = nonMaxSuppression(proposals.filter((f) => sideOf(f.box) * view.zoom <= FOCUS_MAX_INPUT_PX
      && !sure.some((s) => iou(s.box, f.box) > 0.3 || containment(s.box, f.box) > NESTED_THRESHOLD)), 0.3, Infinity);
    const bySize = new Map<number, Region[]>();   // window input side -> windows
    const all: Region[] = [];
    let pixels = 0;
    for (const c of candidates) {
      const margin = sideOf(c.box) * 0.6;
      const cx = c.box.x + c.box.width / 2;
      const cy = c.box.y + c.box.height / 2;
      // a candidate well inside a window already planned is looked at there
      if (all.some((w) => cx - margin >= w.x && cy - margin >= w.y && cx + margin <= w.x + w.width && cy + margin <= w.y + w.height)) continue;
      // FOCUS_CONTEXT face sides of context at the view's zoom, in whole cells, at most the network's own input
      const inputSide = Math.min(this.inputSize, Math.max(FOCUS_MIN_INPUT_PX, Math.ceil((FOCUS_CONTEXT * sideOf(c.box) * view.zoom) / cell) * cell));
      const side = inputSide / view.zoom;
      const width = Math.min(image.width, Math.round(side));
      const height = Math.min(image.height, Math.round(side));
      const w: Region = {
        x: Math.round(Math.min(Math.max(0, cx - width / 2), image.width - width)),
        y: Math.round(Math.min(Math.max(0, cy - height / 2), image.height - height)),
        width, height,
      };
      all.push(w);
      if (!bySize.has(inputSide)) bySize.set(inputSide, []);
      bySize.get(inputSide)!.push(w);
      pixels += inputSide * inputSide;
      if (pixels >= view.width * view.height) return undefined;
    }
    return [...bySize].map(([inputSide, regions]) => ({ inputSide, regions }));
  }

  /**
   * The faces scoring under RECHECK_BELOW looked at again from a crop CLOSE_UP_CONTEXT faces wide (where that fits
   * in the photo): one with nothing there scoring RECHECK_MIN_SCORE is dropped. Costs one input per weak face.
   */
  private async recheckWeak(image: RgbaImage, faces: DetectedFace[], batchSize: number): Promise<DetectedFace[]> {
    const longSide = Math.max(image.width, image.height);
    const weak = faces.filter((f) => f.score < RECHECK_BELOW && sideOf(f.box) * CLOSE_UP_CONTEXT <= longSide);
    if (weak.length === 0) return faces;
    const matches = await this.closeUpMatches(image, weak, logit(RECHECK_MIN_SCORE), batchSize, CLOSE_UP_CONTEXT);
    const dropped = new Set(weak.filter((_, i) => matches[i] === undefined));
    return faces.filter((f) => !dropped.has(f));
  }

  /**
   * Each face looked at again close up at every SECOND_LOOK_ZOOMS zoom, in turn (only the faces still confirmed
   * go on: a face costs 1-4 inputs); returns the first close-up's estimates of the faces confirmed at every zoom.
   */
  private async secondLook(image: RgbaImage, faces: DetectedFace[], batchSize: number): Promise<DetectedFace[]> {
    const longSide = Math.max(image.width, image.height);
    let alive = faces.map((face) => ({ face, estimate: undefined as DetectedFace | undefined }));
    for (const { context, minScore } of SECOND_LOOK_ZOOMS) {
      const looked = alive.filter((a) => sideOf(a.face.box) * context <= longSide);
      if (looked.length === 0) continue;
      const matches = await this.closeUpMatches(image, looked.map((a) => a.face), logit(minScore), batchSize, context);
      const failed = new Set(looked.filter((_, i) => matches[i] === undefined));
      looked.forEach((a, i) => { a.estimate ??= matches[i]; });
      alive = alive.filter((a) => !failed.has(a));
    }
    return alive.flatMap((a) => (a.estimate ? [a.estimate] : []));
  }

  /**
   * Looks again at each face a tile (or a view, small) found, from close up (the face a quarter of the input, a
   * scale BlazeFace knows well): a face is confirmed there, texture mostly is not. Costs one input per face. Returns the close-up's
   * estimates (sharper: the face spans ~64 input px instead of 12-30) of the confirmed faces.
   */
  private async confirmCloseUp(image: RgbaImage, faces: DetectedFace[], minLogit: number, batchSize: number): Promise<DetectedFace[]> {
    return (await this.closeUpMatches(image, faces, minLogit, batchSize, CLOSE_UP_CONTEXT)).filter((f): f is DetectedFace => f !== undefined);
  }

  /**
   * For each face, the best face (logit >= minLogit) found in a square crop `context` face sides wide around it
   * (clipped to the image) that is the same face: centre within half a side, size within 1.5x; undefined if none.
   */
  private async closeUpMatches(image: RgbaImage, faces: DetectedFace[], minLogit: number, batchSize: number, context: number): Promise<(DetectedFace | undefined)[]> {
    const found = await this.runRegions(image, faces.map(({ box }) => squareAround(image, box, context)), minLogit, batchSize);
    return faces.map((face, i) => {
      const cx = face.box.x + face.box.width / 2;
      const cy = face.box.y + face.box.height / 2;
      const side = Math.max(face.box.width, face.box.height);
      return found[i].filter((f) => {
        const ratio = Math.max(f.box.width, f.box.height) / side;
        return ratio > 0.67 && ratio < 1.5 && Math.hypot(f.box.x + f.box.width / 2 - cx, f.box.y + f.box.height / 2 - cy) < side / 2;
      }).sort((a, b) => b.score - a.score)[0];
    });
  }

  /**
   * Every region letterboxed to the input and run in batches; faces (logit >= minLogit) per region, image pixels.
   * Regions sharing a `group` (a tile level: same size) are cut from one copy of the image scaled down once.
   */
  private async runRegions(
    image: RgbaImage, regions: Region[], minLogit: number, batchSize: number, groups?: number[],
    input: { width: number; height: number } = { width: this.inputSize, height: this.inputSize },
  ): Promise<DetectedFace[][]> {
    const size = this.inputSize;
    const perInput = 3 * input.width * input.height;
    const perRun = Math.max(1, Math.min(batchSize, Math.floor((batchSize * 3 * size * size) / perInput)));
    const buffer = new Float32Array(Math.min(perRun, regions.length) * perInput);
    const anchors = this.anchorsFor(input.width, input.height);
    const scaled = new Map<number, RgbaImage>();   // group -> the image at that group's zoom (at most one kept)
    const place = (region: Region, i: number, group: number | undefined): Placement => {
      const zoom = size / Math.max(region.width, region.height);
      if (group === undefined || group === 0 || zoom > 0.75) return letterboxInto(image, region, input, this.sidecar.preprocess, buffer, i * perInput);
      if (!scaled.has(group)) { scaled.clear(); scaled.set(group, scaleImage(image, zoom)); }
      // whole view pixels, so the tile is a plain copy (shifted by under half a view pixel from `region`)
      const inView = {
        x: Math.round(region.x * zoom), y: Math.round(region.y * zoom),
        width: Math.round(region.width * zoom), height: Math.round(region.height * zoom),
      };
      const p = letterboxInto(scaled.get(group)!, inView, size, this.sidecar.preprocess, buffer, i * perInput);
      const shifted = { x: inView.x / zoom, y: inView.y / zoom, width: inView.width / zoom, height: inView.height / zoom };
      return { region: shifted, scaleX: p.scaleX * zoom, scaleY: p.scaleY * zoom, padX: p.padX, padY: p.padY };
    };
    const faces: DetectedFace[][] = [];
    for (let first = 0; first < regions.length; first += perRun) {
      const batch = regions.slice(first, first + perRun);
      const placements = batch.map((region, i) => place(region, i, groups?.[first + i]));
      const data = batch.length * perInput === buffer.length ? buffer : buffer.subarray(0, batch.length * perInput);
      const out = await this.model.run(data, [batch.length, 3, input.height, input.width]);
      this.work.runs++;
      this.work.inputs += batch.length;
      this.work.inputPixels += batch.length * input.width * input.height;
      const boxes = out.regressors ?? out[this.model.outputNames[0]];
      const scores = out.classificators ?? out[this.model.outputNames[1]];
      placements.forEach((placement, i) => faces.push(this.decode(boxes.data, scores.data, i, placement, minLogit, image, anchors)));
    }
    return faces;
  }

  /** Zero the work counters. */
  resetWork(): void { Object.assign(this.work, { calls: 0, runs: 0, inputs: 0, inputPixels: 0 }); }

  async dispose(): Promise<void> { await this.model.dispose(); }

  /** Anchor centres for an input of width x height px (the sidecar's grids, extended over the larger input). */
  private anchorsFor(width: number, height: number): Float32Array {
    const key = `${width}x${height}`;
    let anchors = this.anchorsBySize.get(key);
    if (!anchors) this.anchorsBySize.set(key, anchors = generateAnchors({ ...this.sidecar.anchors, inputWidth: width, inputHeight: height }));
    return anchors;
  }

  /**
   * The larger views of the whole photo under `opts.views`: view s sees the photo at s times the base pass's
   * resolution (never above full resolution), as an input of that size rounded up to a size the network takes
   * (the sidecar's sizeMultiple, else whole cells of the coarsest grid: 32 px for the default model). Views over
   * `maxViewPixels` (input pixels, all views together) are left out.
   */
  private viewPlan(image: RgbaImage, opts: Required<DetectOptions>): { width: number; height: number; zoom: number }[] {
    const base = this.inputSize / Math.max(image.width, image.height);
    const cell = this.sidecar.input.sizeMultiple ?? Math.max(...this.sidecar.anchors.strides);
    const views: { width: number; height: number; zoom: number }[] = [];
    let pixels = 0;
    for (const scale of opts.views) {
      const zoom = Math.min(1, base * scale);
      if (zoom <= base * 1.2 || views.some((v) => v.zoom === zoom)) continue;
      const width = Math.ceil((image.width * zoom) / cell) * cell;
      const height = Math.ceil((image.height * zoom) / cell) * cell;
      if (pixels + width * height > opts.maxViewPixels) break;
      pixels += width * height;
      views.push({ width, height, zoom: Math.min(width / image.width, height / image.height) });
    }
    return views;
  }

  /** Tiling for this image under `opts`, or null for a single whole-photo pass. */
  private tilePlan(image: RgbaImage, opts: Required<DetectOptions>, finestViewZoom?: number): TilePlan | null {
    if (opts.tiles === 'off') return null;
    const plan = { overlap: opts.tileOverlap, maxTiles: opts.maxTiles };
    if (opts.tiles !== 'auto') return { ...plan, tileSize: opts.tiles };
    // auto: tiles only when neither the whole-photo pass nor the finest view can see faces as small as minFaceSize
    if (floorFor(Math.max(image.width, image.height), this.inputSize) <= opts.minFaceSize) return null;
    if (finestViewZoom !== undefined && MIN_FACE_INPUT_PX / finestViewZoom <= opts.minFaceSize) return null;
    return { ...plan, tileSize: tileSizeFor(opts.minFaceSize, this.inputSize) };
  }

  /** Anchor outputs of batch item `item` -> faces in image pixels (logit at least minLogit only). */
  private decode(boxes: Float32Array, scores: Float32Array, item: number, p: Placement, minLogit: number, image: RgbaImage, anchors: Float32Array): DetectedFace[] {
    const faces: DetectedFace[] = [];
    const anchorCount = anchors.length / 2;
    const stride = 4 + 2 * this.sidecar.keypoints.length;
    const toImage = (x: number, y: number): Point => ({ x: p.region.x + (x - p.padX) / p.scaleX, y: p.region.y + (y - p.padY) / p.scaleY });
    for (let a = 0; a < anchorCount; a++) {
      const s = scores[item * anchorCount + a];
      if (!(s >= minLogit)) continue;
      const r = (item * anchorCount + a) * stride;
      const ax = anchors[2 * a];
      const ay = anchors[2 * a + 1];
      const cx = ax + boxes[r];
      const cy = ay + boxes[r + 1];
      const w = boxes[r + 2];
      const h = boxes[r + 3];
      if (!(w > 0 && h > 0)) continue;
      const topLeft = toImage(cx - w / 2, cy - h / 2);
      const bottomRight = toImage(cx + w / 2, cy + h / 2);
      const box = boxFromCorners(topLeft, bottomRight, image.width, image.height);
      if (box.width <= 0 || box.height <= 0) continue;
      const points: Partial<Record<string, Point>> = {};
      this.sidecar.keypoints.forEach((name, k) => { points[name] = toImage(ax + boxes[r + 4 + 2 * k], ay + boxes[r + 5 + 2 * k]); });
      faces.push({ box, score: sigmoid(s), landmarks: points as unknown as Landmarks });
    }
    return faces;
  }
}

const sideOf = (box: Box): number => Math.max(box.width, box.height);

/** A square `context` box sides wide around the box's centre, clipped to the image. */
function squareAround(image: RgbaImage, box: Box, context: number): Region {
  const side = sideOf(box) * context;
  const x = Math.max(0, Math.round(box.x + box.width / 2 - side / 2));
  const y = Math.max(0, Math.round(box.y + box.height / 2 - side / 2));
  return { x, y, width: Math.min(image.width - x, Math.round(side)), height: Math.min(image.height - y, Math.round(side)) };
}

/** Whether `face` is one of `faces` by NMS's rules (overlap above iouThreshold, or nested in it). */
const overlapsAny = (face: DetectedFace, faces: readonly DetectedFace[], iouThreshold: number): boolean =>
  faces.some((f) => iou(f.box, face.box) > iouThreshold || containment(f.box, face.box) > NESTED_THRESHOLD);

/** Whether a box lies inside a region (a tenth of its side may poke out), so a window's face is whole there. */
function insideRegion(box: Box, r: Region): boolean {
  const slack = 0.1 * sideOf(box);
  return box.x >= r.x - slack && box.y >= r.y - slack && box.x + box.width <= r.x + r.width + slack && box.y + box.height <= r.y + r.height + slack;
}

/** Whether `pass` owns this face: its size is in the pass's band and, for tiles, it lies wholly inside. */
function keptByPass(box: Box, pass: Pass): boolean {
  const side = sideOf(box);
  if (side < pass.minFaceSize || side >= pass.maxFaceSize) return false;
  if (pass.level === 0) return true;
  const r = pass.region;
  const slack = 0.1 * side;                      // a whole face's predicted box may poke out a little
  return box.x >= r.x - slack && box.y >= r.y - slack
    && box.x + box.width <= r.x + r.width + slack && box.y + box.height <= r.y + r.height + slack;
}

/** `base` overridden by the detect options set in `given` (other keys ignored), checked; UsageError if out of range. */
function resolveOptions(base: Required<DetectOptions>, given: DetectOptions): Required<DetectOptions> {
  const opts = { ...base };
  for (const key of Object.keys(base) as (keyof DetectOptions)[]) {
    if (given[key] !== undefined) (opts as Record<string, unknown>)[key] = given[key];
  }
  const bad = (name: string, want: string, value: unknown): never => {
    throw new UsageError(`detector option ${name} must be ${want}, got ${JSON.stringify(value)}`);
  };
  if (!(opts.minScore >= 0 && opts.minScore <= 1)) bad('minScore', 'between 0 and 1', opts.minScore);
  if (!(Array.isArray(opts.views) && opts.views.every((v) => typeof v === 'number' && v > 1))) bad('views', 'a list of resolution multiples above 1', opts.views);
  if (!(opts.maxViewPixels >= 0)) bad('maxViewPixels', 'a non-negative number of input pixels', opts.maxViewPixels);
  if (!(opts.iouThreshold >= 0 && opts.iouThreshold <= 1)) bad('iouThreshold', 'between 0 and 1', opts.iouThreshold);
  if (!(Number.isInteger(opts.maxFaces) && opts.maxFaces >= 0)) bad('maxFaces', 'a non-negative integer', opts.maxFaces);
  if (opts.tiles !== 'auto' && opts.tiles !== 'off' && !(typeof opts.tiles === 'number' && opts.tiles >= 64)) {
    bad('tiles', '"auto", "off" or a tile side of at least 64 px', opts.tiles);
  }
  if (!(opts.minFaceSize > 0)) bad('minFaceSize', 'a positive number of pixels', opts.minFaceSize);
  if (!(opts.tileOverlap >= 0 && opts.tileOverlap <= 0.75)) bad('tileOverlap', 'between 0 and 0.75', opts.tileOverlap);
  if (!(Number.isInteger(opts.maxTiles) && opts.maxTiles >= 0)) bad('maxTiles', 'a non-negative integer', opts.maxTiles);
  if (!(Number.isInteger(opts.batchSize) && opts.batchSize >= 1)) bad('batchSize', 'a positive integer', opts.batchSize);
  if (typeof opts.secondLook !== 'boolean') bad('secondLook', 'true or false', opts.secondLook);
  if (!(opts.focus === false || (typeof opts.focus === 'number' && opts.focus > 0 && opts.focus < 1))) bad('focus', 'false or a score between 0 and 1', opts.focus);
  return opts;
}
