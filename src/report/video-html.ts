/**
 * The `emolens video --report` page: ONE self-contained HTML file per video (styles, data, Chart.js and the
 * thumbnails inlined; nothing fetched) with the group's mood over time, per face (track) a thumbnail, its summary
 * and a line chart of its 7 smoothed emotion probabilities, the settings of the run and the video's metadata.
 * A run cut short (truncated file, Ctrl+C) gives the same page for what was done, with the error on top.
 *
 * Browser-safe and pure: data in, string out, so the API or the web app can render the same page. Two ways in:
 * `videoReportData(document, extras)` from a JSON document of the contract (src/result/video.ts), or the CLI's
 * streaming path, which feeds VideoReportSeries (src/aggregate/series.ts) frame by frame and never holds the frames.
 * Assets (stylesheets, chart script, Chart.js) come from the caller: readVideoReportAssets() in load-assets.ts.
 */
import { VideoReportSeries, type VideoSeriesData } from '../aggregate/series.js';
import { EMOTIONS } from '../labels.js';
import type { ErrorJson } from '../result/error.js';
import type { TrackJson, VideoDocument, VideoHead } from '../result/video.js';
import { esc, inlineScript, jsonForScript, type ReportAssets } from './html.js';
import { EMOTION_COLORS } from './palette.js';

/** A track's summary (`tracks[]` of the document; `frames` when the caller has it). */
export interface ReportTrack extends TrackJson {
  frames?: number;
}

/** What ffprobe said about the file, beyond the document's head (src/video/probe.ts VideoInfo fits). */
export interface ReportVideoInfo {
  /** The source's frame rate. */
  fps?: number;
  codec?: string;
  format?: string;
  hasAudio?: boolean;
  /** File size in bytes. */
  bytes?: number;
}

/** The settings of the run, as the page lists them. */
export interface VideoReportSettings {
  /** Frames analysed per second. */
  fps: number;
  everyFrame: boolean;
  /** Classification budget per frame (ms); Infinity: every face, every frame. */
  budgetMs: number;
  /** `--until`, when given. */
  durationS?: number;
  model: { name: string; sha256: string };
  detector: { model: string; minFaceScore?: number; maxFaces?: number; tiles?: string; views?: string };
  /** Which ffmpeg decoded the frames (src/video/ffmpeg.ts describeBinary). */
  ffmpeg: string;
  emolensVersion: string;
}

export interface VideoReportData {
  head: VideoHead;
  info?: ReportVideoInfo;
  settings: VideoReportSettings;
  tracks: ReportTrack[];
  series: VideoSeriesData;
  /** Data URLs per track id; null when thumbnails were turned off (`--no-thumbnails`). */
  thumbnails: Record<number, string> | null;
  /** What cut the run short, if anything. */
  error?: ErrorJson;
  /** ISO time of the run. */
  generatedAt: string;
}

/** The page's data from a whole JSON document (the CLI builds the same from the stream, see the header). */
export function videoReportData(document: VideoDocument, extras: { settings: VideoReportSettings; info?: ReportVideoInfo; thumbnails?: Record<number, string> | null; generatedAt?: string; maxPoints?: number }): VideoReportData {
  const series = new VideoReportSeries(extras.maxPoints);
  for (const frame of document.frames) series.add(frame);
  const { file, width, height, fps, duration } = document;
  return {
    head: { file, width, height, fps, duration },
    info: extras.info,
    settings: extras.settings,
    tracks: document.tracks,
    series: series.data(),
    thumbnails: extras.thumbnails === undefined ? null : extras.thumbnails,
    error: document.error,
    generatedAt: extras.generatedAt ?? new Date().toISOString(),
  };
}

