/**
 * Classification metrics (accuracy, per-class precision/recall/F1, macro-F1, confusion matrix) for `evaluate()`
 * and the HTML report. Browser-safe (no Node imports). Calibration is beside it, in calibration.ts.
 *
 * The result has exactly the names and shape of training/metrics.py's `classification_report`
 * (which writes the sidecar's `metrics.val`), so a model's shipped numbers and an eval run compare
 * field by field.
 */
import { EMOTIONS } from '../labels.js';
import type { ClassificationMetrics, PerClassMetrics } from '../classify/contract.js';

export type { ClassificationMetrics, PerClassMetrics };

/** Accumulates (true, predicted) pairs one at a time, so eval never holds a data set in memory. */
export class ConfusionMatrix {
  readonly labels: readonly string[];
  readonly matrix: number[][];
  private readonly index: Map<string, number>;

  constructor(labels: readonly string[] = EMOTIONS) {
    this.labels = [...labels];
    this.matrix = labels.map(() => labels.map(() => 0));
    this.index = new Map(labels.map((l, i) => [l, i]));
  }

  add(truth: string, predicted: string): void {
    const t = this.index.get(truth);
    const p = this.index.get(predicted);
    if (t === undefined) throw new RangeError(`unknown label: ${truth}`);
    if (p === undefined) throw new RangeError(`unknown label: ${predicted}`);
    this.matrix[t][p]++;
  }

  get n(): number {
    return this.matrix.reduce((sum, row) => sum + row.reduce((a, b) => a + b, 0), 0);
  }

  metrics(): ClassificationMetrics {
    return metricsFromConfusion(this.labels, this.matrix);
  }
}

/** Metrics from a confusion matrix (rows = truth, columns = prediction). */
export function metricsFromConfusion(labels: readonly string[], matrix: readonly (readonly number[])[]): ClassificationMetrics {
  const k = labels.length;
  if (matrix.length !== k || matrix.some((row) => row.length !== k)) {
    throw new RangeError(`confusion matrix must be ${k}x${k}`);
  }
  let n = 0;
  let correct = 0;
  const perClass: Record<string, PerClassMetrics> = {};
  for (let i = 0; i < k; i++) {
    const tp = matrix[i][i];
    let support = 0;
    let predicted = 0;
    for (let j = 0; j < k; j++) {
      support += matrix[i][j];
      predicted += matrix[j][i];
    }
    n += support;
    correct += tp;
    // A class never predicted (or never present) scores 0, as sklearn's zero_division=0 and metrics.py do.
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    perClass[labels[i]] = { precision, recall, f1, support };
  }
  const macroF1 = k ? Object.values(perClass).reduce((sum, c) => sum + c.f1, 0) / k : 0;
  return {
    n,
    accuracy: correct / Math.max(1, n),
    macroF1,
    perClass,
    confusionMatrix: { labels: [...labels], matrix: matrix.map((row) => [...row]) },
  };
}

/** Metrics from parallel arrays of true and predicted labels. */
export function classificationMetrics(
  truth: readonly string[],
  predicted: readonly string[],
  labels: readonly string[] = EMOTIONS,
): ClassificationMetrics {
  if (truth.length !== predicted.length) {
    throw new RangeError(`truth and predicted differ in length (${truth.length} vs ${predicted.length})`);
  }
  const cm = new ConfusionMatrix(labels);
  truth.forEach((t, i) => cm.add(t, predicted[i]));
  return cm.metrics();
}

/** Each row of the confusion matrix as fractions of its truth count (a row of zeros stays zeros). */
export function rowNormalized(matrix: readonly (readonly number[])[]): number[][] {
  return matrix.map((row) => {
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((v) => (total ? v / total : 0));
  });
}
