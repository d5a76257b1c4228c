/**
 * `emolens video <file…>`: faces tracked through videos with stable ids and smoothed emotions, as JSON (the
 * contract in docs/video.md), CSV or a per-track table; optionally an annotated copy and an HTML report. This file
 * parses the flags, names the output files and prints (progress, errors, the table); src/video/run.ts writes the
 * outputs as frames are analysed (the HTML report once the file is done or cut short), so a bad file, a truncated
 * stream or Ctrl+C keeps every frame done (the JSON is closed with an "error" entry); in a batch the other files
 * go on. Exit status: 0 all analysed, 1 any failed, 2 bad usage, 130 interrupted.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import type { NodeAnalyzer } from '../node.js';
import { inputErrorEntry } from '../result/error.js';
import { VIDEO_CSV_HEADER, type Write } from '../result/video.js';
import type { TrackSummary } from '../types.js';
import type { VideoAnalysis } from '../video/index.js';
import { DEFAULT_MAX_DURATION_S } from '../video/probe.js';
import { bold, dim, emotionColor, errorLine, parseNumber, red, type Style, styleFor } from './common.js';
import { addAnalyzerOptions, analyzerOptionsFrom, type AnalyzerFlags } from './options.js';

interface VideoFlags extends Omit<AnalyzerFlags, 'detector' | 'tiles'> {
  fps?: string;
  everyFrame?: boolean;
  json?: boolean;
  csv?: boolean;
  perSecond?: boolean;
  out?: string;
  annotate?: string;
  report?: string;
  thumbnails: boolean;
  budgetMs?: string;
  until?: string;
  maxDuration?: string;
  onePass?: boolean;
  detectEvery?: string;
  progress: boolean;
  verbose?: boolean;
}

export function register(program: Command): void {
  const command = program
    .command('video')
    .description('track faces through videos: stable ids, smoothed emotions per frame, per-face summaries')
    .argument('<files...>', 'video files (anything ffmpeg reads: mp4, mov, mkv, webm, avi, …)')
    .option('--fps <n>', 'frames analysed per second (default 5)')
    .option('--every-frame', 'analyse every frame, at the source frame rate')
    .option('--json', 'JSON (docs/video.md): { file, width, height, fps, duration, frames, tracks } per video')
    .option('--csv', 'CSV, one row per (frame, face)')
    .option('--per-second', 'one sample per second: mean box and emotions, the label held most of that second')
    .option('--out <dir>', 'write <name>.json (or .csv with --csv) per video into <dir> instead of stdout')
    .option('--annotate <out.mp4>', 'write a copy with boxes, ids, labels and bars burnt in, at the analysis rate (audio kept)')
    .option('--report <out.html>', 'write a self-contained HTML report: per-face timelines, group mood, thumbnails, settings (several inputs: out-<name>.html)')
    .option('--no-thumbnails', 'leave the face thumbnails out of the --report page')
    .option('--budget-ms <ms|all>', 'emotion-model time per analysed frame; "all" reads every face every frame (default 250/fps)')
    .option('--until <s>', 'analyse only the first <s> seconds')
    .option('--max-duration <s>', `refuse videos longer than this (default ${DEFAULT_MAX_DURATION_S} = ${DEFAULT_MAX_DURATION_S / 3600} h)`)
    .option('--detect-every <ms>', 'longest time between full detections; frames between follow each face from its last box (default 400; 0: every frame)')
    .option('--one-pass', 'one whole-frame detector pass per frame, as the live view: about 3x faster, misses more tight, blurry and small faces');
  addAnalyzerOptions(command, 'video', ['maxPixels', 'model', 'minScore', 'maxFaces', 'threads'])
    .option('--no-progress', 'no progress bar on stderr')
    .addHelpText('after', `
Examples:
  $ emolens video class.mp4                          faces and their moods, one line per face
  $ emolens video class.mp4 --json > class.json
  $ emolens video *.mp4 --csv --per-second --out results/
  $ emolens video talk.mov --every-frame --annotate talk-annotated.mp4
  $ emolens video class.mp4 --report class.html --no-thumbnails

ffmpeg: the binary shipped by @ffmpeg-installer/ffmpeg; EMOLENS_FFMPEG=<path> (or "system") picks another
(EMOLENS_FFPROBE likewise). --verbose says which one runs. Exit status: 0 all analysed, 1 any failed, 2 bad usage,
130 interrupted (Ctrl+C; what was done is written).`)
    .action(async (files: string[], flags: VideoFlags) => {
      process.exitCode = await videoCommand(files, flags);
    });
}

interface Settings {
  fps?: number;
  everyFrame: boolean;
  budgetMs?: number;
  durationS?: number;
  maxDurationS?: number;
  detectEveryMs?: number;
}

function settingsFrom(flags: VideoFlags): Settings {
  if (flags.fps !== undefined && flags.everyFrame) throw new UsageError('choose one of --fps and --every-frame');
  if (flags.json && flags.csv) throw new UsageError('choose one of --json and --csv');
  const budget = flags.budgetMs === undefined ? undefined : flags.budgetMs === 'all' ? Infinity : parseNumber('--budget-ms', flags.budgetMs, { min: 1 });
  return {
    fps: flags.fps === undefined ? undefined : parseNumber('--fps', flags.fps, { min: 0.01, max: 240 }),
    everyFrame: Boolean(flags.everyFrame),
    budgetMs: budget,
    durationS: flags.until === undefined ? undefined : parseNumber('--until', flags.until, { min: 0.01 }),
    maxDurationS: flags.maxDuration === undefined ? undefined : parseNumber('--max-duration', flags.maxDuration, { min: 1 }),
    detectEveryMs: flags.detectEvery === undefined ? undefined : parseNumber('--detect-every', flags.detectEvery, { min: 0 }),
  };
}

/** `dir/<stem><ext>`, with -2, -3, … when two inputs share a name. */
function outputPath(dir: string, file: string, ext: string, used: Set<string>): string {
  const stem = basename(file, extname(file)) || 'video';
  let name = `${stem}${ext}`;
  for (let n = 2; used.has(name); n++) name = `${stem}-${n}${ext}`;
  used.add(name);
  return join(dir, name);
}

