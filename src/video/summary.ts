/**
 * What video results add up to, computed as frames stream past so nothing grows with the video's length beyond
 * one entry per track or per second: the per-track summary (`from`/`to`, the label held longest, mean smoothed
 * emotions) and the per-second resampling (`--per-second`). Pure. (The HTML report's bounded series: src/report/video-series.ts.)
 */
import { EMOTIONS, type Emotion, type EmotionProbabilities } from '../labels.js';
import { zeroRecord } from '../aggregate/mood.js';
import type { Box, TrackSummary, VideoFace, VideoMoment } from '../types.js';

interface TrackAccumulator {
  id: number;
  from: number;
  to: number;
  frames: number;
  sum: Record<Emotion, number>;
  held: Record<Emotion, number>;
}

/** Running per-track statistics. */
export class TrackSummaries {
  private readonly tracks = new Map<number, TrackAccumulator>();

  add(moment: VideoMoment): void {
    for (const face of moment.faces) {
      let acc = this.tracks.get(face.id);
      if (!acc) {
        acc = { id: face.id, from: moment.t, to: moment.t, frames: 0, sum: zeroRecord(), held: zeroRecord() };
        this.tracks.set(face.id, acc);
      }
      acc.to = moment.t;
      acc.frames += 1;
      acc.held[face.dominant] += 1;
      for (const e of EMOTIONS) acc.sum[e] += face.emotions[e];
    }
  }

  /** The tracks so far, by id. */
  list(): TrackSummary[] {
    return [...this.tracks.values()].sort((a, b) => a.id - b.id).map((acc) => ({
      id: acc.id,
      from: acc.from,
      to: acc.to,
      frames: acc.frames,
      dominant: mostHeld(acc.held),
      meanEmotions: Object.fromEntries(EMOTIONS.map((e) => [e, acc.sum[e] / acc.frames])) as EmotionProbabilities,
    }));
  }
}

function mostHeld(held: Record<Emotion, number>): Emotion {
  let best: Emotion = EMOTIONS[0];
  for (const e of EMOTIONS) if (held[e] > held[best]) best = e;
  return best;
}

/**
 * Frames → one sample per whole second: sample s covers frames with s ≤ t < s + 1 and holds, per face seen in
 * them, the mean box, the mean smoothed emotions and the label held for most of those frames (ties: the later).
 * Seconds without analysed frames (fps < 1) are skipped, not invented.
 */
export class PerSecondResampler {
  private second: number | undefined;
  private faces = new Map<number, { n: number; box: Box; score: number; sum: Record<Emotion, number>; held: Record<Emotion, number>; last: Emotion }>();

  /** Feed one frame; returns the sample of the second it closed, if any. */
  push(frame: VideoMoment): VideoMoment | undefined {
    const s = Math.floor(frame.t + 1e-9);
    const done = this.second !== undefined && s !== this.second ? this.flush() : undefined;
    this.second = s;
    for (const face of frame.faces) {
      let acc = this.faces.get(face.id);
      if (!acc) {
        acc = { n: 0, box: { x: 0, y: 0, width: 0, height: 0 }, score: 0, sum: zeroRecord(), held: zeroRecord(), last: face.dominant };
        this.faces.set(face.id, acc);
      }
      acc.n += 1;
      acc.box.x += face.box.x; acc.box.y += face.box.y; acc.box.width += face.box.width; acc.box.height += face.box.height;
      acc.score += face.score;
      acc.held[face.dominant] += 1;
      acc.last = face.dominant;
      for (const e of EMOTIONS) acc.sum[e] += face.emotions[e];
    }
    return done;
  }

  /** The sample of the second in progress (at the end of the video), if any. */
  flush(): VideoMoment | undefined {
    if (this.second === undefined) return undefined;
    const faces: VideoFace[] = [...this.faces.entries()].sort((a, b) => a[0] - b[0]).map(([id, acc]) => {
      let dominant = acc.last;
      for (const e of EMOTIONS) if (acc.held[e] > acc.held[dominant]) dominant = e;
      return {
        id,
        box: { x: acc.box.x / acc.n, y: acc.box.y / acc.n, width: acc.box.width / acc.n, height: acc.box.height / acc.n },
        score: acc.score / acc.n,
        emotions: Object.fromEntries(EMOTIONS.map((e) => [e, acc.sum[e] / acc.n])) as EmotionProbabilities,
        dominant,
      };
    });
    const sample = { t: this.second, faces };
    this.second = undefined;
    this.faces = new Map();
    return sample;
  }
}
