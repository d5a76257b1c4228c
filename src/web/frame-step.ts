/**
 * One video frame through the analysis, shared by the live view (camera / screen) and video files: grab the
 * `<video>`'s current frame as a bitmap (scaled down past MAX_FRAME_SIDE), find the faces in the worker, then the
 * core's per-frame step (src/track/frames.ts FrameTracking: tracker + classification budget) with the budget's
 * faces classified in the worker. Owns no DOM beyond reading the video element, no state: callers keep the
 * FrameTracking, the clock and the cancellation.
 */
import type { FrameTracking, TrackedFrame } from '../track/frames.js';
import type { AnalyzerClient, FrameDetection } from './analyzer-client.js';

/** Frames larger than this (long side, px) are scaled down before analysis; 1920 keeps 25-face galleries readable. */
export const MAX_FRAME_SIDE = 1920;

/** The video's current frame as a bitmap, or undefined when it has none to give (no frame yet, size switching). */
export async function captureFrame(video: HTMLVideoElement, maxSide = MAX_FRAME_SIDE): Promise<ImageBitmap | undefined> {
  if (video.readyState < 2 || !video.videoWidth) return undefined;
  const scale = Math.min(1, maxSide / Math.max(video.videoWidth, video.videoHeight));
  const width = Math.round(video.videoWidth * scale);
  const height = Math.round(video.videoHeight * scale);
  try {
    return scale < 1
      ? await createImageBitmap(video, { resizeWidth: width, resizeHeight: height, resizeQuality: 'medium' })
      : await createImageBitmap(video);
  } catch {
    return undefined; // the stream switched size or ended between frames
  }
}

export interface FrameStepOptions {
  /**
   * The detector's extra passes (its 2x/3x views of the whole frame and tiles) for tight, blurry and small faces:
   * about 6x the detection time at 1280x720. Off = one whole-frame pass, the live default.
   */
  smallFaces: boolean;
  /** The tracker's time for this frame (live: performance.now(); a file: the frame's presentation time). */
  now(): number;
  /** True when the caller no longer wants this frame (paused, stopped, another file). */
  cancelled(): boolean;
  /**
   * The stream this frame belongs to (newStream(): one per camera session or video file): the worker then follows
   * the previous frame's faces between full detections (track, then detect, as `emolens video` does).
   */
  stream?: number;
}

let streams = 0;
/** A new stream id for FrameStepOptions.stream. */
export const newStream = (): number => ++streams;

export interface AnalysedFrame {
  detection: FrameDetection;
  step: TrackedFrame;
  /** The emotion model that read this frame's faces (the worker's live model); undefined when it read none. */
  model?: string;
}

/**
 * Detect, then fold into `tracking` with the budget's faces classified. The bitmap is transferred to the worker.
 * Undefined when cancelled meanwhile (nothing folded in); worker errors propagate.
 */
export async function analyseFrame(client: AnalyzerClient, tracking: FrameTracking, frame: ImageBitmap, options: FrameStepOptions): Promise<AnalysedFrame | undefined> {
  const detection = await client.detect(
    frame,
    { detector: options.smallFaces ? { tiles: 'auto' } : { tiles: 'off', views: [] } },
    options.stream === undefined ? undefined : { id: options.stream, tMs: options.now() },
  );
  if (options.cancelled()) return undefined;
  const { frameId } = detection;
  let model: string | undefined;
  const step = await tracking.step(detection.faces, async (chosen) => {
    const read = await client.classify(frameId, chosen);
    model = read.model;
    return read;
  }, { now: options.now, cancelled: options.cancelled });
  return step && !options.cancelled() ? { detection, step, model } : undefined;
}