/**
 * For several inputs, `out.mp4` becomes `out-<stem>.mp4`; for one, it is used as given. With `used`, two inputs
 * sharing a stem get `out-<stem>-2.mp4`, … instead of overwriting each other.
 */
function perVideoPath(path: string, file: string, several: boolean, used?: Set<string>): string {
  if (!several) return path;
  const ext = extname(path);
  const base = `${path.slice(0, path.length - ext.length)}-${basename(file, extname(file))}`;
  let out = `${base}${ext}`;
  for (let n = 2; used?.has(out); n++) out = `${base}-${n}${ext}`;
  used?.add(out);
  return out;
}

/** A progress bar on stderr (TTY only), with lines printed above it. */
interface Progress {
  start(total: number, file: string): void;
  update(frames: number, speed: number): void;
  done(): void;
  line(text: string): void;
  stop(): void;
}

function makeProgress(enabled: boolean): Progress {
  if (!enabled || !process.stderr.isTTY) {
    return { start: () => {}, update: () => {}, done: () => {}, line: (t) => process.stderr.write(t), stop: () => {} };
  }
  const multibar = new MultiBar(
    { format: ' {bar} {percentage}% | {value}/{total} frames | {speed}x real time | {eta_formatted} left | {file}', stream: process.stderr, hideCursor: true, clearOnComplete: true, linewrap: true, etaBuffer: 20, fps: 5 },
    Presets.shades_classic,
  );
  let bar: SingleBar | undefined;
  return {
    start(total, file) { bar = multibar.create(Math.max(1, total), 0, { file: basename(file), speed: '–' }); },
    update(frames, speed) { bar?.update(frames, { speed: speed.toFixed(1) }); },
    done() { if (bar) multibar.remove(bar); bar = undefined; },
    line(text) { multibar.log(text); multibar.update(); },
    stop() { multibar.stop(); },
  };
}

/** A file (written synchronously: what is written survives a crash) or stdout. */
function fileWriter(path: string): { write: Write; close(): void } {
  const fd = openSync(path, 'w');
  return { write: (text) => { writeSync(fd, text); }, close: () => closeSync(fd) };
}

