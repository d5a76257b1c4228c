/**
 * `emolens eval`: score an emotion model on a labelled face set (a folder per label, or Kaggle's fer2013.csv) and
 * print accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix — as a table, as one JSON object
 * (--json), and/or as a self-contained HTML report (--report).
 *
 * Faces are FER-style pre-cropped images by default (decoded exactly as training reads them, so the numbers match
 * the sidecar's); --detect instead finds and aligns the face in full photos with the same pipeline as `analyze`.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { ConfusionMatrix, type ClassificationMetrics } from '../aggregate/metrics.js';
import type { EmotionModelSidecar } from '../classify/contract.js';
import { EmotionClassifier } from '../classify/index.js';
import { DEFAULT_EMOTION_MODEL, loadEmotionModel } from '../classify/node.js';
import type { OrtModule } from '../engine/index.js';
import { DatasetError, UsageError } from '../errors.js';
import { dominantEmotion, EMOTIONS, type Emotion, type EmotionProbabilities } from '../labels.js';
import { batches, isSplit, listFolderDataset, evenSample, openDataset, SPLITS, type Split } from '../image/datasets.js';
import { renderEvalReport, type EvalReportData } from '../report/html.js';
import type { GrayImage } from '../types.js';

export interface EvalOptions {
  /** Folder (of split folders or label folders) or a fer2013.csv file. */
  data: string;
  split?: Split;
  /** Bundled model name or .onnx path (default emolens-fer). */
  model?: string;
  batchSize?: number;
  limit?: number;
  /** Find and align the face in each image (full photos) instead of treating images as face crops. */
  detect?: boolean;
  /** Called after each batch with the fraction done (0..1) and images scored so far. */
  onProgress?: (fraction: number, scored: number) => void;
}

/** What `emolens eval --json` prints. */
export interface EvalResult extends ClassificationMetrics {
  model: { name: string; sha256: string };
  /** Wall time per scored image: decoding, preprocessing, inference (and detection + alignment with --detect). */
  msPerImage: number;
  split: Split | null;
  data: string;
  /** Images that could not be scored (unreadable, or no face found with --detect); not in the metrics. */
  skipped: number;
  skippedExamples: Array<{ source: string; reason: string }>;
}

const MAX_SKIP_EXAMPLES = 20;

export function register(program: Command): void {
  program
    .command('eval')
    .description('score an emotion model on a labelled face set: a folder per label (<dir>/<label>/*.jpg) or Kaggle\'s fer2013.csv')
    .requiredOption('--data <path>', 'folder of label folders (optionally inside train/val/test folders) or a fer2013.csv file')
    .option('--split <split>', `split to read: ${SPLITS.join(', ')} (a <data>/<split>/ folder, or the CSV's Usage rows)`, 'val')
    .option('--model <name|path>', 'bundled model name or path to an .onnx file with its .json sidecar', DEFAULT_EMOTION_MODEL)
    .option('--json', 'print one JSON object instead of tables')
    .option('--report <file.html>', 'also write a self-contained HTML report')
    .option('--batch-size <n>', 'faces per model run', '64')
    .option('--limit <n>', 'score at most n images (folders: an even sample across classes; CSV: the first rows)')
    .option('--detect', 'images are photos: detect and align the face first (images without a face are skipped)')
    .action(async (opts: { data: string; split: string; model: string; json?: boolean; report?: string; batchSize: string; limit?: string; detect?: boolean }) => {
      if (!isSplit(opts.split)) throw new UsageError(`invalid --split: ${opts.split} (expected ${SPLITS.join(', ')})`);
      const batchSize = positiveInt(opts.batchSize, '--batch-size');
      const limit = opts.limit === undefined ? undefined : positiveInt(opts.limit, '--limit');
      const progress = process.stderr.isTTY ? await progressBar() : null;
      let result: EvalResult;
      let sidecar: EmotionModelSidecar;
      try {
        ({ result, sidecar } = await evaluateWithSidecar({
          data: opts.data, split: opts.split, model: opts.model, batchSize, limit, detect: opts.detect,
          onProgress: progress?.update,
        }));
      } finally {
        progress?.stop();
      }
      if (opts.report) {
        await writeFile(opts.report, renderEvalReport(reportData(result, sidecar, opts.detect), { chartJs: readChartJs() }));
      }
      process.stdout.write(opts.json ? `${JSON.stringify(result, null, 2)}\n` : formatEvalResult(result, sidecar));
      if (opts.report && !opts.json) process.stderr.write(`report written to ${opts.report}\n`);
    });
}

function positiveInt(value: string, flag: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`invalid ${flag}: ${value} (a positive integer)`);
  return Number(value);
}

/** Score a model on a data set. */
export async function evaluate(options: EvalOptions): Promise<EvalResult> {
  return (await evaluateWithSidecar(options)).result;
}

