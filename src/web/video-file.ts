/**
 * Video files in the page: a dropped or chosen video is analysed here, frame by frame from the stage's `<video>`
 * (seek to k / ANALYSIS_FPS, await 'seeked', grab the frame), through the same worker and the same per-frame step
 * as the live view (frame-step.ts → src/track/frames.ts), so ids, smoothing and the budget match `emolens video`.
 * Every analysed frame's faces are kept in memory (bounded by MAX_VIDEO_FRAMES), which makes the result seekable:
 * scrubbing or playing the video afterwards redraws the overlay and the group panel from the stored frame at or
 * before the playhead. Exports are `emolens video --json` / `--csv` documents (src/result/video.ts).
 * The file is read through an object URL: it never leaves the browser. Owns the file's playback and its results;
 * the page (main.ts) owns the panels and the timeline.
 */
import { TrackSummaries } from '../aggregate/tracks.js';
import { FrameTracking } from '../track/frames.js';
import type { Track } from '../track/tracker.js';
import { VIDEO_CSV_HEADER, VideoJsonWriter, videoCsvRows } from '../result/video.js';
import type { VideoFace, VideoMoment } from '../types.js';
import type { AnalyzerClient } from './analyzer-client.js';
import { analyseFrame, captureFrame, newStream } from './frame-step.js';
import { notice, type Notice } from './messages.js';
import { FaceOverlay } from './overlay.js';

/** Frames analysed per second of video: `emolens video`'s default rate. */
export const ANALYSIS_FPS = 5;
/** Frames kept in memory: one hour at ANALYSIS_FPS (a few hundred bytes per face per frame). Later frames are not analysed. */
export const MAX_VIDEO_FRAMES = 3600 * ANALYSIS_FPS;
/** A seek that has not landed after this long means the decoder is stuck. */
const SEEK_TIMEOUT_MS = 15_000;

/** Extensions treated as video when the browser gives the file no MIME type. */
const VIDEO_EXTENSIONS = /\.(webm|mp4|m4v|mov|mkv|ogv|avi)$/i;

export function isVideoFile(file: File): boolean {
  return file.type.startsWith('video/') || (!file.type && VIDEO_EXTENSIONS.test(file.name));
}

export type VideoFileState = 'idle' | 'loading' | 'analysing' | 'done' | 'failed';

export interface VideoFileElements {
  video: HTMLVideoElement;
  stage: HTMLElement;
  overlay: HTMLElement;
  /** Progress and state, also as data-* attributes (data-state, data-frames, data-expected, data-shown-t). */
  status: HTMLElement;
}

export interface VideoFileCallbacks {
  /** The faces now shown (while analysing: the frame just analysed; afterwards: the frame at the playhead). */
  onFrame(faces: VideoFace[], tS: number): void;
  /** Analysis began on a new file (clear the timeline). */
  onStart(): void;
  onNotice(notice: Notice): void;
  onState(state: VideoFileState): void;
}

export interface VideoFileOptions {
  smallFaces: boolean;
  aggregateOnly: boolean;
}

export class VideoFileAnalysis {
  private readonly overlay: FaceOverlay;
  private readonly frames: VideoMoment[] = [];
  private token = 0;
  private url: string | undefined;
  private state: VideoFileState = 'idle';
  private fileName = '';
  private size = { width: 0, height: 0 };
  private durationS = 0;
  /** The emotion model that read the faces (the worker's live model, as it reported it). */
  private model: string | undefined;
  aggregateOnly = false;

  constructor(private readonly el: VideoFileElements, private readonly client: AnalyzerClient, private readonly callbacks: VideoFileCallbacks) {
    this.overlay = new FaceOverlay(el.overlay);
    // Seekable results: once analysed, the playhead picks the stored frame to draw.
    const show = (): void => {
      if (this.state === 'done') this.showAt(el.video.currentTime);
    };
    el.video.addEventListener('seeked', show);
    el.video.addEventListener('timeupdate', show);
  }

  get currentState(): VideoFileState { return this.state; }
  get name(): string { return this.fileName; }
  get analysedFrames(): number { return this.frames.length; }

