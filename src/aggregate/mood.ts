/**
 * Group mood: the read-out of the group panel and the timeline, from the faces visible at one moment.
 * Definitions (documented in docs/web.md — keep both in step):
 *
 * - shares[e]   = (faces whose dominant emotion is e) / faces
 * - mean[e]     = average over faces of P(e)
 * - valence     = mean[happy] − (mean[angry] + mean[disgust] + mean[fear] + mean[sad]), in [−1, 1];
 *                 surprise and neutral count 0 (surprise can be either).
 * - engagement  = 1 − mean[neutral], in [0, 1]: how much expression the group shows, not attention.
 *
 * With no faces, mean/valence/engagement are null (a gap in the chart, "—" in the panel), never 0.
 */
import { dominantEmotion, EMOTIONS, type Emotion, type EmotionProbabilities } from '../labels.js';

export const VALENCE_WEIGHTS: Readonly<Record<Emotion, number>> = {
  angry: -1, disgust: -1, fear: -1, happy: 1, neutral: 0, sad: -1, surprise: 0,
};

export interface GroupMood {
  faces: number;
  counts: Record<Emotion, number>;
  shares: Record<Emotion, number>;
  mean: EmotionProbabilities | null;
  /** Dominant emotion of `mean`. */
  dominant: Emotion | null;
  valence: number | null;
  engagement: number | null;
}

export function zeroRecord(): Record<Emotion, number> {
  const out = {} as Record<Emotion, number>;
  for (const e of EMOTIONS) out[e] = 0;
  return out;
}

export function groupMood(faces: ReadonlyArray<{ emotions: EmotionProbabilities; dominant: Emotion }>): GroupMood {
  const counts = zeroRecord();
  const shares = zeroRecord();
  const n = faces.length;
  if (n === 0) return { faces: 0, counts, shares, mean: null, dominant: null, valence: null, engagement: null };
  const mean = zeroRecord();
  for (const face of faces) {
    counts[face.dominant] += 1;
    for (const e of EMOTIONS) mean[e] += face.emotions[e] / n;
  }
  for (const e of EMOTIONS) shares[e] = counts[e] / n;
  return { faces: n, counts, shares, mean, dominant: dominantEmotion(mean), valence: valenceOf(mean), engagement: engagementOf(mean) };
}

export function valenceOf(p: EmotionProbabilities): number {
  return EMOTIONS.reduce((sum, e) => sum + VALENCE_WEIGHTS[e] * p[e], 0);
}

export function engagementOf(p: EmotionProbabilities): number {
  return 1 - p.neutral;
}