async function evaluateWithSidecar(options: EvalOptions): Promise<{ result: EvalResult; sidecar: EmotionModelSidecar }> {
  const split = options.split ?? 'val';
  const batchSize = options.batchSize ?? 64;
  const files = loadEmotionModel(options.model ?? DEFAULT_EMOTION_MODEL);
  const sidecar = files.sidecar;
  const sha256 = createHash('sha256').update(files.bytes).digest('hex');
  if (sidecar.sha256 && sidecar.sha256 !== sha256) {
    process.stderr.write(`warning: ${files.path}: sha256 ${sha256.slice(0, 12)}… differs from its sidecar's ${String(sidecar.sha256).slice(0, 12)}…\n`);
  }
  const ort = (await import('onnxruntime-node')) as unknown as OrtModule;
  const cropSize = sidecar.preprocess.faceCrop.size;
  const matrix = new ConfusionMatrix(EMOTIONS);
  const skipped: Array<{ source: string; reason: string }> = [];
  let skippedCount = 0;
  const skip = (source: string, reason: string): void => {
    skippedCount++;
    if (skipped.length < MAX_SKIP_EXAMPLES) skipped.push({ source, reason });
  };
  const score = (labels: Emotion[], probabilities: EmotionProbabilities[]): void => {
    probabilities.forEach((p, i) => matrix.add(labels[i], dominantEmotion(p)));
  };

  let dataSplit: Split | null;
  let elapsedMs: number;
  if (options.detect) {
    ({ split: dataSplit, elapsedMs } = await scoreDetected(options, split, batchSize, ort, files, score, skip));
  } else {
    const dataset = await openDataset(options.data, { split, size: cropSize, limit: options.limit });
    const classifier = await EmotionClassifier.load(ort, files.bytes, sidecar, { batchSize, source: files.path });
    dataSplit = dataset.split;
    const started = performance.now();
    for await (const batch of batches(dataset.items(), batchSize)) {
      const faces: GrayImage[] = [];
      const labels: Emotion[] = [];
      for (const item of batch) {
        if (item.ok) {
          faces.push(item.image);
          labels.push(item.label);
        } else skip(item.source, item.reason);
      }
      if (faces.length) score(labels, await classifier.classify(faces));
      options.onProgress?.(dataset.progress(), matrix.n);
    }
    elapsedMs = performance.now() - started;
    await classifier.dispose();
  }
  const n = matrix.n;
  if (n === 0) throw new DatasetError(`no image of ${options.data} could be scored${skipped[0] ? ` (first: ${skipped[0].source}: ${skipped[0].reason})` : ''}`);
  const result: EvalResult = {
    ...matrix.metrics(),
    model: { name: sidecar.name || basename(files.path, '.onnx'), sha256 },
    msPerImage: elapsedMs / n,
    split: dataSplit,
    data: options.data,
    skipped: skippedCount,
    skippedExamples: skipped,
  };
  return { result, sidecar };
}

/** --detect: decode each photo, detect + align its most confident face, classify in batches. */
async function scoreDetected(
  options: EvalOptions,
  split: Split,
  batchSize: number,
  ort: OrtModule,
  emotion: { bytes: Uint8Array; sidecar: EmotionModelSidecar },
  score: (labels: Emotion[], p: EmotionProbabilities[]) => void,
  skip: (source: string, reason: string) => void,
): Promise<{ split: Split | null; elapsedMs: number }> {
  if (options.data.toLowerCase().endsWith('.csv')) {
    throw new UsageError('--detect needs image files (a folder per label); a fer2013.csv holds face crops already');
  }
  const [{ createAnalyzerCore }, { loadDetectorModel }, { decodeImage }] = await Promise.all([
    import('../analyzer.js'), import('../classify/node.js'), import('./../image/decode.js'),
  ]);
  const detector = loadDetectorModel();
  const analyzer = await createAnalyzerCore(
    { ort, detector: { bytes: detector.bytes, sidecar: detector.sidecar as never }, emotion },
    { batchSize },
  );
  const listing = await listFolderDataset(options.data, split);
  const files = evenSample(listing.files, options.limit);
  let crops: GrayImage[] = [];
  let labels: Emotion[] = [];
  let done = 0;
  const started = performance.now();
  const flush = async (): Promise<void> => {
    if (crops.length) score(labels, await analyzer.classifyCrops(crops));
    crops = [];
    labels = [];
    options.onProgress?.(done / files.length, done);
  };
  // Detection is per photo; classification is batched across photos, as in `analyze` on a folder.
  for (const { file, label } of files) {
    done++;
    try {
      const image = await decodeImage(file);
      const faces = (await analyzer.analyze(image, { maxFaces: 1 })).faces;
      if (faces.length === 0) {
        skip(file, 'no face found');
        continue;
      }
      crops.push(analyzer.alignFace(image, faces[0]));
      labels.push(label);
    } catch (err) {
      skip(file, err instanceof Error ? err.message.split('\n')[0] : String(err));
    }
    if (crops.length >= batchSize) await flush();
  }
  await flush();
  const elapsedMs = performance.now() - started;
  await analyzer.dispose();
  return { split: listing.split, elapsedMs };
}

