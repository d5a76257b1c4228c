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
 * face whose centre lies on the head of a clearly larger face from a coarser pass is dropped (isPartOf): a real
 * face there would be hidden behind that head. Very large photos get more than one tile level (LEVEL_RATIO), and
 * a tile budget bounds the cost: over it, the finest tiles grow.
 */
import type { Box, DetectedFace } from '../types.js';
import type { Region } from './letterbox.js';

/** Smallest face box, in detector input pixels, BlazeFace finds reliably (~95%, measured in docs/detector.md). */
export const MIN_FACE_INPUT_PX = 12;
/** 'auto' tiles bring the smallest wanted face to this input size: comfortably above the floor. */
const TILE_TARGET_INPUT_PX = 16;
/** Hand-over band between a pass and the next finer one, as a factor either side of the coarser pass's floor. */
const BAND_OVERLAP = 1.25;
/** Largest side ratio between a tile level and the level (or whole photo) above it; beyond, a level is inserted. */
const LEVEL_RATIO = 4;
/** Growth of the finest tile side while a plan is over its tile budget. */
const BUDGET_GROWTH = 1.25;
/** A tile face this much smaller than a face from a coarser pass, centred on its head, is part of that face. */
const PART_OF_FACE_RATIO = 1.5;

/** One detector input: a region, the band of face sizes it owns, and how far it sees. */
export interface Pass {
  region: Region;
  /** 0 for the whole photo, 1.. for ever finer tile levels. */
  level: number;
  /** Smallest face (box side, image px) this pass finds reliably. */
  floor: number;
  /** Faces below this belong to a finer pass; 0 = no lower bound. */
  minFaceSize: number;
  /** Faces at or above this belong to a coarser pass; Infinity = no upper bound. */
  maxFaceSize: number;
}

export interface TilePlan {
  /** Side of the finest tiles in image px. */
  tileSize: number;
  /** Overlap between neighbouring tiles, as a fraction of the tile side (raised when the size band needs more). */
  overlap: number;
  /** Most tiles over all levels; over it, the finest tiles grow (and the smallest findable face with them). */
  maxTiles: number;
}

/**
 * Whether the face `small` (from a tile) lies on the head of `large` (from a coarser pass) and is clearly
 * smaller, so more likely a part of it than a face of its own. The head is taken in the large face's own frame
 * (x along its eye line, y towards its mouth, so a tilted head counts too): BlazeFace boxes span brow to chin,
 * the head reaches 0.7 box heights above (hair), 0.2 widths to each side and 0.3 heights below.
 */
export function isPartOf(small: DetectedFace, large: DetectedFace): boolean {
  const sizeOf = (b: Box) => Math.max(b.width, b.height);
  if (sizeOf(large.box) < PART_OF_FACE_RATIO * sizeOf(small.box)) return false;
  const { rightEye, leftEye } = large.landmarks;
  const angle = Math.atan2(leftEye.y - rightEye.y, leftEye.x - rightEye.x);
  const dx = small.box.x + small.box.width / 2 - (large.box.x + large.box.width / 2);
  const dy = small.box.y + small.box.height / 2 - (large.box.y + large.box.height / 2);
  const across = (dx * Math.cos(angle) + dy * Math.sin(angle)) / large.box.width;    // along the eye line
  const down = (-dx * Math.sin(angle) + dy * Math.cos(angle)) / large.box.height;     // towards the mouth
  return Math.abs(across) <= 0.7 && down >= -1.2 && down <= 0.8;
}

