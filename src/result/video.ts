/**
 * A video's result formats (docs/video.md), written as frames arrive so output never waits for the end of the
 * video and an interrupted or truncated run leaves valid JSON / CSV for the frames done:
 *
 *   JSON: { file, width, height, fps, duration, [model,] frames: [{ t, faces: [{ id, box, emotions, dominant }] }],
 *           tracks: [{ id, from, to, dominant, meanEmotions }] }  (+ "error": { code, message } when cut short)
 *   CSV:  file,t,face,x,y,width,height,dominant,<7 emotions> — one row per (frame, face).
 *
 * The document's type (VideoDocument) and its head's fields are declared here once, for the writers, the report
 * page (src/report/video-html.ts) and ffprobe's VideoInfo. Rounding is format.ts's (boxes 0.1 px, probabilities and
 * seconds 4 decimals), so a face reads the same as in `analyze --json` and the web app's timeline export.
 * Browser-safe and pure: callers pass the writer.
 */
import { EMOTIONS, type Emotion } from '../labels.js';
import type { TrackSummary, VideoMoment } from '../types.js';
import type { ErrorJson } from './error.js';
import { csvField, roundUnit } from './format.js';
import { boxJson, emotionsJson, type BoxJson } from './image.js';

/** Where text goes (stdout, a file, a string). */
export type Write = (text: string) => void;

/** What a video is: the head of its JSON document, and what ffprobe's VideoInfo starts with. */
export interface VideoHead {
  file: string;
  /** Display size in px (rotation applied). */
  width: number;
  height: number;
  /** Frames per second: in a document the rate of `frames` (analysis fps; 1 with --per-second), in VideoInfo the source's. */
  fps: number;
  /** Seconds. */
  duration: number;
}

/** The head as the JSON document opens with it. */
export interface VideoJsonHead extends VideoHead {
  /** The emotion model that read the faces; written when given (the web app's export, whose live model may differ). */
  model?: string;
}

export interface VideoFaceJson { id: number; box: BoxJson; emotions: Record<Emotion, number>; dominant: Emotion }
export interface VideoFrameJson { t: number; faces: VideoFaceJson[] }
export interface TrackJson { id: number; from: number; to: number; dominant: Emotion; meanEmotions: Record<Emotion, number> }

/** A video's JSON document as `emolens video --json` prints it (docs/video.md). */
export interface VideoDocument extends VideoJsonHead {
  frames: VideoFrameJson[];
  tracks: TrackJson[];
  error?: ErrorJson;
}

export function frameJson(moment: VideoMoment): VideoFrameJson {
  return {
    t: roundUnit(moment.t),
    faces: moment.faces.map((f) => ({ id: f.id, box: boxJson(f.box), emotions: emotionsJson(f.emotions), dominant: f.dominant })),
  };
}

export function trackJson(track: TrackSummary): TrackJson {
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
