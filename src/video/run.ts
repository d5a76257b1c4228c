/**
 * One video's outputs from one pass over its frames, whichever are asked for: the JSON document or the CSV rows
 * (every analysed frame, or one sample per second), the annotated copy, and the HTML report with its thumbnails.
 * `emolens video` (src/cli/video.ts) and the API's video jobs (src/api/analyze-worker.ts) both run videos through
 * here, so what they write cannot drift apart. A stream that breaks off, an interruption or a failing encoder ends
 * the run with the frames done: the JSON is closed with an "error" entry and the report says so. Owns no file
 * naming, printing or progress display: callers pass writers, paths and a per-frame callback.
 */
import { statSync, writeFileSync } from 'node:fs';
import { PerSecondResampler } from '../aggregate/per-second.js';
import { VideoReportSeries } from '../aggregate/series.js';
import { DEFAULT_DETECTOR_MODEL } from '../env/models.js';
import { packageVersion } from '../env/node.js';
import { readVideoReportAssets } from '../report/load-assets.js';
import { TrackThumbnails } from '../report/thumbnails.js';
import { renderVideoReport } from '../report/video-html.js';
import { errorJson } from '../result/error.js';
import { VideoJsonWriter, videoCsvRows, type Write } from '../result/video.js';
import type { VideoMoment } from '../types.js';
import { writeAnnotatedVideo } from './encode.js';
import { describeBinary } from './ffmpeg.js';
import type { VideoAnalysis, VideoFrameResult, VideoSummary } from './index.js';

export interface VideoOutputs {
  /** The video's name in the JSON and CSV (default: the path analysed); the API's is the upload's name. */
  name?: string;
  /** The JSON document goes here. */
  json?: Write;
  /** The CSV rows go here (the header is the caller's: one per file, or one per stream). */
  csv?: Write;
  /** One sample per second in the JSON and CSV instead of every analysed frame (`--per-second`). */
  perSecond?: boolean;
  /** Write a copy with the faces drawn in, at the analysis rate, here. */
  annotate?: string;
  /** Write the HTML report here: `model` is the emotion model named in its settings; `thumbnails` embeds the faces. */
  report?: { path: string; thumbnails: boolean; model: { name: string; sha256: string } };
  /** After each analysed frame and its outputs, with the frames done so far; what it throws ends the run as a broken stream would. */
  onFrame?: (frame: VideoFrameResult, frames: number) => void;
}

export interface VideoRun {
  /** Frames analysed. */
  frames: number;
  summary: VideoSummary;
  /** What cut the run short (a broken stream, an interruption, the encoder, onFrame), if anything. */
  error?: unknown;
  /** Why the report could not be written, if it could not. */
  reportError?: unknown;
}

/** Iterate `video` to its end (or its error), writing the outputs asked for. */
export async function runVideo(video: VideoAnalysis, outputs: VideoOutputs): Promise<VideoRun> {
  const { info, settings } = video;
  const name = outputs.name ?? info.file;
  const json = outputs.json ? new VideoJsonWriter(outputs.json) : undefined;
  json?.begin({ file: name, width: info.width, height: info.height, fps: outputs.perSecond ? 1 : settings.fps, duration: info.duration });
  const resampler = outputs.perSecond ? new PerSecondResampler() : undefined;
  const emit = (moment: VideoMoment | undefined) => {
    if (!moment) return;
    json?.frame(moment);
    if (outputs.csv) { const rows = videoCsvRows(name, moment); if (rows.length) outputs.csv(`${rows.join('\n')}\n`); }
  };
  const annotated = outputs.annotate
    ? writeAnnotatedVideo(outputs.annotate, video.tools.ffmpeg, { width: info.width, height: info.height, fps: settings.fps, audioFrom: info.hasAudio ? info.file : undefined })
    : undefined;
  // The report's series and thumbnails grow per track and are capped per series (src/aggregate/series.ts), not per frame.
  const series = outputs.report ? new VideoReportSeries() : undefined;
  const thumbnails = outputs.report?.thumbnails ? new TrackThumbnails() : undefined;

  let error: unknown;
  let frames = 0;
  try {
    for await (const frame of video) {
      frames++;
      emit(resampler ? resampler.push(frame) : frame);
      await annotated?.frame(frame.image, frame.faces);
      series?.add(frame);
      await thumbnails?.offer(frame.image, frame.faces);
      outputs.onFrame?.(frame, frames);
    }
  } catch (err) {
    error = err;
  }
  if (resampler) emit(resampler.flush());
  try {
    await annotated?.close();
  } catch (err) {
    error ??= err;
  }
  const summary = video.summary();
  json?.end(summary.tracks, error === undefined ? undefined : errorJson(error));

  let reportError: unknown;
  if (outputs.report && series) {
    try {
      writeReport(video, summary, outputs.report, series, thumbnails, error);
    } catch (err) {
      reportError = err;
    }
  }
  return { frames, summary, error, reportError };
}

/** Render and write the report (synchronously, so it is on disk before an interrupted run exits). */
function writeReport(video: VideoAnalysis, summary: VideoSummary, report: NonNullable<VideoOutputs['report']>, series: VideoReportSeries, thumbnails: TrackThumbnails | undefined, error: unknown): void {
  const { info, settings } = video;
  const page = renderVideoReport({
    head: { file: info.file, width: info.width, height: info.height, fps: settings.fps, duration: info.duration },
    info: { fps: info.fps, codec: info.codec, format: info.format, hasAudio: info.hasAudio, bytes: fileSize(info.file) },
    settings: {
      fps: settings.fps, everyFrame: settings.everyFrame, budgetMs: settings.budgetMs, durationS: settings.durationS,
      model: report.model,
      detector: {
        model: DEFAULT_DETECTOR_MODEL, minFaceScore: settings.detector.minFaceScore, maxFaces: settings.detector.maxFaces,
        tiles: settings.detector.detector?.tiles === undefined ? undefined : String(settings.detector.detector.tiles),
        views: settings.detector.detector?.views?.length === 0 ? 'off (--one-pass)' : undefined,
      },
      ffmpeg: describeBinary(video.tools.ffmpeg, 'ffmpeg'),
      emolensVersion: packageVersion(),
    },
    tracks: summary.tracks,
    series: series.data(),
    thumbnails: thumbnails ? thumbnails.dataUrls() : null,
    error: error === undefined ? undefined : errorJson(error),
    generatedAt: new Date().toISOString(),
  }, readVideoReportAssets());
  writeFileSync(report.path, page);
}

function fileSize(file: string): number | undefined {
  try {
    return statSync(file).size;
  } catch {
    return undefined;
  }
}
