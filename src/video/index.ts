/**
 * `analyzeVideo(path, options)`: a video file → per analysed frame, every face with a stable id, smoothed emotions
 * and the smoothed `dominant` label, plus a per-track summary. The per-frame work is `analyzeFrames`
 * (src/track/frames.ts) — the web live view's loop: detect (in full every 400 ms, following each face from its
 * last box in between: src/track/schedule.ts), IoU tracking, a time budget of faces
 * classified per frame, EMA smoothing with hysteresis — fed by ffmpeg through a pipe (decode.ts) after ffprobe
 * has vetted the file (probe.ts). Owns the video defaults (analysis rate, budget); not the output formats
 * (src/result/video.ts), the writing of a run's outputs (run.ts) nor the command line (src/cli/video.ts).
 */
import { TrackSummaries } from '../aggregate/tracks.js';
import type { AnalyzeOptions } from '../analyzer.js';
import { UsageError } from '../errors.js';
import type { CreateAnalyzerOptions, NodeAnalyzer } from '../node.js';
import { analyzeFrames } from '../track/frames.js';
import type { SmoothingOptions } from '../track/tracker.js';
import type { RgbaImage, TrackSummary, VideoFace } from '../types.js';
import { decodeFrames } from './decode.js';
import { VideoInterruptedError } from './errors.js';
import { videoTools, type VideoTools } from './ffmpeg.js';
import { probeVideo, type VideoInfo } from './probe.js';

/**
 * Frames analysed per second by default. With the tracker carrying ids and smoothing between frames (its time
 * constants are in ms, so the rate does not change them), 5 fps follows faces and expressions while keeping a
 * 24 s 720p clip with six faces at ≥ 2× real time on 2 cores (docs/video.md, `npm run bench:video`).
 */
export const DEFAULT_VIDEO_FPS = 5;

/**
 * Classification time per analysed frame: a quarter of the frame's real-time share (50 ms at 5 fps), so
 * detection plus classification stay well inside real time on a slow machine; faces beyond it are read in
 * later frames, oldest reading first (src/track/budget.ts), and keep their smoothed values meanwhile.
 */
export function defaultBudgetMs(fps: number): number {
  return 250 / fps;
}

/** What the loop needs from an analyzer (a NodeAnalyzer from createAnalyzer fits). */
export type VideoAnalyzer = Pick<NodeAnalyzer, 'detect' | 'classifyFaces'> & Partial<Pick<NodeAnalyzer, 'follow'>>;

/**
 * Longest time between full detections (ms): between them each face is followed from its last box
 * (src/track/schedule.ts), so a face entering the picture is found within this bound; a lost face or a scene cut
 * brings the full detection forward.
 */
export const DEFAULT_DETECT_EVERY_MS = 400;

export interface AnalyzeVideoOptions extends CreateAnalyzerOptions {
  /** An analyzer to reuse (for several videos); without one, analyzeVideo loads its own and releases it at the end. */
  analyzer?: VideoAnalyzer;
  /** Frames analysed per second (default 5). */
  fps?: number;
  /** Analyse every frame of the source (at its frame rate); overrides `fps`. */
  everyFrame?: boolean;
  /** Classification time to aim for per frame, in ms (default `defaultBudgetMs(fps)`); Infinity: every face, every frame. */
  budgetMs?: number;
  /** Tracker constants (src/track/tracker.ts DEFAULT_SMOOTHING). */
  smoothing?: Partial<SmoothingOptions>;
  /**
   * Longest time between full detections, ms (default 400): frames between follow the faces found (one small
   * close-up each); a new face is found within it. 0: full detection on every frame (as before issue 20).
   */
  detectEveryMs?: number;
  /** Analyse only the first this many seconds. */
  durationS?: number;
  /** Refuse videos longer than this (default 4 h) or with more pixels per frame than `maxPixels` (default 8K UHD). */
  maxDurationS?: number;
  /** ffmpeg / ffprobe to run (default `videoTools()`: EMOLENS_FFMPEG, the npm binaries, or PATH). */
  tools?: VideoTools;
  /** Stop early: iteration ends and throws VideoInterruptedError; `summary()` holds what was done. */
  signal?: AbortSignal;
}

/** One analysed frame. */
export interface VideoFrameResult {
  /** Seconds from the start of the video. */
  t: number;
  /** Faces with a reading, in id order. */
  faces: VideoFace[];
  /** Faces found that have no reading yet (the budget did not reach them this frame). */
  pending: number;
  detected: number;
  classified: number;
  detectMs: number;
  classifyMs: number;
  /** 'full': the detector ran on the whole frame; 'follow': the previous frame's faces were followed. */
  detection: 'full' | 'follow';
  /** The decoded frame (a fresh buffer per frame: keep it only if you need it). */
  image: RgbaImage;
}

/** The settings a run used, as the report and `--verbose` show them. */
export interface VideoSettings {
  /** Frames analysed per second. */
  fps: number;
  everyFrame: boolean;
  budgetMs: number;
  durationS?: number;
  detector: AnalyzeOptions;
  /** Longest time between full detections (ms; 0: every frame). */
  detectEveryMs: number;
}

export interface VideoSummary {
  info: VideoInfo;
  settings: VideoSettings;
  /** Frames analysed so far. */
  frames: number;
  /** Seconds of video analysed so far. */
  analysedS: number;
  /** True once the whole video (or `durationS` of it) was analysed. */
  complete: boolean;
  tracks: TrackSummary[];
}

