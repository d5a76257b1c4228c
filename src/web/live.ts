/**
 * The live view: camera or screen → one frame at a time to the worker → tracker → overlay and stats.
 * Back-pressure by design: the next frame is grabbed only when the previous result is back, so a slow machine
 * drops frames instead of queueing them (latency stays one frame).
 *
 * Per frame: detect every face in the worker, then the core's per-frame step (src/track/frames.ts, the same one
 * video analysis runs; the frame-grab-detect-step helper in frame-step.ts is shared with video files in the page):
 * classify only a budget of faces (new faces, then the oldest readings), the tracker keeps
 * the smoothed probabilities of the others. This file owns the camera, the DOM and the stats; no tracking logic.
 * The faces are read by the worker's live model (the fast one by default), named under the video as it reports it.
 * Snapshots and uploads classify every face, with the full model (main.ts).
 */
import { FrameTracking } from '../track/frames.js';
import type { Track } from '../track/tracker.js';
import type { Box } from '../types.js';
import type { AnalyzerClient } from './analyzer-client.js';
import { analyseFrame, captureFrame, newStream, type AnalysedFrame } from './frame-step.js';
import { mediaErrorNotice, notice, type Notice } from './messages.js';
import { FaceOverlay } from './overlay.js';

export type LiveSource = 'camera' | 'screen';

export interface LiveElements {
  video: HTMLVideoElement;
  stage: HTMLElement;
  overlay: HTMLElement;
  fps: HTMLElement;
  ms: HTMLElement;
  faces: HTMLElement;
  size: HTMLElement;
  /** The emotion model that read the latest live faces (as the worker reports it per reading). */
  model: HTMLElement;
}

export interface LiveCallbacks {
  /** After every analysed frame, with the visible (smoothed) tracks. */
  onTracks(tracks: Track[], nowMs: number): void;
  onNotice(notice: Notice): void;
  clearNotice(code: Notice['code']): void;
  /** Running / paused / stopped changed. */
  onState(state: LiveState): void;
}

export type LiveState = 'idle' | 'starting' | 'running' | 'paused';

/** "No face found" appears after this long without any face. */
const NO_FACE_AFTER_MS = 3000;

export class LiveView {
  /** Tracker + classification budget: the per-frame logic shared with video (src/track/frames.ts). */
  readonly tracking = new FrameTracking();
  private readonly overlay: FaceOverlay;
  private stream: MediaStream | undefined;
  private loopToken = 0;
  /** This camera session's stream id: the worker follows its faces between full detections (frame-step.ts). */
  private streamId = newStream();
  private state: LiveState = 'idle';
  private frameTimes: number[] = [];
  private msAverage = 0;
  private lastFaceAt = 0;
  private lastStatsAt = 0;
  private framesAnalysed = 0;
  private msTotal = 0;
  private readingsTotal = 0;
  private detectMsTotal = 0;
  source: LiveSource = 'camera';
  mirror = true;
  aggregateOnly = false;
  /**
   * Off (default): one whole-frame detector pass per live frame (67 ms at 1280x720 in headless Chromium on 2 cores,
   * 7 FPS). On: the detector's defaults, its 2x and 3x views of the frame plus tiles where those cannot reach 40 px
   * faces, which find tight, blurry and small faces at about 6x the detection time (2 FPS; docs/web.md).
   * Snapshots and uploads always use the detector's defaults.
   */
  smallFaces = false;
  /** Faces with a reading (what the group panel and the timeline use). */
  tracks: Track[] = [];
  /** Faces found in the last frame that have no reading yet (boxes only). */
  pending: Box[] = [];
  frameSize = { width: 0, height: 0 };

  constructor(private readonly el: LiveElements, private readonly client: AnalyzerClient, private readonly callbacks: LiveCallbacks) {
    this.overlay = new FaceOverlay(el.overlay);
  }

  get currentState(): LiveState { return this.state; }

