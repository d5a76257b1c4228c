/**
 * `--per-second`: a video's frames resampled to one sample per whole second as they stream past, holding one
 * entry per face of the second in progress. Pure.
 */
import { EMOTIONS, type Emotion, type EmotionProbabilities } from '../labels.js';
import type { Box, VideoFace, VideoMoment } from '../types.js';
import { zeroRecord } from './mood.js';

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
