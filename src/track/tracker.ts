/**
 * Live smoothing: per-frame detections → stable face tracks, so boxes do not jitter and labels do not flicker.
 *
 * - Matching: greedy IoU. Every (track, detection) pair with IoU ≥ `matchIou` is considered, highest IoU first;
 *   each track and detection is used once. Unmatched detections start new tracks (new id).
 * - Emotions: an exponential moving average per track with a time constant, so smoothing does not depend on the
 *   frame rate: p ← p + α·(p_new − p), α = 1 − exp(−Δt / probabilityTauMs), Δt = time since the track's previous
 *   reading. A detection may come without a reading (only a budget of faces is classified per frame,
 *   budget.ts): it moves the box and keeps the track alive, and the probabilities stay as they were.
 *   A new face without a reading starts no track (the caller shows it as pending).
 * - Label: the track's dominant emotion switches only when another emotion leads the current one by
 *   `hysteresis` in the smoothed probabilities.
 * - Box: the same EMA with a short time constant (`boxTauMs`) against detector jitter.
 * - A track missed by the detector stays visible for `showMs` and keeps its id and history for `keepMs`.
 *
 * Pure (time is passed in), so it is tested in Node; frames.ts feeds it (the live view: performance.now(); video:
 * the frames' timestamps).
 */
import { iou } from '../geometry.js';
import { dominantEmotion, EMOTIONS, type Emotion, type EmotionProbabilities } from '../labels.js';
import type { Box } from '../types.js';

export interface SmoothingOptions {
  probabilityTauMs: number;
  boxTauMs: number;
  matchIou: number;
  hysteresis: number;
  showMs: number;
  keepMs: number;
}

export const DEFAULT_SMOOTHING: Readonly<SmoothingOptions> = {
  probabilityTauMs: 600,
  boxTauMs: 100,
  matchIou: 0.3,
  hysteresis: 0.05,
  showMs: 300,
  keepMs: 1500,
};

/** What the tracker needs from one detection (a FaceResult fits). */
export interface FaceObservation {
  box: Box;
  score: number;
  /** This frame's reading; absent when the face was not classified in this frame. */
  emotions?: EmotionProbabilities;
}

export interface Track {
  /** Stable while the face stays matched; shown as "Face #id". */
  id: number;
  box: Box;
  score: number;
  /** Smoothed probabilities. */
  emotions: EmotionProbabilities;
  /** Dominant emotion of the smoothed probabilities, with hysteresis. */
  dominant: Emotion;
  /** Last raw (unsmoothed) reading. */
  raw: EmotionProbabilities;
  firstSeenMs: number;
  lastSeenMs: number;
  /** When the last reading came in (the age of `raw`). */
  classifiedMs: number;
  /** Frames this track was matched in. */
  hits: number;
}

/** α of an EMA with time constant tauMs after dtMs. */
export function emaAlpha(dtMs: number, tauMs: number): number {
  if (tauMs <= 0) return 1;
  return 1 - Math.exp(-Math.max(0, dtMs) / tauMs);
}

export class FaceTracker {
  private tracks: Track[] = [];
  private nextId = 1;
  readonly options: SmoothingOptions;

  constructor(options: Partial<SmoothingOptions> = {}) {
    this.options = { ...DEFAULT_SMOOTHING, ...options };
  }

  /**
   * Which track each detection would continue (undefined: a new face), without changing anything: the live view
   * asks before it decides which faces to classify. `update()` with the same boxes pairs them the same way.
   */
  match(boxes: readonly Box[]): Array<Track | undefined> {
    const owners: Array<Track | undefined> = boxes.map(() => undefined);
    for (const [t, f] of this.assign(boxes)) owners[f] = this.tracks[t];
    return owners;
  }

  /** Feed one frame's detections observed at `nowMs`; returns the visible tracks. */
  update(faces: readonly FaceObservation[], nowMs: number): Track[] {
    const matched = new Set<number>();
    for (const [t, f] of this.assign(faces.map((face) => face.box))) {
      matched.add(f);
      this.observe(this.tracks[t], faces[f], nowMs);
    }
    faces.forEach((face, f) => {
      if (!matched.has(f) && face.emotions) this.tracks.push(this.start(face, face.emotions, nowMs));
    });
    this.tracks = this.tracks.filter((track) => nowMs - track.lastSeenMs <= this.options.keepMs);
    return this.visible(nowMs);
  }

  /** Greedy IoU pairing: [track index, detection index] pairs, highest IoU first, each side used once. */
  private assign(boxes: readonly Box[]): Array<[number, number]> {
    const pairs: Array<{ t: number; f: number; iou: number }> = [];
    this.tracks.forEach((track, t) => {
      boxes.forEach((b, f) => {
        const overlap = iou(track.box, b);
        if (overlap >= this.options.matchIou) pairs.push({ t, f, iou: overlap });
      });
    });
    pairs.sort((a, b) => b.iou - a.iou);
    const trackUsed = new Set<number>();
    const faceUsed = new Set<number>();
    const out: Array<[number, number]> = [];
    for (const { t, f } of pairs) {
      if (trackUsed.has(t) || faceUsed.has(f)) continue;
      trackUsed.add(t);
      faceUsed.add(f);
      out.push([t, f]);
    }
    return out;
  }

  /** Tracks seen within `showMs` of `nowMs`, in id order. */
  visible(nowMs: number): Track[] {
    return this.tracks.filter((t) => nowMs - t.lastSeenMs <= this.options.showMs).sort((a, b) => a.id - b.id);
  }

  reset(): void {
    this.tracks = [];
  }

  private start(face: FaceObservation, reading: EmotionProbabilities, nowMs: number): Track {
    const emotions = { ...reading };
    return {
      id: this.nextId++,
      box: { ...face.box },
      score: face.score,
      emotions,
      dominant: dominantEmotion(emotions),
      raw: { ...reading },
      firstSeenMs: nowMs,
      lastSeenMs: nowMs,
      classifiedMs: nowMs,
      hits: 1,
    };
  }

  private observe(track: Track, face: FaceObservation, nowMs: number): void {
    if (face.emotions) this.read(track, face.emotions, nowMs);
    const b = emaAlpha(nowMs - track.lastSeenMs, this.options.boxTauMs);
    track.box = {
      x: track.box.x + b * (face.box.x - track.box.x),
      y: track.box.y + b * (face.box.y - track.box.y),
      width: track.box.width + b * (face.box.width - track.box.width),
      height: track.box.height + b * (face.box.height - track.box.height),
    };
    track.score = face.score;
    track.lastSeenMs = nowMs;
    track.hits += 1;
  }

  /** Fold a new reading into the track's smoothed probabilities and label. */
  private read(track: Track, reading: EmotionProbabilities, nowMs: number): void {
    const a = emaAlpha(nowMs - track.classifiedMs, this.options.probabilityTauMs);
    for (const e of EMOTIONS) track.emotions[e] += a * (reading[e] - track.emotions[e]);
    const leader = dominantEmotion(track.emotions);
    if (leader !== track.dominant && track.emotions[leader] - track.emotions[track.dominant] >= this.options.hysteresis) {
      track.dominant = leader;
    }
    track.raw = { ...reading };
    track.classifiedMs = nowMs;
  }
}