  async startCamera(deviceId?: string): Promise<boolean> {
    if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
      this.callbacks.onNotice(notice('insecure-context', `http://localhost:${location.port || '8080'}/`));
      return false;
    }
    const video: MediaTrackConstraints = { width: { ideal: 1280 }, height: { ideal: 720 } };
    if (deviceId) video.deviceId = { exact: deviceId };
    else video.facingMode = 'user';
    return this.start('camera', () => navigator.mediaDevices.getUserMedia({ video, audio: false }));
  }

  async startScreen(): Promise<boolean> {
    if (!navigator.mediaDevices?.getDisplayMedia) {
      this.callbacks.onNotice(window.isSecureContext ? notice('screen-unsupported') : notice('insecure-context'));
      return false;
    }
    return this.start('screen', () => navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false }));
  }

  private async start(source: LiveSource, open: () => Promise<MediaStream>): Promise<boolean> {
    this.stop();
    this.setState('starting');
    let stream: MediaStream;
    try {
      stream = await open();
    } catch (err) {
      this.setState('idle');
      this.callbacks.onNotice(mediaErrorNotice(err, source));
      return false;
    }
    for (const code of ['camera-denied', 'no-camera', 'camera-busy', 'screen-denied', 'insecure-context'] as const) this.callbacks.clearNotice(code);
    this.stream = stream;
    this.source = source;
    // The browser's own "Stop sharing" button (or an unplugged camera) ends the track.
    stream.getVideoTracks()[0]?.addEventListener('ended', () => this.stop());
    const { video } = this.el;
    video.srcObject = stream;
    try {
      await video.play();
    } catch (err) {
      this.stop();
      this.callbacks.onNotice(notice('camera-busy'));
      return false;
    }
    this.tracking.reset();
    this.streamId = newStream();
    this.pending = [];
    this.lastFaceAt = performance.now();
    this.frameTimes = [];
    this.msAverage = 0;
    this.setState('running');
    void this.loop(++this.loopToken);
    return true;
  }

  pause(): void {
    if (this.state !== 'running') return;
    this.loopToken++;
    this.el.video.pause();
    this.setState('paused');
  }

  resume(): void {
    if (this.state !== 'paused') return;
    void this.el.video.play();
    this.lastFaceAt = performance.now();
    this.setState('running');
    void this.loop(++this.loopToken);
  }

  stop(): void {
    this.loopToken++;
    this.stream?.getTracks().forEach((t) => t.stop());
    this.stream = undefined;
    this.el.video.srcObject = null;
    this.overlay.clear();
    this.tracks = [];
    this.pending = [];
    this.tracking.reset();
    if (this.state !== 'idle') this.setState('idle');
  }

  /** The id of the camera in use (for the camera picker). */
  cameraDeviceId(): string | undefined {
    return this.source === 'camera' ? this.stream?.getVideoTracks()[0]?.getSettings().deviceId : undefined;
  }

  /** The current frame as a canvas, mirrored when the view is (what you see is what you get). */
  grabFrame(): HTMLCanvasElement | undefined {
    const { video } = this.el;
    if (!video.videoWidth) return undefined;
    const canvas = document.createElement('canvas');
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    const ctx = canvas.getContext('2d');
    if (!ctx) return undefined;
    if (this.mirror) {
      ctx.translate(canvas.width, 0);
      ctx.scale(-1, 1);
    }
    ctx.drawImage(video, 0, 0);
    return canvas;
  }

  /** Re-draw the overlay now (after a mirror / aggregate-only change). */
  redraw(): void {
    this.el.stage.classList.toggle('mirrored', this.mirror);
    const now = performance.now();
    const faces = this.tracks.map((t) => ({ id: t.id, box: t.box, emotions: t.emotions, dominant: t.dominant, readingAgeMs: now - t.classifiedMs }));
    this.overlay.render(faces, this.frameSize.width, this.frameSize.height, { mirror: this.mirror, aggregateOnly: this.aggregateOnly }, this.pending);
  }

  private setState(state: LiveState): void {
    this.state = state;
    this.el.stage.dataset.state = state;
    this.callbacks.onState(state);
  }

  private async loop(token: number): Promise<void> {
    const { video } = this.el;
    while (token === this.loopToken) {
      await nextVideoFrame(video);
      if (token !== this.loopToken) return;
      const frame = await captureFrame(video);
      if (!frame) continue;
      let analysed: AnalysedFrame | undefined;
      try {
        analysed = await analyseFrame(this.client, this.tracking, frame, {
          smallFaces: this.smallFaces,
          stream: this.streamId,
          now: () => performance.now(),
          cancelled: () => token !== this.loopToken,
        });
      } catch (err) {
        if (token !== this.loopToken) return;
        this.callbacks.onNotice(notice('analysis-failed', err instanceof Error ? err.message : String(err)));
        this.pause();
        return;
      }
      if (!analysed || token !== this.loopToken) return;
      const { detection, step } = analysed;
      if (analysed.model && analysed.model !== this.el.model.dataset.value) setStat(this.el.model, analysed.model, analysed.model);
      const now = step.nowMs;
      this.frameSize = { width: detection.width, height: detection.height };
      this.tracks = step.tracks;
      this.pending = step.pending;
      this.redraw();
      this.readingsTotal += step.classified;
      this.detectMsTotal += detection.ms;
      this.recordStats(now, detection.ms + step.classifyMs, detection.width, detection.height);
      if (this.tracks.length > 0 || this.pending.length > 0) {
        this.lastFaceAt = now;
        this.callbacks.clearNotice('no-face');
      } else if (now - this.lastFaceAt > NO_FACE_AFTER_MS) {
        this.callbacks.onNotice(notice('no-face', this.source === 'screen' ? 'Nothing that looks like a face on the shared screen' : 'Nothing that looks like a face in the camera image'));
        this.lastFaceAt = now; // re-check in another NO_FACE_AFTER_MS, not every frame
      }
      this.callbacks.onTracks(this.tracks, now);
    }
  }

  private recordStats(now: number, ms: number, width: number, height: number): void {
    // FPS over the last 2 s, but never fewer than the last two frames (a slow machine still gets a number).
    this.frameTimes.push(now);
    while (this.frameTimes.length > 2 && now - this.frameTimes[0] > 2000) this.frameTimes.shift();
    this.msAverage = this.msAverage === 0 ? ms : this.msAverage + 0.1 * (ms - this.msAverage);
    // Running totals for scripts/bench-web.ts (FPS and ms/frame over an exact window).
    this.framesAnalysed += 1;
    this.msTotal += ms;
    this.el.fps.dataset.frames = String(this.framesAnalysed);
    this.el.ms.dataset.total = String(this.msTotal);
    this.el.ms.dataset.detectTotal = String(this.detectMsTotal);
    this.el.faces.dataset.readings = String(this.readingsTotal);
    this.el.faces.dataset.msPerFace = String(this.tracking.budget.msPerFace ?? '');
    if (now - this.lastStatsAt < 250) return;
    this.lastStatsAt = now;
    const span = now - this.frameTimes[0];
    const fps = this.frameTimes.length > 1 && span > 0 ? ((this.frameTimes.length - 1) * 1000) / span : 0;
    setStat(this.el.fps, fps, fps ? fps.toFixed(1) : '—');
    setStat(this.el.ms, this.msAverage, this.msAverage.toFixed(0));
    const faces = this.tracks.length + this.pending.length;
    setStat(this.el.faces, faces, String(faces));
    this.el.size.textContent = `${width}×${height}`;
  }
}

function setStat(el: HTMLElement, value: number | string, text: string): void {
  el.dataset.value = String(value);
  el.textContent = text;
}

/** Resolve on the next decoded video frame (requestVideoFrameCallback), or after 100 ms without one. */
function nextVideoFrame(video: HTMLVideoElement): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (): void => {
      if (!done) {
        done = true;
        resolve();
      }
    };
    if ('requestVideoFrameCallback' in video) video.requestVideoFrameCallback(() => finish());
    else requestAnimationFrame(() => finish());
    setTimeout(finish, 100);
  });
}