async function videoCommand(files: string[], flags: VideoFlags): Promise<number> {
  const settings = settingsFrom(flags);
  // --max-pixels here is the video's frame limit (checked by ffprobe), not the analyzer's image limit.
  const { maxPixels, ...options } = analyzerOptionsFrom(flags);
  const format: 'json' | 'csv' | 'table' = flags.csv ? 'csv' : flags.json || flags.out ? 'json' : 'table';
  if (flags.out) mkdirSync(flags.out, { recursive: true });
  const errStyle = styleFor(process.stderr);
  const style = styleFor(process.stdout);

  const [{ analyzeVideo, videoTools, describeBinary }, { runVideo }] = await Promise.all([import('../video/index.js'), import('../video/run.js')]);
  const tools = videoTools();
  if (flags.verbose) process.stderr.write(`${describeBinary(tools.ffmpeg, 'ffmpeg')}\n${describeBinary(tools.ffprobe, 'ffprobe')}\n`);
  // Loaded on use, so `--help` works (and starts fast) without onnxruntime-node.
  const { createAnalyzer } = await import('../node.js');
  const analyzer: NodeAnalyzer = await createAnalyzer(options);

  // Ctrl+C: stop decoding, write what is done, skip the remaining files. A second Ctrl+C quits at once.
  const abort = new AbortController();
  const onSigint = () => {
    if (abort.signal.aborted) process.exit(130);
    abort.abort();
  };
  process.on('SIGINT', onSigint);

  const progress = makeProgress(flags.progress);
  const used = new Set<string>();
  const usedReports = new Set<string>();
  let failed = 0;
  let csvHeaderWritten = false;
  try {
    for (const file of files) {
      if (abort.signal.aborted) break;
      const started = performance.now();
      let video: VideoAnalysis;
      try {
        video = await analyzeVideo(file, { ...options, analyzer, tools, fps: settings.fps, everyFrame: settings.everyFrame, budgetMs: settings.budgetMs, durationS: settings.durationS, maxDurationS: settings.maxDurationS, detectEveryMs: settings.detectEveryMs, maxPixels, signal: abort.signal, ...(flags.onePass ? { detector: { views: [] } } : {}) });
      } catch (err) {
        failed++;
        progress.line(`${red('error:', errStyle)} ${errorLine(err)}\n`);
        if (format === 'json' && !flags.out) process.stdout.write(`${JSON.stringify(inputErrorEntry(file, err))}\n`);
        continue;
      }
      const { info } = video;
      const fps = video.settings.fps;
      if (flags.verbose) {
        progress.line(dim(`${file}: ${info.width}x${info.height}, ${info.fps.toFixed(2)} fps, ${info.duration.toFixed(1)} s, ${info.codec}${info.hasAudio ? ', audio' : ''}; analysing ${fps.toFixed(2)} fps, budget ${video.settings.budgetMs === Infinity ? 'all faces' : `${video.settings.budgetMs.toFixed(0)} ms`}/frame\n`, errStyle));
      }

      // Where this video's results go.
      const sink = flags.out ? fileWriter(outputPath(flags.out, file, format === 'csv' ? '.csv' : '.json', used)) : { write: (t: string) => { process.stdout.write(t); }, close: () => {} };
      if (format === 'csv' && (flags.out || !csvHeaderWritten)) { sink.write(`${VIDEO_CSV_HEADER}\n`); csvHeaderWritten = true; }
      const reportPath = flags.report ? perVideoPath(flags.report, file, files.length > 1, usedReports) : undefined;
      const expectedS = settings.durationS !== undefined ? Math.min(settings.durationS, info.duration) : info.duration;
      progress.start(Math.round(expectedS * fps), file);
      const run = await runVideo(video, {
        json: format === 'json' ? sink.write : undefined,
        csv: format === 'csv' ? sink.write : undefined,
        perSecond: flags.perSecond,
        annotate: flags.annotate ? perVideoPath(flags.annotate, file, files.length > 1) : undefined,
        report: reportPath ? { path: reportPath, thumbnails: flags.thumbnails, model: { name: analyzer.emotionModel.name, sha256: analyzer.emotionModel.sha256 } } : undefined,
        onFrame: (frame, frames) => progress.update(frames, frame.t / ((performance.now() - started) / 1000)),
      });
      progress.done();
      sink.close();
      const { summary, error, frames } = run;
      if (reportPath) {
        if (run.reportError !== undefined) {
          failed++;
          progress.line(`${red('error:', errStyle)} ${reportPath}: could not write the report (${errorLine(run.reportError)})\n`);
        } else if (flags.verbose) progress.line(dim(`${file}: report written to ${reportPath}\n`, errStyle));
      }

      const wallS = (performance.now() - started) / 1000;
      if (error !== undefined) {
        failed++;
        progress.line(`${red('error:', errStyle)} ${errorLine(error)} (${frames} frame${frames === 1 ? '' : 's'} kept)\n`);
      }
      if (format === 'table') process.stdout.write(`${trackTable(file, info.width, info.height, info.duration, summary.tracks, style).join('\n')}\n\n`);
      if (flags.verbose) {
        progress.line(dim(`${file}: ${frames} frames in ${wallS.toFixed(1)} s (${(summary.analysedS / wallS).toFixed(2)}x real time), ${summary.tracks.length} tracks\n`, errStyle));
      }
    }
  } finally {
    progress.stop();
    process.off('SIGINT', onSigint);
    await analyzer.dispose();
  }
  if (abort.signal.aborted) {
    process.stderr.write(`${red('error:', errStyle)} interrupted: results so far are written\n`);
    return 130;
  }
  return failed > 0 ? 1 : 0;
}

/**
 *   clip.mp4  1280x720, 24.0 s, 6 faces
 *    id  from–to (s)    dominant   mean
 *     1   0.0–23.8      happy      84%
 */
function trackTable(file: string, width: number, height: number, duration: number, tracks: TrackSummary[], style: Style): string[] {
  const head = `${bold(file, style)}  ${dim(`${width}x${height}, ${duration.toFixed(1)} s, ${tracks.length} face${tracks.length === 1 ? '' : 's'}`, style)}`;
  if (tracks.length === 0) return [head, `  ${dim('no faces found', style)}`];
  const rows = tracks.map((t) => {
    const span = `${t.from.toFixed(1)}–${t.to.toFixed(1)}`.padEnd(13);
    const p = `${Math.round(t.meanEmotions[t.dominant] * 100)}%`.padStart(4);
    return `  ${String(t.id).padStart(3)}  ${span} ${emotionColor(t.dominant, t.dominant.padEnd(9), style)} ${p}`;
  });
  return [head, dim(`   id  from–to (s)   dominant  mean`, style), ...rows];
}