  /** Analyse `file` from the start; replaces any previous video and its results. Resolves when done or failed. */
  async analyse(file: File, options: VideoFileOptions): Promise<void> {
    this.close();
    const token = ++this.token;
    this.fileName = file.name;
    this.aggregateOnly = options.aggregateOnly;
    const { video } = this.el;
    this.setState('loading');
    this.url = URL.createObjectURL(file);
    video.srcObject = null;
    video.controls = false;
    video.muted = true;
    video.src = this.url;
    try {
      await mediaEvent(video, 'loadeddata');
    } catch {
      if (token !== this.token) return;
      this.fail(notice('video-unreadable', file.name));
      return;
    }
    if (token !== this.token) return;
    const duration = video.duration;
    if (!Number.isFinite(duration) || duration <= 0 || !video.videoWidth) {
      this.fail(notice('video-unreadable', `${file.name} (no video track, or zero length)`));
      return;
    }
    this.durationS = duration;
    this.size = { width: video.videoWidth, height: video.videoHeight };
    const expected = Math.min(MAX_VIDEO_FRAMES, Math.ceil(duration * ANALYSIS_FPS - 1e-6));
    this.el.status.dataset.expected = String(expected);
    this.callbacks.onStart();
    this.setState('analysing');
    const tracking = new FrameTracking();
    const stream = newStream();
    for (let k = 0; k < expected; k++) {
      const tS = k / ANALYSIS_FPS;
      try {
        await seek(video, tS);
      } catch {
        if (token !== this.token) return;
        this.fail(notice('video-unreadable', `${file.name} (decoding stopped at ${tS.toFixed(1)} s)`));
        return;
      }
      if (token !== this.token) return;
      const frame = await captureFrame(video);
      if (!frame) continue; // no picture at this time (rare: a gap in the stream): the next frame goes on
      let analysed;
      try {
        analysed = await analyseFrame(this.client, tracking, frame, {
          smallFaces: options.smallFaces,
          stream,
          now: () => tS * 1000, // the frame's presentation time, as analyzeFrames() uses: smoothing in video time
          cancelled: () => token !== this.token,
        });
      } catch (err) {
        if (token !== this.token) return;
        this.fail(notice('analysis-failed', `${file.name}: ${err instanceof Error ? err.message : String(err)}`));
        return;
      }
      if (!analysed) return;
      this.model = analysed.model ?? this.model;
      // Boxes in the video's own pixels (the frame may have been scaled down), as `emolens video` writes them.
      const scale = this.size.width / analysed.detection.width;
      const moment: VideoMoment = { t: tS, faces: analysed.step.tracks.map((t) => videoFace(t, scale)) };
      this.frames.push(moment);
      this.render(moment, analysed.step.pending.map((b) => scaleBox(b, scale)));
      this.el.status.dataset.frames = String(this.frames.length);
      this.el.status.textContent = `${file.name}: analysing ${Math.round((100 * (k + 1)) / expected)}% (${k + 1} / ${expected} frames)`;
    }
    if (expected < Math.ceil(duration * ANALYSIS_FPS - 1e-6)) {
      this.callbacks.onNotice(notice('video-too-long', `${file.name}: the first ${formatDuration(MAX_VIDEO_FRAMES / ANALYSIS_FPS)} of ${formatDuration(duration)}`));
    }
    const by = this.model ? ` by ${this.model}` : '';
    this.el.status.textContent = `${file.name}: ${this.frames.length} frames analysed${by} (${ANALYSIS_FPS} per second of video). Play or scrub to review.`;
    video.controls = true;
    this.setState('done');
    video.currentTime = 0; // 'seeked' then draws the first frame's results
  }

  /** Stop any analysis, unload the video and forget its results (another file, or the camera, takes the stage). */
  close(): void {
    this.token++;
    const { video } = this.el;
    if (this.url) {
      video.removeAttribute('src');
      video.load();
      URL.revokeObjectURL(this.url);
      this.url = undefined;
    }
    video.controls = false;
    this.frames.length = 0;
    this.model = undefined;
    this.overlay.clear();
    delete this.el.status.dataset.frames;
    delete this.el.status.dataset.expected;
    delete this.el.status.dataset.shownT;
    this.el.status.textContent = '';
    if (this.state !== 'idle') this.setState('idle');
  }

