/**
 * What each tracked face of a video adds up to, computed as frames stream past so nothing grows with the video's
 * length beyond one entry per track: `from`/`to`, frames, the label held longest and the mean smoothed emotions.
 * `analyzeVideo` (src/video/) and the web app's video files (src/web/video-file.ts) both fold their frames here. Pure.
 */
import { EMOTIONS, type Emotion, type EmotionProbabilities } from '../labels.js';
import type { TrackSummary, VideoMoment } from '../types.js';
import { zeroRecord } from './mood.js';

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
