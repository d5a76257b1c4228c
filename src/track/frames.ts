/**
 * Frames → tracked faces: the per-frame loop that the web app's live view runs on camera frames and that video
 * analysis runs on decoded frames. One implementation, so both give the same ids, smoothing and budget:
 *
 *   detect every face → which track each continues (tracker.ts) → classify only a budget of them, new faces first,
 *   then the oldest readings (budget.ts) → fold boxes and readings into the tracks → smoothed emotions and a
 *   dominant label with hysteresis per track; faces found without a reading yet come back as `pending` boxes.
 *
 * `FrameTracking.step()` is the loop body, independent of where pixels live (the live view's faces are found and
 * classified in a Web Worker); `analyzeFrames()` drives it with an Analyzer over any async stream of frames.
 * UI-free and runtime-free: no DOM, no timers, no file system; time is passed in.
 */
import type { AnalyzeOptions, Analyzer } from '../analyzer.js';
import { UsageError } from '../errors.js';
import { iou } from '../geometry.js';
import type { EmotionProbabilities } from '../labels.js';
import type { Box, DetectedFace, RgbaImage } from '../types.js';
import { ClassifyBudget, pickFacesToClassify, type ClassifyBudgetOptions } from './budget.js';
import { DetectionSchedule, type DetectionScheduleOptions } from './schedule.js';
import { FaceTracker, type SmoothingOptions, type Track } from './tracker.js';

export interface FrameTrackingOptions {
  /** Tracker constants (tracker.ts DEFAULT_SMOOTHING). */
  smoothing?: Partial<SmoothingOptions>;
  /** Classification budget per frame (budget.ts DEFAULT_CLASSIFY_BUDGET). */
  budget?: Partial<ClassifyBudgetOptions>;
}

/** What classifying some of a frame's faces returned: one reading per face, in order, and the time it took. */
export interface FaceClassification {
  emotions: EmotionProbabilities[];
  ms: number;
}

/** One frame folded into the tracks. */
export interface TrackedFrame {
  /** The time the frame was folded in at (the tracker's clock). */
  nowMs: number;
  /** Visible faces with a reading, in id order (the tracker's own objects: read them now, copy to keep them). */
  tracks: Track[];
  /** Faces found in this frame that have no reading yet (new faces the budget did not reach): boxes only. */
  pending: Box[];
  /** Faces classified in this frame. */
  classified: number;
  /** Time classification took (0 when no face was classified). */
  classifyMs: number;
}

export interface StepClock {
  /** The tracker's time for this frame, read once classification is done. */
  now(): number;
  /** True when the caller no longer wants this frame (the live view was paused or stopped meanwhile). */
  cancelled?(): boolean;
}

export class FrameTracking {
  readonly tracker: FaceTracker;
  readonly budget: ClassifyBudget;

  constructor(options: FrameTrackingOptions = {}) {
    this.tracker = new FaceTracker(options.smoothing);
    this.budget = new ClassifyBudget(options.budget);
  }

  /**
   * One frame: `faces` are its detections; `classify` reads the emotions of the ones the budget picks. Returns
   * undefined, folding nothing in, when `clock.cancelled()` is true once classification is back. Errors from
   * `classify` propagate, with the tracks unchanged.
   */
  async step(faces: readonly DetectedFace[], classify: (chosen: DetectedFace[]) => Promise<FaceClassification>, clock: StepClock): Promise<TrackedFrame | undefined> {
    const owners = this.tracker.match(faces.map((f) => f.box));
    const chosen = pickFacesToClassify(owners.map((t) => ({ classifiedMs: t?.classifiedMs })), this.budget.facesPerFrame());
    const readings = new Map<number, EmotionProbabilities>();
    let classifyMs = 0;
    if (chosen.length > 0) {
      const { emotions, ms } = await classify(chosen.map((i) => faces[i]));
      this.budget.record(chosen.length, ms);
      chosen.forEach((i, k) => readings.set(i, emotions[k]));
      classifyMs = ms;
    }
    if (clock.cancelled?.()) return undefined;
    const nowMs = clock.now();
    const tracks = this.tracker.update(faces.map((f, i) => ({ box: f.box, score: f.score, emotions: readings.get(i) })), nowMs);
    const pending = faces.filter((_, i) => !owners[i] && !readings.has(i)).map((f) => f.box);
    return { nowMs, tracks, pending, classified: readings.size, classifyMs };
  }

  /** Forget every track (a new stream); the budget keeps its measured ms per face. */
  reset(): void {
    this.tracker.reset();
  }
}

// ---- analyzeFrames: the loop over a stream of frames ------------------------------------------------------------

/** One frame of a stream: its pixels and its time (ms from the stream's start; video: the presentation time). */
export interface Frame {
  tMs: number;
  image: RgbaImage;
}

/**
 * One tracked face in a frame's result: stable `id`, smoothed `box` and `emotions`, `dominant` = the smoothed
 * label, the last `raw` reading and when it was taken. A copy, so results can be kept while later frames move
 * the tracks on.
 */
export type TrackedFace = Track;

export interface FrameResult {
  tMs: number;
  width: number;
  height: number;
  faces: TrackedFace[];
  /** Faces found without a reading yet (boxes only). */
  pending: Box[];
  /** Faces the detector found (or followed) in this frame. */
  detected: number;
  /** How this frame's faces were found: the full detector, or following the previous frame's faces (schedule.ts). */
  detection: 'full' | 'follow';
  /** Faces classified in this frame (at most the budget). */
  classified: number;
  detectMs: number;
  classifyMs: number;
}