/** The smallest face (image px) a pass over a region with this long side finds reliably. */
export function floorFor(regionSide: number, inputSize: number): number {
  return (MIN_FACE_INPUT_PX * regionSide) / inputSize;
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

/** Tile sides from coarse to fine, ending at `finest`, none nearly as large as the photo. */
function levelSides(longSide: number, finest: number): number[] {
  const sides = [finest];
  while (longSide > LEVEL_RATIO * sides[0]) sides.unshift(sides[0] * LEVEL_RATIO);
  return sides.filter((side) => side < 0.75 * longSide);
}

function tileLevel(width: number, height: number, side: number, level: number, band: { min: number; max: number; floor: number }, overlapShare: number): Pass[] {
  const tileW = Math.min(side, width);
  const tileH = Math.min(side, height);
  const overlap = Math.max(overlapShare * side, band.max * 1.2);   // every face of the band whole in some tile
  const nx = width > tileW ? Math.ceil((width - tileW) / (tileW - overlap)) + 1 : 1;
  const ny = height > tileH ? Math.ceil((height - tileH) / (tileH - overlap)) + 1 : 1;
  const passes: Pass[] = [];
  for (const y of spread(height, tileH, ny)) {
    for (const x of spread(width, tileW, nx)) {
      passes.push({ region: { x, y, width: tileW, height: tileH }, level, floor: band.floor, minFaceSize: band.min, maxFaceSize: band.max });
    }
  }
  return passes;
}

/**
 * The whole photo first, then (when `plan` asks and it helps) levels of overlapping square tiles, coarse to fine,
 * the finest of `plan.tileSize` (grown until all tiles fit `plan.maxTiles`). Each level owns the faces between its
 * own floor and its parent's, widened by BAND_OVERLAP either way.
 */
export function planPasses(width: number, height: number, inputSize: number, plan: TilePlan | null): Pass[] {
  const longSide = Math.max(width, height);
  const whole: Pass = { region: { x: 0, y: 0, width, height }, level: 0, floor: floorFor(longSide, inputSize), minFaceSize: 0, maxFaceSize: Infinity };
  if (!plan) return [whole];
  for (let finest = Math.max(inputSize, Math.round(plan.tileSize)); ; finest = Math.round(finest * BUDGET_GROWTH)) {
    const sides = levelSides(longSide, finest);
    if (sides.length === 0) return [whole];
    const tiles: Pass[] = [];
    let parent = whole.floor;
    sides.forEach((side, k) => {
      const floor = floorFor(side, inputSize);
      const band = { floor, max: parent * BAND_OVERLAP, min: k === sides.length - 1 ? 0 : floor / BAND_OVERLAP };
      tiles.push(...tileLevel(width, height, side, k + 1, band, plan.overlap));
      parent = floor;
    });
    if (tiles.length <= plan.maxTiles) return [{ ...whole, minFaceSize: whole.floor / BAND_OVERLAP }, ...tiles];
  }
}

/**
 * Whether a face's six keypoints are laid out like a face's, relative to its box (rotation-free: measured along
 * and across its eye line): eyes at least 0.2 box sides apart, ears 0.45, the mouth 0.25 below the eyes. Every
 * face the detector matched on the dev set (seed 1) and on the sample photos (rotated ±30° too) has at least
 * 0.27, 0.63 and 0.34; a view's box on part of a face or on texture often has its keypoints collapsed together.
 */
export function plausibleLandmarks(face: DetectedFace): boolean {
  const side = Math.max(face.box.width, face.box.height);
  const { rightEye, leftEye, mouth, rightEar, leftEar } = face.landmarks;
  const eyes = Math.hypot(leftEye.x - rightEye.x, leftEye.y - rightEye.y);
  const ears = leftEar && rightEar ? Math.hypot(leftEar.x - rightEar.x, leftEar.y - rightEar.y) : Infinity;
  if (!(eyes >= 0.2 * side && ears >= 0.45 * side)) return false;
  const angle = Math.atan2(leftEye.y - rightEye.y, leftEye.x - rightEye.x);
  const dx = mouth.x - (leftEye.x + rightEye.x) / 2;
  const dy = mouth.y - (leftEye.y + rightEye.y) / 2;
  return -dx * Math.sin(angle) + dy * Math.cos(angle) >= 0.25 * side;
}
