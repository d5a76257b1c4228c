/**
 * Which parts of a photo the detector looks at. BlazeFace (the short-range front model) sees a 256 px square and
 * finds faces whose box is at least ~MIN_FACE_INPUT_PX of it, so a 1920 px photo letterboxed whole loses faces
 * under ~90 px. Tiles are extra, overlapping square crops, each looked at at 256 px, that find the small ones.
 *
 * Each pass owns a band of face sizes, so passes do not fight over a face: the whole-photo pass owns the faces it
 * localises well (below its floor it still fires, but boxes drift by half a face, and those would survive NMS
 * beside the tile's good box); tiles own the smaller ones (larger "faces" in a tile are found by the whole-photo
 * pass already, or are texture the zoom invents) and keep only faces wholly inside them (the overlap guarantees
 * that a face cut by one tile's edge is whole in its neighbour). The bands overlap by BAND_OVERLAP either way
 * so a face at the hand-over size is not lost when its two estimates differ a little; NMS merges the pair.
 * Zoomed in, parts of a big face (a mouth, a strand of hair above the forehead) can pass for small faces; a tile's
 * face whose centre lies on the head of a clearly larger whole-photo face is dropped (headRegion): a real face
 * there would be hidden behind that head.
 */
import type { Box } from '../types.js';
import type { Region } from './resample.js';

/** Smallest face box, in detector input pixels, BlazeFace finds reliably (~95%, measured in docs/detector.md). */
export const MIN_FACE_INPUT_PX = 12;
/** 'auto' tiles bring the smallest wanted face to this input size: comfortably above the floor. */
const TILE_TARGET_INPUT_PX = 16;
/** Hand-over band between the whole-photo pass and the tiles, as a factor either side of the floor. */
const BAND_OVERLAP = 1.25;

/** One detector input: a region, and what a tile may keep. */
export interface Pass {
  region: Region;
  /** Faces (box side, image px) below this belong to another pass; 0 = no lower bound. */
  minFaceSize: number;
  /** Faces at or above this belong to another pass; Infinity = no upper bound. */
  maxFaceSize: number;
  /** Keep only faces wholly inside the region (tiles). */
  wholeOnly: boolean;
}

export interface TilePlan {
  /** Square tile side in image px. */
  tileSize: number;
  /** Overlap between neighbouring tiles, as a fraction of tileSize (raised when faces up to the cap need more). */
  overlap: number;
}

/** A tile face this much smaller than a whole-photo face, centred on its head, is part of that face. */
const PART_OF_FACE_RATIO = 1.5;

/** The head around a face box: hair above, a little to the sides and below (BlazeFace boxes span brow to chin). */
export function headRegion(face: Box): Box {
  return {
    x: face.x - 0.2 * face.width,
    y: face.y - 0.6 * face.height,
    width: 1.4 * face.width,
    height: 1.9 * face.height,
  };
}

/** Whether `small` (from a tile) is more likely a part of `large` (from the whole-photo pass) than a face of its own. */
export function isPartOf(small: Box, large: Box): boolean {
  if (Math.max(large.width, large.height) < PART_OF_FACE_RATIO * Math.max(small.width, small.height)) return false;
  const head = headRegion(large);
  const cx = small.x + small.width / 2;
  const cy = small.y + small.height / 2;
  return cx >= head.x && cx <= head.x + head.width && cy >= head.y && cy <= head.y + head.height;
}

/** The smallest face (image px) the whole-photo pass finds reliably in a width x height photo. */
export function wholePhotoMinFace(width: number, height: number, inputSize: number): number {
  return (MIN_FACE_INPUT_PX * Math.max(width, height)) / inputSize;
}

/** The tile side that brings faces of `minFace` image px up to a comfortable input size. */
export function tileSizeFor(minFace: number, inputSize: number): number {
  return Math.round((minFace * inputSize) / TILE_TARGET_INPUT_PX);
}

/** Offsets of `count` windows of `size` spread evenly over `total` (first at 0, last flush with the end). */
function spread(total: number, size: number, count: number): number[] {
  if (count <= 1) return [Math.max(0, Math.round((total - size) / 2))];
  const step = (total - size) / (count - 1);
  return Array.from({ length: count }, (_, i) => Math.round(i * step));
}

/** The whole photo first, then (when `plan` asks and it helps) a grid of overlapping square tiles. */
export function planPasses(width: number, height: number, inputSize: number, plan: TilePlan | null): Pass[] {
  const whole: Pass = { region: { x: 0, y: 0, width, height }, minFaceSize: 0, maxFaceSize: Infinity, wholeOnly: false };
  if (!plan) return [whole];
  const side = Math.max(inputSize, Math.round(plan.tileSize));    // no point enlarging past 1:1
  const floor = wholePhotoMinFace(width, height, inputSize);
  const cap = floor * BAND_OVERLAP;
  if (side >= Math.max(width, height) * 0.75 || side < cap * 2) return [whole];
  whole.minFaceSize = floor / BAND_OVERLAP;
  const passes = [whole];
  const overlap = Math.max(plan.overlap * side, cap * 1.2);
  const tileW = Math.min(side, width);
  const tileH = Math.min(side, height);
  const nx = width > tileW ? Math.ceil((width - tileW) / (tileW - overlap)) + 1 : 1;
  const ny = height > tileH ? Math.ceil((height - tileH) / (tileH - overlap)) + 1 : 1;
  for (const y of spread(height, tileH, ny)) {
    for (const x of spread(width, tileW, nx)) passes.push({ region: { x, y, width: tileW, height: tileH }, minFaceSize: 0, maxFaceSize: cap, wholeOnly: true });
  }
  return passes;
}