export interface AnalyzeFramesOptions extends FrameTrackingOptions {
  /**
   * The core Analyzer (createAnalyzerCore) or the Node analyzer (createAnalyzer): detect + classifyFaces, and
   * follow for track-then-detect (without it every frame is detected in full).
   */
  analyzer: Pick<Analyzer, 'detect' | 'classifyFaces'> & Partial<Pick<Analyzer, 'follow'>>;
  /**
   * Track, then detect (schedule.ts): full detection at most `detectEveryMs` apart (default 400; 0 = every frame),
   * on a lost face and on a scene cut; the frames between follow the faces they have.
   */
  schedule?: Partial<DetectionScheduleOptions>;
  /** Per-frame detector options (e.g. `{ detector: { tiles: 'off' } }` as the live view uses). */
  detect?: AnalyzeOptions;
  /** Wall clock for the budget's ms measurements (default performance.now). */
  clock?: () => number;
}

/**
 * Analyse a stream of frames: per frame, every face with a stable id, smoothed emotions and `dominant` = the
 * smoothed label, with the live view's classification budget. Frames are pulled one at a time (the next is
 * requested only when this one is done), so memory stays flat however long the stream.
 * @throws UsageError for a frame whose `tMs` is not a finite number; InvalidImageError for bad pixels.
 * @example
 * for await (const frame of analyzeFrames(frames, { analyzer })) {
 *   for (const face of frame.faces) console.log(frame.tMs, face.id, face.dominant);
 * }
 */
export async function* analyzeFrames(frames: AsyncIterable<Frame> | Iterable<Frame>, options: AnalyzeFramesOptions): AsyncGenerator<FrameResult> {
  const { analyzer } = options;
  const clock = options.clock ?? (() => performance.now());
  const tracking = new FrameTracking(options);
  const detector = new StreamDetector(analyzer, { schedule: options.schedule });
  for await (const { tMs, image } of frames) {
    if (typeof tMs !== 'number' || !Number.isFinite(tMs)) throw new UsageError(`frame time tMs must be a finite number of ms, got ${String(tMs)}`);
    const detectStart = clock();
    const { faces, detection } = await detector.detect(tMs, image, options.detect);
    const detectMs = clock() - detectStart;
    const step = await tracking.step(faces, async (chosen) => {
      const start = clock();
      const emotions = await analyzer.classifyFaces(image, chosen);
      return { emotions, ms: clock() - start };
    }, { now: () => tMs });
    // step() is only undefined when cancelled, and this loop never cancels.
    const { tracks, pending, classified, classifyMs } = step!;
    yield {
      tMs,
      width: image.width,
      height: image.height,
      faces: tracks.map(copyTrack),
      pending: pending.map((b) => ({ ...b })),
      detected: faces.length,
      detection,
      classified,
      detectMs,
      classifyMs,
    };
  }
}

export interface StreamDetectorOptions {
  /** When to detect in full (schedule.ts); default DEFAULT_DETECTION_SCHEDULE. */
  schedule?: Partial<DetectionScheduleOptions>;
  /**
   * Follow only while the last frame had at most this many faces (default: any number). Following costs one close-up
   * per face, so where the full detection is a single small pass (the live view) a crowd is cheaper detected in full.
   */
  maxFollowed?: number;
}

/**
 * Track, then detect, for one stream of frames (a video, the live view): each frame's faces by the full detector or
 * by following the previous frame's faces (FaceDetector.follow), as the schedule says (schedule.ts). Used by
 * analyzeFrames (Node video) and by the web app's worker (live view and video files), so both follow faces alike.
 */
export class StreamDetector {
  private readonly follow?: Analyzer['follow'];
  private readonly schedule: DetectionSchedule;
  private previous: DetectedFace[] = [];

  constructor(private readonly analyzer: Pick<Analyzer, 'detect'> & Partial<Pick<Analyzer, 'follow'>>, private readonly options: StreamDetectorOptions = {}) {
    this.follow = analyzer.follow?.bind(analyzer);
    this.schedule = new DetectionSchedule(this.follow ? options.schedule : { detectEveryMs: 0 });
  }

  /** This frame's faces; frames in order, `tMs` their times. */
  async detect(tMs: number, image: RgbaImage, detectOptions?: AnalyzeOptions): Promise<{ faces: DetectedFace[]; detection: 'full' | 'follow' }> {
    // needsFullDetection reads every frame (its scene-cut check compares consecutive frames), so it runs first.
    const due = this.schedule.needsFullDetection(tMs, image).full;
    if (this.follow && !due && this.previous.length <= (this.options.maxFollowed ?? Infinity)) {
      const followed = await this.follow(image, this.previous.map((f) => f.box), detectOptions);
      // a face lost: detect this frame in full (it may have moved far, or another face may have come)
      if (followed.every((f) => f !== undefined)) {
        this.previous = dedupe(followed as DetectedFace[]);
        return { faces: this.previous, detection: 'follow' };
      }
    }
    this.previous = await this.analyzer.detect(image, detectOptions);
    this.schedule.detected(tMs);
    return { faces: this.previous, detection: 'full' };
  }
}

/** Two followed faces that converged on one face (crossing paths) are one: the better-scoring one is kept. */
function dedupe(faces: DetectedFace[]): DetectedFace[] {
  return faces.filter((f, i) => !faces.some((g, j) => j !== i && iou(f.box, g.box) > 0.5 && (g.score > f.score || (g.score === f.score && j < i))));
}

function copyTrack(t: Track): TrackedFace {
  return { ...t, box: { ...t.box }, emotions: { ...t.emotions }, raw: { ...t.raw } };
}
