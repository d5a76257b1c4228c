/**
 * `emolens eval`: parses the flags, draws a progress bar on stderr, and prints what `evaluate()` (src/eval/)
 * measured — as a table, as one JSON object (--json), and/or as a self-contained HTML report (--report).
 * The scoring itself lives in src/eval/evaluate.ts; nothing here computes a metric.
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { EmotionModelSidecar, EvalMetrics } from '../classify/contract.js';
import type { FerPlusMetrics } from '../eval/ferplus.js';
import { DEFAULT_EMOTION_MODEL } from '../env/models.js';
import { UsageError } from '../errors.js';
import { evaluateWithSidecar, type EvalResult, type SaliencyExample } from '../eval/evaluate.js';
import { EMOTIONS } from '../labels.js';
import { isSplit, SPLITS } from '../image/datasets.js';
import { readReportAssets } from '../report/load-assets.js';
import { evalReportData, renderEvalReport, type SaliencyExampleView, type SaliencyReport } from '../report/html.js';

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
    .option('--labels <votes>', 'also score against the FER+ raters: a votes CSV (file,row,neutral,...,NF), a folder with <split>.csv, or Microsoft\'s fer2013new.csv (with a fer2013.csv --data)')
    .option('--detect', 'images are photos: detect and align the face first (images without a face are skipped)')
    .option('--saliency [n]', 'with --report: show n right and n wrong faces per class with their saliency maps (default 3; embeds your faces in the report)')
    .action(async (opts: { data: string; split: string; model: string; json?: boolean; report?: string; batchSize: string; limit?: string; detect?: boolean; saliency?: string | boolean; labels?: string }) => {
      if (!isSplit(opts.split)) throw new UsageError(`invalid --split: ${opts.split} (expected ${SPLITS.join(', ')})`);
      if (opts.saliency !== undefined && !opts.report) throw new UsageError('--saliency adds a section to the HTML report: add --report <file.html>');
      const saliencyExamples = opts.saliency === undefined || opts.saliency === false ? 0 : opts.saliency === true ? 3 : positiveInt(opts.saliency, '--saliency');
      const batchSize = positiveInt(opts.batchSize, '--batch-size');
      const limit = opts.limit === undefined ? undefined : positiveInt(opts.limit, '--limit');
      const progress = process.stderr.isTTY ? await progressBar() : null;
      let result: EvalResult;
      let sidecar: EmotionModelSidecar;
      let examples: SaliencyExample[];
      try {
        ({ result, sidecar, examples } = await evaluateWithSidecar({
          data: opts.data, split: opts.split, model: opts.model, batchSize, limit, detect: opts.detect, saliencyExamples, labels: opts.labels,
          onProgress: progress?.update,
          onWarning: (message) => process.stderr.write(`warning: ${message}\n`),
        }));
      } finally {
        progress?.stop();
      }
      if (opts.report) {
        const saliency = saliencyExamples ? await saliencyReport(examples) : undefined;
        await writeFile(opts.report, renderEvalReport(evalReportData(result, sidecar, opts.detect, saliency), readReportAssets()));
      }
      process.stdout.write(opts.json ? `${JSON.stringify(result, null, 2)}\n` : formatEvalResult(result, sidecar));
      if (opts.report && !opts.json) process.stderr.write(`report written to ${opts.report}\n`);
    });
}

/** The kept faces as the report's section: each crop and its overlay as PNG data: URLs, grouped by true class. */
async function saliencyReport(examples: SaliencyExample[]): Promise<SaliencyReport> {
  const { encodeOverlayPng, encodeGrayPng } = await import('../report/saliency-png.js');
  const views = await Promise.all(examples.map(async (e): Promise<SaliencyExampleView & { label: string; correct: boolean }> => ({
    label: e.label, correct: e.label === e.predicted, name: e.source, predicted: e.predicted, confidence: e.confidence,
    cropUrl: `data:image/png;base64,${(await encodeGrayPng(e.crop)).toString('base64')}`,
    overlayUrl: `data:image/png;base64,${(await encodeOverlayPng(e.crop, e.saliency, 1)).toString('base64')}`,
  })));
  return {
    method: examples[0]?.saliency.method ?? 'gradcam',
    perClass: EMOTIONS.map((label) => ({
      label,
      correct: views.filter((v) => v.label === label && v.correct),
      wrong: views.filter((v) => v.label === label && !v.correct),
    })),
  };
}

