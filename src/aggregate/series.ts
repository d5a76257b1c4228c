/**
 * The time series of the `emolens video --report` page, built as frames stream past and kept bounded: per track
 * the 7 smoothed emotion probabilities, and for the group (mood.ts `groupMood` of the faces in each
 * analysed frame) valence, engagement and the number of faces. Each series holds at most `2 × max` points while
 * running and returns at most `max` (default 2,000): when it fills up, neighbouring points are merged (frame-
 * weighted means of time and values), so a 2-hour video costs the same memory as a 7-minute one and its chart
 * shows one point per few seconds. Pure and browser-safe; knows nothing about HTML (src/report/video-html.ts) or decoding.
 */
import { EMOTIONS, type Emotion, type EmotionProbabilities } from '../labels.js';
import { roundUnit } from '../result/format.js';
import { groupMood } from './mood.js';

/** Points per track (and for the group) in the report; longer runs are downsampled to this (docs/video.md). */
export const MAX_REPORT_POINTS = 2000;

interface Bucket {
  /** Frames merged into this point. */
  n: number;
  /** Sum of their times (s). */
  t: number;
  /** Per value: sum and how many frames had one (a frame without faces has no valence). */
  sum: number[];
  count: number[];
}

export interface SeriesPoint {
  /** Mean time of the frames merged into the point (s). */
  t: number;
  /** Mean of each value over those frames; null where none of them had it. */
  values: Array<number | null>;
}

function merge(a: Bucket, b: Bucket): Bucket {
  return { n: a.n + b.n, t: a.t + b.t, sum: a.sum.map((s, i) => s + b.sum[i]), count: a.count.map((c, i) => c + b.count[i]) };
}

function mergePairs(points: Bucket[]): Bucket[] {
  const out: Bucket[] = [];
  for (let i = 0; i < points.length; i += 2) out.push(i + 1 < points.length ? merge(points[i], points[i + 1]) : points[i]);
  return out;
}

/** A series of `width` numbers per frame, at most `2 × max` points in memory, at most `max` returned. */
export class BoundedSeries {
  private points: Bucket[] = [];
  private pending: Bucket | undefined;
  /** Frames per stored point: doubles each time the series is halved, so later frames arrive pre-merged. */
  private perPoint = 1;

  constructor(private readonly width: number, private readonly max = MAX_REPORT_POINTS) {
    if (!(max >= 1)) throw new RangeError(`max must be at least 1, got ${max}`);
  }

  add(t: number, values: ReadonlyArray<number | null>): void {
    const b = (this.pending ??= { n: 0, t: 0, sum: new Array<number>(this.width).fill(0), count: new Array<number>(this.width).fill(0) });
    b.n += 1;
    b.t += t;
    for (let i = 0; i < this.width; i++) {
      const v = values[i];
      if (v === null || v === undefined || !Number.isFinite(v)) continue;
      b.sum[i] += v;
      b.count[i] += 1;
    }
    if (b.n < this.perPoint) return;
    this.points.push(b);
    this.pending = undefined;
    if (this.points.length >= 2 * this.max) {
      this.points = mergePairs(this.points);
      this.perPoint *= 2;
    }
  }

  /** Frames added so far. */
  get frames(): number {
    return this.points.reduce((n, b) => n + b.n, 0) + (this.pending?.n ?? 0);
  }

  /** The points, at most `max`. */
  list(): SeriesPoint[] {
    let points = this.pending ? [...this.points, this.pending] : this.points;
    while (points.length > this.max) points = mergePairs(points);
    return points.map((b) => ({ t: b.t / b.n, values: b.sum.map((s, i) => (b.count[i] ? s / b.count[i] : null)) }));
  }
}

/** What a frame needs to feed the report: its time and faces (a VideoFrameResult, a JSON document's frame). */
export interface ReportMoment {
  t: number;
  faces: ReadonlyArray<{ id: number; emotions: EmotionProbabilities; dominant: Emotion }>;
}

/** The report's series, ready to embed: times in s, probabilities 0..1, rounded to 4 decimals. */
export interface VideoSeriesData {
  tracks: Array<{ id: number; t: number[]; emotions: Record<Emotion, number[]> }>;
  mood: { t: number[]; valence: Array<number | null>; engagement: Array<number | null>; faces: number[] };
  /** Analysed frames fed in. */
  frames: number;
  /** The cap per series; a series with more frames than this was downsampled. */
  maxPoints: number;
}

const roundOrNull = (v: number | null): number | null => (v === null ? null : roundUnit(v));

/** Per-track emotions and group mood over time, bounded (see the module header). */
export class VideoReportSeries {
  private readonly tracks = new Map<number, BoundedSeries>();
  private readonly group: BoundedSeries;
  private frames = 0;

  constructor(private readonly maxPoints = MAX_REPORT_POINTS) {
    this.group = new BoundedSeries(3, maxPoints);
  }

  add(moment: ReportMoment): void {
    this.frames += 1;
    for (const face of moment.faces) {
      let series = this.tracks.get(face.id);
      if (!series) this.tracks.set(face.id, (series = new BoundedSeries(EMOTIONS.length, this.maxPoints)));
      series.add(moment.t, EMOTIONS.map((e) => face.emotions[e]));
    }
    const mood = groupMood(moment.faces);
    this.group.add(moment.t, [mood.valence, mood.engagement, mood.faces]);
  }

  data(): VideoSeriesData {
    const tracks = [...this.tracks.entries()].sort((a, b) => a[0] - b[0]).map(([id, series]) => {
      const points = series.list();
      const emotions = Object.fromEntries(EMOTIONS.map((e, i) => [e, points.map((p) => roundUnit(p.values[i] ?? 0))])) as Record<Emotion, number[]>;
      return { id, t: points.map((p) => roundUnit(p.t)), emotions };
    });
    const points = this.group.list();
    return {
      tracks,
      mood: {
        t: points.map((p) => roundUnit(p.t)),
        valence: points.map((p) => roundOrNull(p.values[0])),
        engagement: points.map((p) => roundOrNull(p.values[1])),
        faces: points.map((p) => roundUnit(p.values[2] ?? 0)),
      },
      frames: this.frames,
      maxPoints: this.maxPoints,
    };
  }
}