  /** Re-draw the frame at the playhead (after an aggregate-only change). */
  redraw(): void {
    if (this.state === 'done') this.showAt(this.el.video.currentTime);
  }

  /** `emolens video --json`'s document for this video's frames (src/result/video.ts), with the model that read them. */
  toJson(): string {
    const parts: string[] = [];
    const writer = new VideoJsonWriter((text) => parts.push(text));
    writer.begin({ file: this.fileName, width: this.size.width, height: this.size.height, fps: ANALYSIS_FPS, duration: this.durationS, model: this.model });
    const summaries = new TrackSummaries();
    for (const moment of this.frames) {
      writer.frame(moment);
      summaries.add(moment);
    }
    writer.end(summaries.list());
    return parts.join('');
  }

  /** `emolens video --csv`'s rows for this video. */
  toCsv(): string {
    const rows = [VIDEO_CSV_HEADER];
    for (const moment of this.frames) rows.push(...videoCsvRows(this.fileName, moment));
    return `${rows.join('\n')}\n`;
  }

  private showAt(tS: number): void {
    const moment = frameAt(this.frames, tS);
    if (!moment) return;
    this.render(moment, []);
  }

  private render(moment: VideoMoment, pending: VideoMoment['faces'][number]['box'][]): void {
    this.el.stage.classList.remove('mirrored');
    this.overlay.render(moment.faces, this.size.width, this.size.height, { mirror: false, aggregateOnly: this.aggregateOnly }, pending);
    this.el.status.dataset.shownT = String(moment.t);
    this.callbacks.onFrame(moment.faces, moment.t);
  }

  private fail(n: Notice): void {
    this.callbacks.onNotice(n);
    this.el.status.textContent = `${this.fileName}: ${n.title}`;
    this.setState('failed');
  }

  private setState(state: VideoFileState): void {
    this.state = state;
    this.el.status.dataset.state = state;
    this.el.stage.dataset.video = state;
    this.callbacks.onState(state);
  }
}

/** The stored frame at or before `tS` (the one on screen at that time); the first frame before it starts. */
export function frameAt<T extends { t: number }>(frames: readonly T[], tS: number): T | undefined {
  let lo = 0;
  let hi = frames.length - 1;
  if (hi < 0) return undefined;
  if (tS < frames[0].t) return frames[0];
  // Binary search for the last frame with t ≤ tS (a hair of slack: currentTime comes back rounded).
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (frames[mid].t <= tS + 1e-3) lo = mid;
    else hi = mid - 1;
  }
  return frames[lo];
}

function videoFace(t: Track, scale: number): VideoFace {
  return { id: t.id, box: scaleBox(t.box, scale), score: t.score, emotions: { ...t.emotions }, dominant: t.dominant };
}

function scaleBox(b: VideoFace['box'], scale: number): VideoFace['box'] {
  return { x: b.x * scale, y: b.y * scale, width: b.width * scale, height: b.height * scale };
}

function formatDuration(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

/** Resolve on `event`, reject on the element's 'error' (a media error: the file cannot be decoded). */
function mediaEvent(video: HTMLVideoElement, event: 'loadeddata' | 'seeked', timeoutMs = SEEK_TIMEOUT_MS): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (settle: () => void): void => {
      clearTimeout(timer);
      video.removeEventListener(event, onEvent);
      video.removeEventListener('error', onError);
      settle();
    };
    const onEvent = (): void => done(resolve);
    const onError = (): void => done(() => reject(new Error(video.error?.message || 'media error')));
    const timer = setTimeout(() => done(() => reject(new Error(`no ${event} after ${timeoutMs} ms`))), timeoutMs);
    video.addEventListener(event, onEvent);
    video.addEventListener('error', onError);
  });
}

/** Seek to `tS` and wait until the frame there is decoded. */
function seek(video: HTMLVideoElement, tS: number): Promise<void> {
  const landed = mediaEvent(video, 'seeked');
  video.currentTime = tS;
  return landed;
}