/** The readable report printed without --json. */
export function formatEvalResult(result: EvalResult, sidecar?: EmotionModelSidecar): string {
  const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
  const labels = result.confusionMatrix.labels;
  const lines: string[] = [];
  lines.push(`model   ${result.model.name} (sha256 ${result.model.sha256.slice(0, 12)}…)`);
  lines.push(`data    ${result.data}${result.split ? ` [${result.split}]` : ''}: ${result.n} images scored${result.skipped ? `, ${result.skipped} skipped` : ''}, ${result.msPerImage.toFixed(2)} ms/image`);
  const shipped = sidecar?.metrics?.val;
  lines.push('');
  lines.push(`accuracy  ${pct(result.accuracy).padStart(6)}${shipped ? `   (sidecar ${shipped.split ?? 'val'}: ${pct(shipped.accuracy)})` : ''}`);
  lines.push(`macro-F1  ${pct(result.macroF1).padStart(6)}${shipped ? `   (sidecar ${shipped.split ?? 'val'}: ${pct(shipped.macroF1)})` : ''}`);
  lines.push('');
  const w = Math.max(9, ...labels.map((l) => l.length)) + 1;
  lines.push(`${''.padEnd(w)}${['precision', 'recall', 'F1', 'support'].map((h) => h.padStart(10)).join('')}`);
  for (const l of labels) {
    const c = result.perClass[l];
    lines.push(`${l.padEnd(w)}${[pct(c.precision), pct(c.recall), pct(c.f1), String(c.support)].map((v) => v.padStart(10)).join('')}`);
  }
  const meanOf = (key: 'precision' | 'recall'): number => labels.reduce((s, l) => s + result.perClass[l][key], 0) / labels.length;
  lines.push(`${'macro avg'.padEnd(w)}${[pct(meanOf('precision')), pct(meanOf('recall')), pct(result.macroF1), String(result.n)].map((v) => v.padStart(10)).join('')}`);
  lines.push('');
  lines.push('confusion matrix (rows: true label, columns: predicted)');
  const cw = Math.max(...labels.map((l) => l.length), ...result.confusionMatrix.matrix.flat().map((v) => String(v).length)) + 2;
  lines.push(`${''.padEnd(w)}${labels.map((l) => l.padStart(cw)).join('')}`);
  result.confusionMatrix.matrix.forEach((row, i) => {
    lines.push(`${labels[i].padEnd(w)}${row.map((v) => String(v).padStart(cw)).join('')}`);
  });
  if (result.skippedExamples.length) {
    lines.push('');
    lines.push(`skipped ${result.skipped} image(s):`);
    for (const s of result.skippedExamples) lines.push(`  ${s.source}: ${s.reason}`);
    if (result.skipped > result.skippedExamples.length) lines.push(`  … and ${result.skipped - result.skippedExamples.length} more`);
  }
  return `${lines.join('\n')}\n`;
}

/** What the HTML report needs from a run and the model's sidecar. */
export function reportData(result: EvalResult, sidecar: EmotionModelSidecar, detect = false): EvalReportData {
  const val = sidecar.metrics?.val;
  return {
    data: result.data,
    split: result.split,
    metrics: result,
    model: {
      name: result.model.name,
      sha256: result.model.sha256,
      parameters: typeof sidecar.parameters === 'number' ? sidecar.parameters : undefined,
      macs: typeof sidecar.macs === 'number' ? sidecar.macs : undefined,
      arch: typeof sidecar.training?.arch === 'string' ? sidecar.training.arch : undefined,
      inputSize: sidecar.input?.height,
      faceCropSize: sidecar.preprocess?.faceCrop?.size,
      tta: sidecar.tta ? sidecar.tta.hflip : undefined,
      shippedVal: val ? { n: val.n, accuracy: val.accuracy, macroF1: val.macroF1, split: val.split } : undefined,
      provenance: sidecar.provenance,
    },
    msPerImage: result.msPerImage,
    skipped: { count: result.skipped, examples: result.skippedExamples },
    history: Array.isArray(sidecar.training?.history) ? sidecar.training.history : undefined,
    generatedAt: new Date().toISOString(),
    mode: detect ? 'detect' : 'crops',
  };
}

/** Chart.js's UMD build from node_modules, to inline into the report (no CDN). */
export function readChartJs(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve('chart.js');  // <pkg>/dist/chart.cjs
  return readFileSync(join(dirname(main), 'chart.umd.min.js'), 'utf8');
}

async function progressBar(): Promise<{ update: (fraction: number, scored: number) => void; stop: () => void }> {
  const { SingleBar, Presets } = (await import('cli-progress')).default;
  const bar = new SingleBar(
    { stream: process.stderr, format: 'eval [{bar}] {percentage}% | {scored} images | {duration_formatted}', hideCursor: true, clearOnComplete: true },
    Presets.shades_classic,
  );
  bar.start(1000, 0, { scored: 0 });
  return {
    update: (fraction, scored) => bar.update(Math.round(fraction * 1000), { scored }),
    stop: () => bar.stop(),
  };
}