/** Render the page. */
export function renderVideoReport(report: VideoReportData, assets: ReportAssets): string {
  const { head, series } = report;
  const name = head.file.split(/[\\/]/).pop() || head.file;
  const analysedS = series.frames / (report.settings.fps || 1);
  const chartData = { emotions: EMOTIONS, colors: EMOTION_COLORS, duration: head.duration, tracks: series.tracks, mood: series.mood };
  const downsampled = series.tracks.some((t) => t.t.length < (report.tracks.find((r) => r.id === t.id)?.frames ?? 0)) || series.mood.t.length < series.frames;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="emolens video ${esc(report.settings.emolensVersion)}">
<title>${esc(`emolens video — ${name}`)}</title>
<style>${assets.css}</style>
</head>
<body class="video-report">
<header>
  <div class="brand">emolens <span>video report</span></div>
  <h1>${esc(name)}</h1>
  <p class="meta">${esc(formatDate(report.generatedAt))} · ${head.width}×${head.height} · ${esc(clock(head.duration))} · ${report.tracks.length} face${report.tracks.length === 1 ? '' : 's'} tracked</p>
</header>
<main>
${report.error ? `<section class="card error" id="error"><h2>Run cut short</h2><p>${esc(report.error.message)} <code>${esc(report.error.code)}</code>. This report holds the ${series.frames} frame${series.frames === 1 ? '' : 's'} analysed before that (${esc(clock(analysedS))} of ${esc(clock(head.duration))}).</p></section>` : ''}
<section class="tiles">
  <div class="tile"><div class="label">Duration</div><div class="value small">${esc(clock(head.duration))}</div><div class="sub">${esc(clock(analysedS))} analysed</div></div>
  <div class="tile"><div class="label">Frames analysed</div><div class="value">${series.frames.toLocaleString('en-US')}</div><div class="sub">${fmt(report.settings.fps)} per second</div></div>
  <div class="tile"><div class="label">Faces (tracks)</div><div class="value">${report.tracks.length}</div><div class="sub">up to ${Math.max(0, ...series.mood.faces).toFixed(0)} at once</div></div>
  <div class="tile"><div class="label">Mean valence</div><div class="value">${signed(meanOf(series.mood.valence))}</div><div class="sub">engagement ${pctOrDash(meanOf(series.mood.engagement))}</div></div>
</section>
<section class="card" id="group">
  <h2>Group mood over time</h2>
  <p class="hint">From the faces visible in each analysed frame (src/aggregate/mood.ts): <b>valence</b> = mean P(happy) − mean
  P(angry + disgust + fear + sad), from −1 to 1; <b>engagement</b> = 1 − mean P(neutral), how much expression the group shows
  (not attention). Gaps: no face in view. The grey line counts the faces.</p>
  <div class="chart"><canvas id="moodChart" aria-label="Group valence, engagement and face count over time"></canvas></div>
</section>
<section class="card" id="tracks">
  <h2>Faces</h2>
  <p class="hint">One chart per face the tracker followed (a stable id while it stays in view; back after more than 1.5 s, it
  gets a new id): its 7 smoothed emotion probabilities over time. ${thumbnailNote(report.thumbnails)}</p>
  ${report.tracks.length ? legend() : '<p>No faces were found.</p>'}
  ${report.tracks.map((t) => trackCard(t, report.thumbnails)).join('\n')}
</section>
${settingsSection(report)}
${videoSection(report)}
</main>
<footer>Generated by <code>emolens video --report</code> ${esc(report.settings.emolensVersion)}. Probabilities are the tracker's
smoothed values (EMA with hysteresis, as in the live view); a face's label is the one it held for the most frames.
${downsampled ? `Long runs are downsampled for the charts: at most ${series.maxPoints.toLocaleString('en-US')} points per series, each the mean of neighbouring frames; the JSON (<code>--json</code>) keeps every frame.` : `Every analysed frame is a point (up to ${series.maxPoints.toLocaleString('en-US')} per series; longer runs are averaged down to that).`}</footer>
<script id="report-data" type="application/json">${jsonForScript(chartData)}</script>
<script>${inlineScript(assets.chartJs)}</script>
<script>${inlineScript(assets.chartScript)}</script>
</body>
</html>
`;
}

function thumbnailNote(thumbnails: Record<number, string> | null): string {
  return thumbnails
    ? '<b>Privacy:</b> each face\'s thumbnail (cut from the frame where it was detected best) is embedded in this file; share it only with people who may see those faces, or rerun with <code>--no-thumbnails</code>.'
    : 'Thumbnails were left out (<code>--no-thumbnails</code>).';
}

function legend(): string {
  return `<div class="legend">${EMOTIONS.map((e) => `<span><i style="background:${EMOTION_COLORS[e]}"></i>${e}</span>`).join('')}</div>`;
}

function trackCard(track: ReportTrack, thumbnails: Record<number, string> | null): string {
  const thumb = thumbnails?.[track.id];
  const img = thumb
    ? `<img class="thumb" src="${esc(thumb)}" alt="face #${track.id}" width="112" height="112">`
    : `<div class="thumb none" aria-hidden="true">#${track.id}</div>`;
  const bars = EMOTIONS.map((e) => {
    const p = track.meanEmotions[e];
    return `<div class="mbar" title="${e}: ${(p * 100).toFixed(1)}%"><span style="height:${Math.max(1, Math.round(p * 40))}px;background:${EMOTION_COLORS[e]}"></span></div>`;
  }).join('');
  return `<article class="track" id="track-${track.id}">
  <div class="who">${img}
    <div class="facts"><h3>#${track.id} <span class="dom" style="background:${EMOTION_COLORS[track.dominant]}">${esc(track.dominant)}</span></h3>
    <div>${esc(clock(track.from))}–${esc(clock(track.to))}${track.frames !== undefined ? ` · ${track.frames} frame${track.frames === 1 ? '' : 's'}` : ''}</div>
    <div>mean ${esc(track.dominant)} ${(track.meanEmotions[track.dominant] * 100).toFixed(0)}%</div>
    <div class="mbars" aria-label="mean emotions">${bars}</div></div>
  </div>
  <div class="chart track-chart"><canvas class="track-canvas" data-track="${track.id}" aria-label="Emotions of face #${track.id} over time"></canvas></div>
</article>`;
}