function positiveInt(value: string, flag: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`invalid ${flag}: ${value} (a positive integer)`);
  return Number(value);
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
  // Older sidecars carry no ECE: then there is nothing to compare with.
  const shippedEce = typeof shipped?.ece === 'number' ? `   (sidecar ${shipped.split ?? 'val'}: ${shipped.ece.toFixed(3)})` : '';
  lines.push(`ECE       ${result.ece.toFixed(3).padStart(6)}${shippedEce}   (expected calibration error of top-1 confidence, ${result.reliability.length} bins)`);
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
  lines.push('');
  lines.push('reliability (top-1 confidence bins; calibrated: accuracy = confidence)');
  lines.push(`${'confidence'.padEnd(14)}${['faces', 'mean conf', 'accuracy', 'gap'].map((h) => h.padStart(10)).join('')}`);
  for (const b of result.reliability) {
    if (b.count === 0 || b.confidence === null || b.accuracy === null) continue;
    const range = `${pct(b.lo)}–${pct(b.hi)}`;
    const gap = `${b.accuracy >= b.confidence ? '+' : '−'}${pct(Math.abs(b.accuracy - b.confidence))}`;
    lines.push(`${range.padEnd(14)}${[String(b.count), pct(b.confidence), pct(b.accuracy), gap].map((v) => v.padStart(10)).join('')}`);
  }
  if (result.ferplus) lines.push('', ...formatFerPlus(result.ferplus, shipped?.ferplus));
  if (result.skippedExamples.length) {
    lines.push('');
    lines.push(`skipped ${result.skipped} image(s):`);
    for (const s of result.skippedExamples) lines.push(`  ${s.source}: ${s.reason}`);
    if (result.skipped > result.skippedExamples.length) lines.push(`  … and ${result.skipped - result.skippedExamples.length} more`);
  }
  return `${lines.join('\n')}\n`;
}

/** The FER+ block of the readable report: majority figures and per-class table, distance to the raters. */
function formatFerPlus(f: FerPlusMetrics, shipped?: EvalMetrics['ferplus']): string[] {
  const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
  const m = f.majority;
  const d = f.distribution;
  const was = (v: number | undefined, fmt: (x: number) => string): string => (v === undefined ? '' : `   (sidecar: ${fmt(v)})`);
  const lines = [`FER+ raters (${f.votes}): ${f.matched} scored images have votes`];
  lines.push(`majority accuracy  ${pct(m.accuracy).padStart(6)}${was(shipped?.majority.accuracy, pct)}   (${m.n} images with a unique top emotion vote)`);
  lines.push(`majority macro-F1  ${pct(m.macroF1).padStart(6)}${was(shipped?.majority.macroF1, pct)}`);
  lines.push(`majority ECE       ${m.ece.toFixed(3).padStart(6)}${was(shipped?.majority.ece, (x) => x.toFixed(3))}`);
  lines.push(`KL(raters||model)  ${d.kl.toFixed(3).padStart(6)}${was(shipped?.distribution.kl, (x) => x.toFixed(3))}   cross-entropy ${d.crossEntropy.toFixed(3)} nats (${d.n} images)`);
  lines.push(`ECE vs raters      ${d.ece.toFixed(3).padStart(6)}${was(shipped?.distribution.ece, (x) => x.toFixed(3))}   (confidence against the share of raters agreeing)`);
  lines.push(`rater agreement    ${pct(d.raterAgreement).padStart(6)}   (share of raters who chose the model's top label)`);
  lines.push('');
  const labels = m.confusionMatrix.labels;
  const w = Math.max(9, ...labels.map((l) => l.length)) + 1;
  lines.push(`${'FER+'.padEnd(w)}${['precision', 'recall', 'F1', 'support'].map((h) => h.padStart(10)).join('')}`);
  for (const l of labels) {
    const c = m.perClass[l];
    lines.push(`${l.padEnd(w)}${[pct(c.precision), pct(c.recall), pct(c.f1), String(c.support)].map((v) => v.padStart(10)).join('')}`);
  }
  lines.push('');
  lines.push('confusion matrix by FER+ majority (rows: raters\' label, columns: predicted)');
  const cw = Math.max(...labels.map((l) => l.length), ...m.confusionMatrix.matrix.flat().map((v) => String(v).length)) + 2;
  lines.push(`${''.padEnd(w)}${labels.map((l) => l.padStart(cw)).join('')}`);
  m.confusionMatrix.matrix.forEach((row, i) => lines.push(`${labels[i].padEnd(w)}${row.map((v) => String(v).padStart(cw)).join('')}`));
  return lines;
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
