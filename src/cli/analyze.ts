/**
 * `emolens analyze <files|dirs|globs…>`: every face in every image, as a table, JSON or CSV, optionally with
 * annotated copies. Results are streamed as each image finishes, so a bad file or a crash loses nothing already
 * printed; a bad file is reported and skipped, and the exit code is 1 if any input failed. With `--out` the
 * entries go to a results file instead, one JSON line each, and `--resume` continues an interrupted batch
 * (the file's format and crash safety: results-file.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, extname, join } from 'node:path';
import { MultiBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import type { WorkerPool } from '../api/pool.js';
import { EmolensError, UsageError } from '../errors.js';
import type { DecodedImage } from '../image/decode.js';
import type { NodeAnalyzer } from '../node.js';
import { annotateImage } from '../report/annotate.js';
import { inputErrorEntry } from '../result/error.js';
import { csvHeader, csvRows, imageEntry } from '../result/image.js';
import type { AnalysisResult } from '../types.js';
import { bold, dim, errorLine, expandInputs, faceTable, type InputItem, moodSummary, parseNumber, red, styleFor } from './common.js';
import { addAnalyzerOptions, analyzerOptionsFrom, type AnalyzerFlags } from './options.js';
import { assertFreshOrResuming, readResults, resultKey, ResultsWriter } from './results-file.js';

interface AnalyzeFlags extends AnalyzerFlags {
  json?: boolean;
  csv?: boolean;
  annotate?: string;
  out?: string;
  resume?: boolean;
  landmarks68?: boolean;
  ev?: boolean;
  workers?: string;
  progress: boolean;
}

export function register(program: Command): void {
  const command = program
    .command('analyze')
    .description('find faces and their emotions in images, folders (recursive) or globs')
    .argument('<inputs...>', 'image files, folders or glob patterns (quote globs: "photos/**/*.jpg")')
    .option('--json', 'JSON on stdout: { "images": [ { file, width, height, faces } | { file, error: { code, message } } ] }')
    .option('--csv', 'CSV on stdout, one row per face')
    .option('--annotate <dir>', 'write annotated copies (boxes, landmarks, emotion bars) into <dir>')
    .option('--out <file.jsonl>', 'append one JSON line per image to <file> as it finishes (the --json entry); refuses a non-empty file unless --resume')
    .option('--resume', 'with --out: skip the images the file already holds; images that failed are tried again')
    .option('--landmarks68', 'with --json/--csv/--out: add each face\'s 68 points (landmarks68: [[x, y] x 68], image px)')
    .option('--ev', 'with --json/--csv/--out: add each face\'s 24-value expressional vector (ev: { names, values }; docs/ferc.md)');
  addAnalyzerOptions(command, 'photos', ['model', 'minScore', 'maxFaces', 'maxPixels', 'tiles', 'threads'])
    .option('--workers <n|auto>', `images analysed at once, each on its own thread with its own models (auto: one per core for ${PARALLEL_FROM} images or more, else 1)`, 'auto')
    .option('--no-progress', 'no progress bar on stderr')
    .addHelpText('after', `
Examples:
  $ emolens analyze photo.jpg
  $ emolens analyze photos/ --annotate out/
  $ emolens analyze "shoots/**/*.{jpg,png}" --csv > faces.csv
  $ emolens analyze a.jpg b.webp --json | jq '.images[].faces[].dominant'
  $ emolens analyze photos/ --out results.jsonl            a big folder; kill it at any time, then:
  $ emolens analyze photos/ --out results.jsonl --resume   goes on where it stopped, no duplicates

--out writes a line as each image finishes, so an interrupted run loses no finished image. Without --resume an
existing non-empty --out file is refused (exit 2), never appended to or overwritten. --resume skips every image
with a success line in the file (matched by absolute path: resume from the same folder) and tries failed ones
again, appending their new line: an image's last line is its state. Run --resume with the same inputs.

Exit status: 0 when every input was analysed, 1 when any failed (the others are still reported), 2 for bad usage.`)
    .action(async (inputs: string[], flags: AnalyzeFlags) => {
      process.exitCode = await runAnalyze(inputs, flags);
    });
}

export type OutputFormat = 'table' | 'json' | 'csv';

/** `--workers auto` runs images on worker threads from this many images up (below it, loading the models again costs as much as it saves: 4-6 photos took the same time either way, 8 took 2.4-2.6 s on one thread and 1.9-2.1 s on two). */
const PARALLEL_FROM = 8;

/** One image's analysis and, for --annotate, its pixels. */
interface Analysed { result: AnalysisResult; image?: DecodedImage }

/** Analyses `items` by index, in any order of completion; the caller asks for them in input order. */
interface ImageRunner {
  analyse(at: number): Promise<Analysed>;
  close(): Promise<void>;
}

/**
 * In this thread: the next image is decoded (sharp, on libuv's threads) while this one is analysed (ONNX Runtime);
 * at most two decoded images are held, each under --max-pixels.
 */
