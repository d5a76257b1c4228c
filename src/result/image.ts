/**
 * A photo's result, to JSON and CSV: `emolens analyze --json` / `--csv` (the contract users script against),
 * `emolens explain` and `demo`, the web app's downloads and the HTTP API all write faces through here, so a face
 * reads the same wherever it comes from. Rounding is format.ts's. Browser-safe, pure; decides no content (which
 * faces, which extra fields) — callers do.
 */
import { EMOTIONS, type Emotion, type EmotionProbabilities } from '../labels.js';
import { EV_FEATURES } from '../landmarks/ev.js';
import type { AnalysisResult, Box, FaceResult, Point } from '../types.js';
import { csvField, roundPx, roundUnit } from './format.js';

export interface BoxJson { x: number; y: number; width: number; height: number }

/** One face as JSON (key order is part of the contract: box, score, landmarks, emotions, dominant[, landmarks68, ev, saliency]). */
export interface FaceJson {
  box: BoxJson;
  score: number;
  landmarks: Record<string, { x: number; y: number }>;
  emotions: Record<Emotion, number>;
  dominant: Emotion;
  /** Only with `--landmarks68`: the 68 points as [x, y] pairs (image px, 0.1 px). */
  landmarks68?: [number, number][];
  /** Only with `--ev`: the 24 expressional-vector values (4 decimals) and their names. */
  ev?: { names: string[]; values: number[] };
  /** `emolens explain` only: the saliency map over the aligned crop (docs/explain.md). */
  saliency?: SaliencyJson;
}

/** A saliency map as JSON: which method, which emotion it explains, and width × height values row-major in [0, 1]. */
export interface SaliencyJson { method: string; emotion: Emotion; width: number; height: number; data: number[] }

export function saliencyJson(map: { method: string; emotion: Emotion; width: number; height: number; data: ArrayLike<number> }): SaliencyJson {
  return { method: map.method, emotion: map.emotion, width: map.width, height: map.height, data: Array.from(map.data, roundUnit) };
}

/** Names of the EV values, in output order (also the CSV columns `ev.<name>`). */
export const EV_NAMES: readonly string[] = EV_FEATURES.map((f) => f.name);

export function boxJson(box: Box): BoxJson {
  return { x: roundPx(box.x), y: roundPx(box.y), width: roundPx(box.width), height: roundPx(box.height) };
}

export function pointJson(p: Point): { x: number; y: number } {
  return { x: roundPx(p.x), y: roundPx(p.y) };
}

/** The 7 probabilities, rounded, in EMOTIONS order. */
export function emotionsJson(p: EmotionProbabilities): Record<Emotion, number> {
  return Object.fromEntries(EMOTIONS.map((e) => [e, roundUnit(p[e])])) as Record<Emotion, number>;
}

export function serializeFace(face: FaceResult & { saliency?: Parameters<typeof saliencyJson>[0] }): FaceJson {
  return {
    box: boxJson(face.box),
    score: roundUnit(face.score),
    landmarks: Object.fromEntries(Object.entries(face.landmarks).map(([k, p]) => [k, pointJson(p)])),
    emotions: emotionsJson(face.emotions),
    dominant: face.dominant,
    ...(face.landmarks68 ? { landmarks68: face.landmarks68.map((p): [number, number] => [roundPx(p.x), roundPx(p.y)]) } : {}),
    ...(face.ev ? { ev: { names: [...EV_NAMES], values: face.ev.map(roundUnit) } } : {}),
    ...(face.saliency ? { saliency: saliencyJson(face.saliency) } : {}),
  };
}

/** The faces of one analysed image, in the result's (reading) order: face #n is element n − 1. */
export function faceJson(result: Pick<AnalysisResult, 'faces'>): FaceJson[] {
  return result.faces.map(serializeFace);
}

/** One analysed image: an entry of `emolens analyze --json`'s "images" array, and the HTTP API's answer. */
export interface ImageEntryJson { file?: string; width: number; height: number; faces: FaceJson[] }

export function imageEntry(file: string | undefined, result: Pick<AnalysisResult, 'width' | 'height' | 'faces'>): ImageEntryJson {
  return { ...(file === undefined ? {} : { file }), width: result.width, height: result.height, faces: faceJson(result) };
}

/** CSV: one line per face — file, face index (1-based), box, score, dominant, 7 probabilities. */
export const CSV_HEADER = ['file', 'face', 'x', 'y', 'width', 'height', 'score', 'dominant', ...EMOTIONS].join(',');

/** Extra CSV columns (`--landmarks68`: p0.x … p67.y; `--ev`: ev.<name> × 24), after the probabilities. */
export interface CsvExtras { landmarks68?: boolean; ev?: boolean }

/** The CSV header line: CSV_HEADER, plus the extra columns asked for. */
export function csvHeader(extras: CsvExtras = {}): string {
  const cols = [CSV_HEADER];
  if (extras.landmarks68) cols.push(Array.from({ length: 68 }, (_, i) => `p${i}.x,p${i}.y`).join(','));
  if (extras.ev) cols.push(EV_NAMES.map((n) => `ev.${n}`).join(','));
  return cols.join(',');
}

/** The CSV lines (no header, no trailing newline) for the faces of one image. */
export function csvRows(file: string, result: Pick<AnalysisResult, 'faces'>, extras: CsvExtras = {}): string[] {
  return result.faces.map((f, i) => [
    csvField(file), i + 1,
    f.box.x.toFixed(1), f.box.y.toFixed(1), f.box.width.toFixed(1), f.box.height.toFixed(1),
    f.score.toFixed(4), f.dominant, ...EMOTIONS.map((e) => f.emotions[e].toFixed(4)),
    ...(extras.landmarks68 ? (f.landmarks68 ?? []).flatMap((p) => [p.x.toFixed(1), p.y.toFixed(1)]) : []),
    ...(extras.ev ? (f.ev ?? []).map((v) => v.toFixed(4)) : []),
  ].join(','));
}
