/**
 * How many faces a tracked frame (live view, video; frames.ts) classifies, and which. Detection runs on every frame
 * (boxes must follow the faces); the emotion model costs tens of ms per face, so with many faces it is spent where
 * it is most needed:
 *
 * - Budget: at most `frameBudgetMs` of classification per frame, from a running average of the measured ms per
 *   face: `faces = max(minFaces, floor(frameBudgetMs / msPerFace))`. The first frame classifies `minFaces`, to
 *   take the first measurement.
 * - Order: faces with no reading yet (new faces) first, in reading order; then tracked faces, oldest reading first.
 *
 * The other faces keep their tracker-smoothed probabilities (tracker.ts). Pure, so it is tested in Node.
 */

export interface ClassifyBudgetOptions {
  /** Classification time to aim for per frame. */
  frameBudgetMs: number;
  /** Faces classified per frame however slow the model is, so every face gets read eventually. */
  minFaces: number;
  /** Weight of the newest measurement in the running ms-per-face average. */
  smoothing: number;
}

export const DEFAULT_CLASSIFY_BUDGET: Readonly<ClassifyBudgetOptions> = {
  frameBudgetMs: 150,
  minFaces: 1,
  smoothing: 0.3,
};

export class ClassifyBudget {
  readonly options: ClassifyBudgetOptions;
  /** Running average of the classifier's ms per face; undefined until the first measurement. */
  msPerFace: number | undefined;

  constructor(options: Partial<ClassifyBudgetOptions> = {}) {
    this.options = { ...DEFAULT_CLASSIFY_BUDGET, ...options };
  }

  /** Faces to classify in the next frame. */
  facesPerFrame(): number {
    const { frameBudgetMs, minFaces } = this.options;
    if (this.msPerFace === undefined) return minFaces;
    return Math.max(minFaces, Math.floor(frameBudgetMs / Math.max(this.msPerFace, 0.1)));
  }

  /** Feed one classifier run: `faces` faces took `ms`. */
  record(faces: number, ms: number): void {
    if (!(faces > 0) || !(ms >= 0)) return;
    const perFace = ms / faces;
    this.msPerFace = this.msPerFace === undefined ? perFace : this.msPerFace + this.options.smoothing * (perFace - this.msPerFace);
  }
}

/** One detected face as the picker sees it: when its track was last classified (undefined: a new face). */
export interface ClassifyCandidate {
  classifiedMs: number | undefined;
}

/**
 * Indices of the faces to classify this frame, at most `budget`: new faces first (in the order given), then the
 * least recently classified. Every face when the budget covers them all.
 */
export function pickFacesToClassify(candidates: readonly ClassifyCandidate[], budget: number): number[] {
  const order = candidates.map((c, index) => ({ index, at: c.classifiedMs ?? -Infinity }));
  // Stable sort: equal times (all new faces among them) keep the detection (reading) order.
  order.sort((a, b) => (a.at === b.at ? 0 : a.at < b.at ? -1 : 1));
  return order.slice(0, Math.max(0, budget)).map((c) => c.index).sort((a, b) => a - b);
}