function inProcessRunner(analyzer: NodeAnalyzer, items: InputItem[]): ImageRunner {
  let ahead: { at: number; decoding: Promise<DecodedImage> } | undefined;
  const decode = (at: number) => {
    const decoding = analyzer.decode(items[at].file);
    decoding.catch(() => {}); // reported when its turn comes
    return { at, decoding };
  };
  return {
    async analyse(at) {
      const decoding = ahead?.at === at ? ahead.decoding : decode(at).decoding;
      ahead = at + 1 < items.length && !('error' in items[at + 1]) ? decode(at + 1) : undefined;
      const { image, ...result } = await analyzer.analyzeWithImage(await decoding);
      return { result, image };
    },
    close: () => analyzer.dispose(),
  };
}

/**
 * On the worker threads of `pool` (src/api/pool.ts, as `emolens api` runs images): each reads, decodes and analyses
 * its own image, and `pool.size` + 1 images are started ahead of the one awaited. With --annotate the image is
 * decoded again here to draw on. Holds at most `pool.size` decoded images (one per worker) and one here.
 */
function poolRunner(pool: WorkerPool, items: InputItem[], annotate: boolean, maxPixels?: number): ImageRunner {
  const started = new Map<number, Promise<AnalysisResult>>();
  const start = (at: number) => {
    if (at >= items.length || started.has(at) || 'error' in items[at]) return;
    const analysing = pool.analyzeFile(items[at].file);
    analysing.catch(() => {}); // reported when its turn comes
    started.set(at, analysing);
  };
  return {
    async analyse(at) {
      for (let k = at; k <= at + pool.size; k++) start(k);
      const analysing = started.get(at)!;
      started.delete(at);
      const result = await analysing;
      if (!annotate) return { result };
      const { decodeImage } = await import('../image/decode.js');
      return { result, image: await decodeImage(items[at].file, { maxPixels }) };
    },
    close: () => pool.close(),
  };
}

/** --workers: a positive integer, or auto (one per core for PARALLEL_FROM images or more). */
function workerCount(flag: string | undefined, images: number): number {
  if (flag === undefined || flag === 'auto') return images >= PARALLEL_FROM ? Math.min(availableParallelism(), images) : 1;
  return parseNumber('--workers', flag, { min: 1, max: 64, integer: true });
}

/** Unique output path in `dir` for `file` (photos with the same name from different folders get -2, -3, …). */
export function annotatedPath(dir: string, file: string, used: Set<string>): string {
  const ext = extname(file).toLowerCase();
  const stem = basename(file, extname(file)) || 'image';
  const outExt = ext === '.png' || ext === '.webp' ? ext : '.jpg';
  let name = `${stem}${outExt}`;
  for (let n = 2; used.has(name); n++) name = `${stem}-${n}${outExt}`;
  used.add(name);
  return join(dir, name);
}

/** Where results go as they arrive; prints around the progress bar so lines and bar do not collide. */
interface Sink {
  out(text: string): void;
  err(text: string): void;
  tick(file: string): void;
  stop(): void;
}

function makeSink(total: number, enabled: boolean): Sink {
  const useBar = enabled && total > 1 && Boolean(process.stderr.isTTY);
  if (!useBar) {
    return { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t), tick: () => {}, stop: () => {} };
  }
  // MultiBar (even for one bar) because it can print lines above the bar; linewrap stays on for those lines.
  const multibar = new MultiBar(
    { format: ' {bar} {value}/{total} images | {eta_formatted} left | {file}', stream: process.stderr, hideCursor: true, clearOnComplete: true, linewrap: true, etaBuffer: 8 },
    Presets.shades_classic,
  );
  const bar = multibar.create(total, 0, { file: '' });
  const above = (t: string) => multibar.log(t);
  return {
    // stdout on the bar's terminal prints above the bar; redirected stdout is written directly.
    out: process.stdout.isTTY ? above : (t) => process.stdout.write(t),
    err: above,
    tick: (file) => bar.increment(1, { file: basename(file) }),
    stop: () => {
      multibar.update(); // flush lines still buffered: MultiBar.stop() drops them
      multibar.stop();
    },
  };
}