function settingsSection(report: VideoReportData): string {
  const s = report.settings;
  const d = s.detector;
  const rows: Array<[string, string]> = [
    ['analysis rate', s.everyFrame ? `every frame (${fmt(s.fps)} fps)` : `${fmt(s.fps)} frames per second`],
    ['classification budget', s.budgetMs === Infinity ? 'all faces, every frame' : `${fmt(s.budgetMs)} ms per frame`],
  ];
  if (s.durationS !== undefined) rows.push(['analysed up to', `${fmt(s.durationS)} s (--until)`]);
  rows.push(
    ['emotion model', esc(s.model.name)],
    ['model sha256', `<code class="hash">${esc(s.model.sha256)}</code>`],
    ['face detector', `${esc(d.model)}${d.tiles ? `, tiles ${esc(d.tiles)}` : ''}${d.views ? `, views ${esc(d.views)}` : ''}${d.minFaceScore !== undefined ? `, min score ${fmt(d.minFaceScore)}` : ''}${d.maxFaces !== undefined ? `, at most ${d.maxFaces} faces` : ''}`],
    ['decoder', `<code>${esc(s.ffmpeg)}</code>`],
    ['thumbnails', report.thumbnails ? 'embedded (one per face)' : 'off (--no-thumbnails)'],
    ['emolens', esc(s.emolensVersion)],
  );
  return `<section class="card" id="settings">
  <h2>Settings</h2>
  <dl class="kv">${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>
</section>`;
}

function videoSection(report: VideoReportData): string {
  const { head, info } = report;
  const rows: Array<[string, string]> = [
    ['file', `<code>${esc(head.file)}</code>`],
    ['frame size', `${head.width} × ${head.height} px (as displayed)`],
    ['duration', `${esc(clock(head.duration))} (${fmt(head.duration)} s)`],
  ];
  if (info?.fps !== undefined) rows.push(['frame rate', `${fmt(info.fps)} fps`]);
  if (info?.codec) rows.push(['codec', esc(info.codec)]);
  if (info?.format) rows.push(['container', esc(info.format)]);
  if (info?.hasAudio !== undefined) rows.push(['audio', info.hasAudio ? 'yes' : 'no']);
  if (info?.bytes !== undefined) rows.push(['size', `${(info.bytes / 1e6).toFixed(1)} MB`]);
  return `<section class="card" id="video">
  <h2>Video</h2>
  <dl class="kv">${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>
</section>`;
}

function meanOf(values: Array<number | null>): number | null {
  const xs = values.filter((v): v is number => v !== null);
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

function signed(v: number | null): string {
  return v === null ? '—' : `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(2)}`;
}

function pctOrDash(v: number | null): string {
  return v === null ? '—' : `${(v * 100).toFixed(0)}%`;
}

/** Up to 3 decimals, trailing zeros dropped. */
function fmt(v: number): string {
  return String(Math.round(v * 1000) / 1000);
}

/** "0:12.3" under an hour, "1:02:03" beyond. */
function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '—';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}:${String(m).padStart(2, '0')}:${String(Math.floor(s)).padStart(2, '0')}`;
  return `${m}:${s.toFixed(1).padStart(4, '0')}`;
}

function formatDate(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}
