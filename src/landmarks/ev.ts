/**
 * The expressional vector (EV) of FERC (Mehendale 2020): 24 distances between facial points, here between the 68
 * iBUG 300-W points, each divided by the inter-ocular distance (between the two eye centres) so the vector does not
 * depend on the face's size in the image. The 24 are chosen as 8 left/right pairs plus 8 on the midline, so a
 * mirrored face gives the same vector with each pair swapped (EV_MIRROR). Which points: EV_FEATURES and
 * docs/ferc.md. Pure, browser-safe; one definition for the CLI, the web and the FER2013 feature cache.
 */
import type { Point } from '../types.js';

export interface EvFeature {
  /** Name as it appears in JSON/CSV (`ev.names`). */
  name: string;
  /** One end: a point index, or several whose mean is the end (e.g. the middle of an eyelid). */
  from: readonly number[];
  to: readonly number[];
}

const f = (name: string, from: number[], to: number[]): EvFeature => ({ name, from, to });

/** The 24 distances, in output order: the subject's right (image left) before left in each pair. */
export const EV_FEATURES: readonly EvFeature[] = [
  f('rightInnerBrowToEye', [21], [39]), f('leftInnerBrowToEye', [22], [42]),
  f('rightOuterBrowToEye', [17], [36]), f('leftOuterBrowToEye', [26], [45]),
  f('rightMidBrowToEyelid', [19], [37, 38]), f('leftMidBrowToEyelid', [24], [44, 43]),
  f('rightEyeOpening', [37, 38], [41, 40]), f('leftEyeOpening', [44, 43], [46, 47]),
  f('rightEyeWidth', [36], [39]), f('leftEyeWidth', [45], [42]),
  f('rightMouthCornerToNose', [48], [33]), f('leftMouthCornerToNose', [54], [33]),
  f('rightMouthCornerToEye', [48], [36]), f('leftMouthCornerToEye', [54], [45]),
  f('rightMouthCornerToJaw', [48], [4]), f('leftMouthCornerToJaw', [54], [12]),
  f('browGap', [21], [22]),
  f('mouthWidth', [48], [54]),
  f('outerLipOpening', [51], [57]),
  f('innerLipOpening', [62], [66]),
  f('noseToUpperLip', [33], [51]),
  f('lowerLipToChin', [57], [8]),
  f('noseToChin', [33], [8]),
  f('noseBridgeToChin', [27], [8]),
];

/** iBUG 300-W point i of a face ↔ point IBUG_MIRROR[i] of its mirror image. */
export const IBUG_MIRROR: readonly number[] = (() => {
  const m = Array.from({ length: 68 }, (_, i) => i);
  const swap = (a: number, b: number) => { m[a] = b; m[b] = a; };
  for (let i = 0; i < 8; i++) swap(i, 16 - i);                                  // jaw
  for (let i = 0; i < 5; i++) swap(17 + i, 26 - i);                              // brows
  swap(31, 35); swap(32, 34);                                                    // nostrils
  [[36, 45], [37, 44], [38, 43], [39, 42], [40, 47], [41, 46]].forEach(([a, b]) => swap(a, b));   // eyes
  [[48, 54], [49, 53], [50, 52], [55, 59], [56, 58], [60, 64], [61, 63], [65, 67]].forEach(([a, b]) => swap(a, b)); // lips
  return m;
})();

/** EV index i of a face = EV index EV_MIRROR[i] of its mirror image (pairs swap, midline features stay). */
export const EV_MIRROR: readonly number[] = EV_FEATURES.map((_, i) => (i < 16 ? i ^ 1 : i));

/** The 68 points of the horizontally mirrored image (x → width − x), re-indexed so each point keeps its meaning. */
export function mirrorPoints(points: readonly Point[], width: number): Point[] {
  return points.map((_, i) => ({ x: width - points[IBUG_MIRROR[i]].x, y: points[IBUG_MIRROR[i]].y }));
}

function mean(points: readonly Point[], indices: readonly number[]): Point {
  let x = 0;
  let y = 0;
  for (const i of indices) { x += points[i].x; y += points[i].y; }
  return { x: x / indices.length, y: y / indices.length };
}

const RIGHT_EYE = [36, 37, 38, 39, 40, 41];
const LEFT_EYE = [42, 43, 44, 45, 46, 47];

/** Distance between the two eye centres (means of each eye's 6 points), in the points' units. */
export function interOcularDistance(points: readonly Point[]): number {
  const r = mean(points, RIGHT_EYE);
  const l = mean(points, LEFT_EYE);
  return Math.hypot(l.x - r.x, l.y - r.y);
}

/** The 24 EV values (EV_FEATURES order) for 68 points; NaN-free unless the eyes coincide (then all are 0). */
export function expressionalVector(points: readonly Point[]): number[] {
  if (points.length !== 68) throw new RangeError(`expressionalVector needs 68 points, got ${points.length}`);
  const iod = interOcularDistance(points);
  return EV_FEATURES.map(({ from, to }) => {
    if (!(iod > 0)) return 0;
    const a = mean(points, from);
    const b = mean(points, to);
    return Math.hypot(b.x - a.x, b.y - a.y) / iod;
  });
}