export async function runAnalyze(inputs: string[], flags: AnalyzeFlags): Promise<number> {
  if (flags.json && flags.csv) throw new UsageError('choose one of --json and --csv');
  if (flags.out && (flags.json || flags.csv)) throw new UsageError('--out writes the JSON lines itself: drop --json/--csv (stdout then shows the summary only)');
  if (flags.resume && !flags.out) throw new UsageError('--resume continues an --out file: add --out <file.jsonl>');
  for (const flag of ['landmarks68', 'ev'] as const) {
    if (flags[flag] && !flags.json && !flags.csv && !flags.out) throw new UsageError(`--${flag} adds fields to machine-readable output: add --json, --csv or --out`);
  }
  const format: OutputFormat = flags.json ? 'json' : flags.csv ? 'csv' : 'table';
  const extras = { landmarks68: Boolean(flags.landmarks68), ev: Boolean(flags.ev) };
  const options = { ...analyzerOptionsFrom(flags), ...extras };
  const allItems = expandInputs(inputs);
  // Checked and read before the models load, so a refused or foreign --out file fails at once.
  if (flags.out) assertFreshOrResuming(flags.out, Boolean(flags.resume));
  const soFar = flags.out && flags.resume ? readResults(flags.out) : undefined;
  const skipped = soFar ? allItems.filter((item) => soFar.done.has(resultKey(item.file))) : [];
  const items = soFar ? allItems.filter((item) => !soFar.done.has(resultKey(item.file))) : allItems;
  if (soFar?.tornBytes) process.stderr.write(`${flags.out}: cut off a torn last line (${soFar.tornBytes} bytes, from an interrupted run); that image is analysed again\n`);
  if (flags.annotate) mkdirSync(flags.annotate, { recursive: true });

  const workers = workerCount(flags.workers, items.length);
  // Loaded on use, so `--help` works (and starts fast) without onnxruntime-node.
  let runner: ImageRunner;
  if (workers > 1) {
    const { WorkerPool } = await import('../api/pool.js');
    runner = poolRunner(await WorkerPool.start({ workers, analyzer: options }), items, Boolean(flags.annotate), options.maxPixels);
  } else {
    const { createAnalyzer } = await import('../node.js');
    runner = inProcessRunner(await createAnalyzer(options), items);
  }
  const style = styleFor(process.stdout);
  const errStyle = styleFor(process.stderr);
  const sink = makeSink(items.length, flags.progress);
  const used = new Set<string>();
  // Images done in an earlier run keep their annotated names, so a resumed run names the rest as one run would.
  if (flags.annotate) for (const item of skipped) annotatedPath(flags.annotate, item.file, used);
  const results: AnalysisResult[] = [];
  const writer = flags.out ? new ResultsWriter(flags.out) : undefined;
  let failed = 0;
  let first = true;

  if (format === 'json') sink.out('{\n  "images": [');
  if (format === 'csv') sink.out(`${csvHeader(extras)}\n`);

  const emit = (item: InputItem, result?: AnalysisResult, error?: EmolensError | Error) => {
    if (writer) {
      writer.append(error ? inputErrorEntry(item.file, error) : imageEntry(item.file, result!));
      if (error) sink.err(`${red('error:', errStyle)} ${errorLine(error)}\n`);
    } else if (format === 'json') {
      const entry = error ? inputErrorEntry(item.file, error) : imageEntry(item.file, result!);
      sink.out(`${first ? '' : ','}\n    ${JSON.stringify(entry)}`);
      first = false;
    } else if (error) {
      sink.err(`${red('error:', errStyle)} ${errorLine(error)}\n`);
    } else if (format === 'csv') {
      const rows = csvRows(item.file, result!, extras);
      if (rows.length) sink.out(`${rows.join('\n')}\n`);
    } else {
      const faces = result!.faces.length;
      sink.out(`${bold(item.file, style)}  ${dim(`${result!.width}x${result!.height}, ${faces} face${faces === 1 ? '' : 's'}`, style)}\n${faceTable(result!, style).join('\n')}\n\n`);
    }
  };

  try {
    for (const [at, item] of items.entries()) {
      try {
        if ('error' in item) throw new EmolensError('INPUT_NOT_FOUND', `${item.file}: ${item.error}`);
        const { result, image } = await runner.analyse(at);
        if (flags.annotate) {
          const out = annotatedPath(flags.annotate, item.file, used);
          const ext = extname(out).slice(1) as 'jpg' | 'png' | 'webp';
          writeFileSync(out, await annotateImage(image!, result, { format: ext === 'jpg' ? 'jpeg' : ext }));
        }
        results.push(result);
        emit(item, result);
      } catch (err) {
        failed++;
        emit(item, undefined, err instanceof Error ? err : new Error(String(err)));
      }
      sink.tick(item.file);
    }
  } finally {
    if (format === 'json') sink.out(`${first ? '' : '\n  '}]\n}\n`);
    writer?.close();
    sink.stop();
    await runner.close();
  }

  if (format === 'table') {
    const ok = items.length - failed;
    const summary = `${ok} image${ok === 1 ? '' : 's'}, ${moodSummary(results)}${failed ? `; ${failed} failed` : ''}`;
    const resumed = soFar ? `; ${skipped.length} already in ${flags.out}, skipped` : '';
    const where = flags.out ? ` — results in ${flags.out}` : '';
    process.stderr.write(`${dim(summary + resumed, errStyle)}${dim(where, errStyle)}${flags.annotate ? dim(` — annotated copies in ${flags.annotate}`, errStyle) : ''}\n`);
  }
  return failed > 0 ? 1 : 0;
}
