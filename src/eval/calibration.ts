/**
 * Calibration of top-1 confidence: expected calibration error (ECE) and the reliability diagram's data, for
 * `emolens eval`, its HTML report and the sidecar's `metrics.val`. Browser-safe (no Node imports).
 *
 * Definition (Naeini et al. 2015; Guo et al. 2017, "On Calibration of Modern Neural Networks"): each face's
 * confidence is its top-1 probability, c = max_k p_k, and it is correct when that class is the label. Faces fall in
 * M = 15 equal-width bins B_m = ((m-1)/M, m/M] (a confidence of exactly 0 goes in the first bin), and
 *
 *   ECE = Σ_m |B_m| / n · |acc(B_m) − conf(B_m)|
 *
 * with acc the share correct and conf the mean confidence of the faces in the bin. 0 is perfectly calibrated;
 * conf > acc in a bin is over-confidence there. Users read "88 % sad", so this says whether 88 % means 88 %.
 */
import type { ReliabilityBin } from '../types.js';

/** Bins of the reliability diagram and the ECE (15, as in Guo et al.). */
export const CALIBRATION_BINS = 15;

export interface CalibrationMetrics {
  /** Expected calibration error over `reliability` (see the module header). */
  ece: number;
  reliability: ReliabilityBin[];
}

/** Accumulates (top-1 confidence, correct) one face at a time, as ConfusionMatrix does for labels. */
export class CalibrationBins {
  readonly binCount: number;
  private readonly counts: number[];
  private readonly confidenceSums: number[];
  private readonly correctCounts: number[];

  constructor(binCount = CALIBRATION_BINS) {
    if (!Number.isInteger(binCount) || binCount < 1) throw new RangeError(`bin count must be a positive integer: ${binCount}`);
    this.binCount = binCount;
    this.counts = new Array<number>(binCount).fill(0);
    this.confidenceSums = new Array<number>(binCount).fill(0);
    this.correctCounts = new Array<number>(binCount).fill(0);
  }

  /**
   * One face: its top-1 confidence and whether that class is right — or, against a distribution of raters (FER+),
   * the share of raters who chose it (a random rater's agreement; src/eval/ferplus.ts).
   */
  add(confidence: number, correct: boolean | number): void {
    if (!Number.isFinite(confidence) || confidence < -1e-6 || confidence > 1 + 1e-6) {
      throw new RangeError(`confidence must be in [0, 1]: ${confidence}`);
    }
    // float32 softmax (and the mean of two with flip TTA) can land a hair outside [0, 1].
    const c = Math.min(1, Math.max(0, confidence));
    const bin = binIndex(c, this.binCount);
    this.counts[bin]++;
    this.confidenceSums[bin] += c;
    this.correctCounts[bin] += typeof correct === 'number' ? correct : correct ? 1 : 0;
  }

  get n(): number {
    return this.counts.reduce((a, b) => a + b, 0);
  }

  metrics(): CalibrationMetrics {
    const n = this.n;
    let ece = 0;
    const reliability: ReliabilityBin[] = this.counts.map((count, m) => {
      const lo = m / this.binCount;
      const hi = (m + 1) / this.binCount;
      if (count === 0) return { lo, hi, count, confidence: null, accuracy: null };
      const confidence = this.confidenceSums[m] / count;
      const accuracy = this.correctCounts[m] / count;
      ece += (count / n) * Math.abs(accuracy - confidence);
      return { lo, hi, count, confidence, accuracy };
    });
    return { ece, reliability };
  }
}

/** Bin of a confidence: ((m-1)/M, m/M] is bin m-1; 0 joins the first bin. */
export function binIndex(confidence: number, binCount = CALIBRATION_BINS): number {
  return Math.min(binCount - 1, Math.max(0, Math.ceil(confidence * binCount) - 1));
}

/** ECE and reliability bins from parallel arrays of top-1 confidences and correctness. */
export function calibrationMetrics(
  confidences: readonly number[],
  correct: readonly boolean[],
  binCount = CALIBRATION_BINS,
): CalibrationMetrics {
  if (confidences.length !== correct.length) {
    throw new RangeError(`confidences and correct differ in length (${confidences.length} vs ${correct.length})`);
  }
  const bins = new CalibrationBins(binCount);
  confidences.forEach((c, i) => bins.add(c, correct[i]));
  return bins.metrics();
}
