/**
 * The video result formats (docs/video.md), written as frames arrive so output never waits for the end of the
 * video and an interrupted or truncated run leaves valid JSON / CSV for the frames done:
 *
 *   JSON: { file, width, height, fps, duration, [model,] frames: [{ t, faces: [{ id, box, emotions, dominant }] }],
 *           tracks: [{ id, from, to, dominant, meanEmotions }] }  (+ "error": { code, message } when cut short)
 *   CSV:  file,t,face,x,y,width,height,dominant,<7 emotions> — one row per (frame, face).
 *
 * Rounding is report/serialize.ts's (boxes 0.1 px, probabilities and seconds 4 decimals), so a face reads the
 * same as in `analyze --json` and the web app's timeline export. Pure: callers pass the writer.
 */
import { EMOTIONS } from '../labels.js';
import { boxJson, csvField, emotionsJson, roundUnit, type ErrorJson } from '../report/serialize.js';
import type { TrackSummary, VideoMoment } from './summary.js';

/** Where text goes (stdout, a file). */
export type Write = (text: string) => void;

/** The head of a video's JSON document. `fps` is the rate of `frames` (analysis fps; 1 with --per-second). */
export interface VideoJsonHead {
  file: string;
  width: number;
  height: number;
  fps: number;
  duration: number;
  /** The emotion model that read the faces; written when given (the web app's export, whose live model may differ). */
  model?: string;
}

export function frameJson(moment: VideoMoment): object {
  return {
    t: roundUnit(moment.t),
    faces: moment.faces.map((f) => ({ id: f.id, box: boxJson(f.box), emotions: emotionsJson(f.emotions), dominant: f.dominant })),
  };
}

export function trackJson(track: TrackSummary): object {
  return { id: track.id, from: roundUnit(track.from), to: roundUnit(track.to), dominant: track.dominant, meanEmotions: emotionsJson(track.meanEmotions) };
}

/** One video's JSON document, streamed: `begin`, a `frame` per frame, `end`. One frame per line. */
export class VideoJsonWriter {
  private frames = 0;
  private ended = false;

  constructor(private readonly write: Write) {}

  begin(head: VideoJsonHead): void {
    const { file, width, height, fps, duration, model } = head;
    const opening = JSON.stringify({ file, width, height, fps: roundUnit(fps), duration: roundUnit(duration), ...(model === undefined ? {} : { model }) });
    this.write(`${opening.slice(0, -1)},"frames":[`);
  }

  frame(moment: VideoMoment): void {
    this.write(`${this.frames === 0 ? '' : ','}\n${JSON.stringify(frameJson(moment))}`);
    this.frames++;
  }

  /** Close the document with the tracks (and the error that cut the run short, if one did). Idempotent. */
  end(tracks: TrackSummary[], error?: ErrorJson): void {
    if (this.ended) return;
    this.ended = true;
    const list = tracks.map((t) => JSON.stringify(trackJson(t))).join(',\n');
    this.write(`\n],"tracks":[${list ? `\n${list}\n` : ''}]${error ? `,"error":${JSON.stringify(error)}` : ''}}\n`);
  }
}

export const VIDEO_CSV_HEADER = ['file', 't', 'face', 'x', 'y', 'width', 'height', 'dominant', ...EMOTIONS].join(',');

/** CSV lines (no trailing newline) for one frame's faces. */
export function videoCsvRows(file: string, moment: VideoMoment): string[] {
  const t = roundUnit(moment.t).toFixed(4).replace(/\.?0+$/, '') || '0';
  return moment.faces.map((f) => [
    csvField(file), t, f.id,
    f.box.x.toFixed(1), f.box.y.toFixed(1), f.box.width.toFixed(1), f.box.height.toFixed(1),
    f.dominant, ...EMOTIONS.map((e) => f.emotions[e].toFixed(4)),
  ].join(','));
}
