/**
 * Box geometry, one copy for the whole tree: overlap (detector NMS, face tracking), clamping (detector output to
 * the image, label placement) and scaling (boxes drawn on a resized copy). Pure numbers, browser-safe; knows
 * nothing about what the boxes hold.
 */
import type { Box, Point } from './types.js';

/** `value` limited to [lo, hi]. */
export function clamp(value: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, value));
}

/** Area shared by two boxes (0 when they do not overlap). */
export function intersectionArea(a: Box, b: Box): number {
  const ix = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const iy = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return ix > 0 && iy > 0 ? ix * iy : 0;
}

/** Intersection over union, 0..1 (0 for disjoint or empty boxes). */
export function iou(a: Box, b: Box): number {
  const inter = intersectionArea(a, b);
  return inter > 0 ? inter / (a.width * a.height + b.width * b.height - inter) : 0;
}

/** Share of the smaller box covered by the larger, 0..1. */
export function containment(a: Box, b: Box): number {
  const inter = intersectionArea(a, b);
  return inter > 0 ? inter / Math.min(a.width * a.height, b.width * b.height) : 0;
}

/**
 * The box spanned by two corners, each clamped into a `width`×`height` image first (so a face cut by the frame's
 * edge keeps its visible part; a box wholly outside comes back with zero width or height).
 */
export function boxFromCorners(topLeft: Point, bottomRight: Point, width: number, height: number): Box {
  const x0 = clamp(topLeft.x, 0, width);
  const y0 = clamp(topLeft.y, 0, height);
  const x1 = clamp(bottomRight.x, 0, width);
  const y1 = clamp(bottomRight.y, 0, height);
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** `box` in the pixels of a copy scaled by `scale` (e.g. an annotated copy shrunk to 2048 px). */
export function scaleBox(box: Box, scale: number): Box {
  return { x: box.x * scale, y: box.y * scale, width: box.width * scale, height: box.height * scale };
}