export interface VideoAnalysis extends AsyncIterable<VideoFrameResult> {
  /** What ffprobe found. */
  readonly info: VideoInfo;
  readonly settings: VideoSettings;
  readonly tools: VideoTools;
  /** The tracks and counts so far: complete after iteration ends, partial after an error or interruption. */
  summary(): VideoSummary;
}

/**
 * Probe `file` and prepare its analysis; iterate the result for the frames.
 * @throws (on await) InputNotFoundError, InvalidVideoError, VideoTooLargeError, FfmpegNotFoundError, UsageError;
 *   (while iterating) InvalidVideoError for a truncated or undecodable stream, VideoInterruptedError on abort —
 *   after the frames that were analysed.
 * @example
 * import { analyzeVideo } from 'emolens';
 *
 * const video = await analyzeVideo('class.mp4', { fps: 5 });
 * for await (const frame of video) {
 *   for (const face of frame.faces) console.log(frame.t, face.id, face.dominant);
 * }
 * console.log(video.summary().tracks);
 */
export async function analyzeVideo(file: string, options: AnalyzeVideoOptions = {}): Promise<VideoAnalysis> {
  if (options.fps !== undefined && !(options.fps > 0 && options.fps <= 240)) throw new UsageError(`fps must be between 0 and 240, got ${options.fps}`);
  if (options.budgetMs !== undefined && !(options.budgetMs > 0)) throw new UsageError(`budgetMs must be positive, got ${options.budgetMs}`);
  if (options.detectEveryMs !== undefined && !(options.detectEveryMs >= 0)) throw new UsageError(`detectEveryMs must be 0 or more, got ${options.detectEveryMs}`);
  if (options.durationS !== undefined && !(options.durationS > 0)) throw new UsageError(`durationS must be positive, got ${options.durationS}`);
  const tools = options.tools ?? videoTools();
  const info = await probeVideo(file, tools.ffprobe, { maxPixels: options.maxPixels, maxDurationS: options.maxDurationS });
  const everyFrame = options.everyFrame ?? false;
  const fps = everyFrame ? info.fps : options.fps ?? DEFAULT_VIDEO_FPS;
  // The whole frame and its larger views (docs/detector.md; `detector: { views: [] }` = one pass, as the live view);
  // no tiles (they are for tiny faces in large photos).
  const detector: AnalyzeOptions = { ...(options.minFaceScore !== undefined ? { minFaceScore: options.minFaceScore } : {}), ...(options.maxFaces !== undefined ? { maxFaces: options.maxFaces } : {}), detector: { tiles: 'off', ...options.detector } };
  const settings: VideoSettings = { fps, everyFrame, budgetMs: options.budgetMs ?? defaultBudgetMs(fps), durationS: options.durationS, detector, detectEveryMs: options.detectEveryMs ?? DEFAULT_DETECT_EVERY_MS };
  const tracks = new TrackSummaries();
  let frames = 0;
  let complete = false;
  let started = false;

  async function* run(): AsyncGenerator<VideoFrameResult> {
    if (started) throw new UsageError('a VideoAnalysis can be iterated once');
    started = true;
    let analyzer = options.analyzer;
    let own: NodeAnalyzer | undefined;
    if (!analyzer) {
      const { createAnalyzer } = await import('../node.js');
      own = await createAnalyzer(options);
      analyzer = own;
    }
    try {
      const decoded = decodeFrames(file, tools.ffmpeg, {
        width: info.width, height: info.height, fps, durationS: options.durationS, expectedDurationS: info.duration, signal: options.signal,
      });
      const images = new Map<number, RgbaImage>();
      async function* remember() {
        for await (const frame of decoded) {
          images.set(frame.tMs, frame.image);
          yield frame;
        }
      }
      const loop = analyzeFrames(remember(), {
        analyzer,
        detect: detector,
        smoothing: options.smoothing,
        budget: { frameBudgetMs: settings.budgetMs },
        schedule: { detectEveryMs: settings.detectEveryMs },
      });
      for await (const r of loop) {
        const image = images.get(r.tMs)!;
        images.delete(r.tMs);
        const t = r.tMs / 1000;
        const faces: VideoFace[] = r.faces.map((f) => ({ id: f.id, box: f.box, score: f.score, emotions: f.emotions, dominant: f.dominant }));
        tracks.add({ t, faces });
        frames += 1;
        yield { t, faces, pending: r.pending.length, detected: r.detected, classified: r.classified, detectMs: r.detectMs, classifyMs: r.classifyMs, detection: r.detection, image };
        if (options.signal?.aborted) break;
      }
      if (options.signal?.aborted) throw new VideoInterruptedError(file, frames / fps);
      complete = true;
    } finally {
      await own?.dispose();
    }
  }

  return {
    info,
    settings,
    tools,
    [Symbol.asyncIterator]: () => run(),
    summary: () => ({ info, settings, frames, analysedS: frames / fps, complete, tracks: tracks.list() }),
  };
}

export { DEFAULT_MAX_DURATION_S, DEFAULT_MAX_VIDEO_PIXELS, formatDuration, probeVideo, type VideoInfo } from './probe.js';
export { decodeFrames, type DecodeOptions } from './decode.js';
export { describeBinary, videoTools, type Binary, type VideoTools } from './ffmpeg.js';
export { FfmpegNotFoundError, InvalidVideoError, VideoInterruptedError, VideoTooLargeError } from './errors.js';
export { PerSecondResampler } from '../aggregate/per-second.js';
export { TrackSummaries } from '../aggregate/tracks.js';
export type { TrackSummary, VideoFace, VideoMoment } from '../types.js';
