/**
 * Track, then detect: when a stream of frames (video, live) runs the full detector and when it only follows the
 * faces it already has (FaceDetector.follow: one small close-up per face). Full detection runs
 *
 * - on the first frame, and whenever `detectEveryMs` have passed since the last full detection, so a new face is
 *   found within `detectEveryMs` of entering (the documented bound; docs/video.md);
 * - when a followed face is lost (not found close up around its last box): that frame is detected in full;
 * - on a scene cut: the frame's coarse luma layout (a 16x9 grid of cell means) differs from the previous frame's
 *   by more than `cutThreshold` (mean absolute difference, 0..255);
 *
 * Pure apart from reading the frame's pixels; time is passed in.
 */
import { UsageError } from '../errors.js';
import type { RgbaImage } from '../types.js';

export interface DetectionScheduleOptions {
  /** Longest time between full detections, ms (0: detect every frame, the behaviour before issue 20). */
  detectEveryMs: number;
  /** Mean absolute luma difference (0..255) of the 16x9 cell grid between two frames that counts as a scene cut. */
  cutThreshold: number;
}

export const DEFAULT_DETECTION_SCHEDULE: Readonly<DetectionScheduleOptions> = {
  detectEveryMs: 400,
  cutThreshold: 24,
};

const GRID_W = 16;
const GRID_H = 9;

/** Mean luma of each cell of a GRID_W x GRID_H grid (sampling every few pixels: a few thousand reads per frame). */
export function lumaLayout(image: RgbaImage): Float32Array {
  const out = new Float32Array(GRID_W * GRID_H);
  const counts = new Uint32Array(GRID_W * GRID_H);
  const step = Math.max(1, Math.floor(Math.min(image.width / GRID_W, image.height / GRID_H) / 6));
  const { data, width, height } = image;
  for (let y = 0; y < height; y += step) {
    const row = Math.min(GRID_H - 1, Math.floor((y * GRID_H) / height)) * GRID_W;
    for (let x = 0; x < width; x += step) {
      const i = 4 * (y * width + x);
      const cell = row + Math.min(GRID_W - 1, Math.floor((x * GRID_W) / width));
      out[cell] += 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
      counts[cell]++;
    }
  }
  for (let c = 0; c < out.length; c++) out[c] /= Math.max(1, counts[c]);
  return out;
}

export class DetectionSchedule {
  readonly options: DetectionScheduleOptions;
  private lastFullMs = -Infinity;
  private layout: Float32Array | undefined;

  constructor(options: Partial<DetectionScheduleOptions> = {}) {
    this.options = { ...DEFAULT_DETECTION_SCHEDULE, ...options };
    if (!(this.options.detectEveryMs >= 0)) throw new UsageError(`detectEveryMs must be 0 or more, got ${this.options.detectEveryMs}`);
    if (!(this.options.cutThreshold >= 0)) throw new UsageError(`cutThreshold must be 0 or more, got ${this.options.cutThreshold}`);
  }

  /**
   * Whether this frame needs a full detection (else: follow the faces of the previous frame). Call once per frame,
   * in order. A lost face is the caller's to notice (follow() says so); it then detects and calls `detected()`.
   */
  needsFullDetection(tMs: number, image: RgbaImage): { full: boolean; reason: 'first' | 'due' | 'cut' | 'follow' } {
    const layout = this.options.cutThreshold > 0 && this.options.detectEveryMs > 0 ? lumaLayout(image) : undefined;
    const previous = this.layout;
    this.layout = layout;
    if (this.lastFullMs === -Infinity) return { full: true, reason: 'first' };
    // half a ms of slack: frame times are k * 1000 / fps in floating point
    if (this.options.detectEveryMs === 0 || tMs - this.lastFullMs >= this.options.detectEveryMs - 0.5) return { full: true, reason: 'due' };
    if (layout && previous) {
      let diff = 0;
      for (let c = 0; c < layout.length; c++) diff += Math.abs(layout[c] - previous[c]);
      if (diff / layout.length > this.options.cutThreshold) return { full: true, reason: 'cut' };
    }
    return { full: false, reason: 'follow' };
  }

  /** Record that a full detection ran on the frame at `tMs`. */
  detected(tMs: number): void {
    this.lastFullMs = tMs;
  }

  reset(): void {
    this.lastFullMs = -Infinity;
    this.layout = undefined;
  }
}
