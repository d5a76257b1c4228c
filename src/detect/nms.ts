/**
 * Greedy non-maximum suppression over face candidates: tf.image.nonMaxSuppression as Human uses it, plus one rule
 * for merging passes at different zooms: a box lying mostly inside a better one is the same face (faces do not
 * nest), even when their IoU is low because a coarse pass guessed the size badly.
 */
import { containment, iou } from '../geometry.js';
import type { Box } from '../types.js';

/** Fraction of the smaller box that, once inside a better box, marks it a duplicate. */
export const NESTED_THRESHOLD = 0.7;

/**
 * Highest score first; drops every candidate overlapping a kept one by more than `iouThreshold` or lying inside it
 * by more than `nested` (fraction of the smaller box).
 */
export function nonMaxSuppression<T extends { box: Box; score: number }>(candidates: T[], iouThreshold: number, maxKept: number, nested = NESTED_THRESHOLD): T[] {
  const sorted = [...candidates].sort((a, b) => b.score - a.score);
  const kept: T[] = [];
  for (const c of sorted) {
    if (kept.length >= maxKept) break;
    if (kept.every((k) => iou(k.box, c.box) <= iouThreshold && containment(k.box, c.box) <= nested)) kept.push(c);
  }
  return kept;
}
