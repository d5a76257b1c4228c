/**
 * `emolens demo`: the README's quick start. Analyses the sample photos that ship with emolens (assets/demo/: group
 * photos, 3–5 faces each), prints every face with its 7 emotion probabilities and writes annotated copies.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { annotateImage } from '../report/annotate.js';
import { samplePhotos } from '../samples.js';
import type { AnalysisResult } from '../types.js';
import { faceJson } from '../result/image.js';
import { bold, dim, faceTable, moodSummary, styleFor } from './common.js';
import { addAnalyzerOptions, analyzerOptionsFrom, type AnalyzerFlags } from './options.js';

interface DemoFlags extends Pick<AnalyzerFlags, 'model' | 'threads'> {
  json?: boolean;
  out: string;
}

export function register(program: Command): void {
  const command = program
    .command('demo')
    .description('analyse the bundled sample photos: faces, 7 emotion probabilities each, annotated copies')
    .option('--json', 'print JSON (same shape as `analyze --json`, plus "annotated" paths) instead of tables')
    .option('--out <dir>', 'where to write the annotated photos', './emolens-demo');
  addAnalyzerOptions(command, 'photos', ['model', 'threads'])
    .action(async (flags: DemoFlags) => {
      await runDemo(flags);
    });
}

async function runDemo(flags: DemoFlags): Promise<void> {
  const photos = samplePhotos();
  const options = analyzerOptionsFrom({ model: flags.model, threads: flags.threads });
  const outDir = resolve(flags.out);
  mkdirSync(outDir, { recursive: true });
  const rel = relative(process.cwd(), outDir);
  const shownOut = rel === '' ? '.' : rel.startsWith('..') ? outDir : rel;
  const style = styleFor(process.stdout);

  const started = performance.now();
  const { createAnalyzer } = await import('../node.js');
  const analyzer = await createAnalyzer(options);
  const model = analyzer.emotionModel;
  const accuracy = model.metrics?.val?.accuracy;
  if (!flags.json) {
    const about = accuracy !== undefined ? `, ${(accuracy * 100).toFixed(1)}% accuracy on FER2013 val` : '';
    process.stdout.write(`${bold('emolens demo', style)} ${dim(`— ${photos.length} sample photos, emotion model ${model.name}${about}`, style)}\n\n`);
  }

  const results: AnalysisResult[] = [];
  const entries: unknown[] = [];
  try {
    for (const photo of photos) {
      const t0 = performance.now();
      const { image, ...result } = await analyzer.analyzeWithImage(photo);
      const ms = performance.now() - t0;
      const annotated = join(outDir, photo.slice(photo.lastIndexOf('/') + 1));
      writeFileSync(annotated, await annotateImage(image, result));
      results.push(result);
      const name = photo.slice(photo.lastIndexOf('/') + 1);
      if (flags.json) {
        entries.push({ file: photo, width: result.width, height: result.height, faces: faceJson(result), annotated });
      } else {
        const n = result.faces.length;
        process.stdout.write(`${bold(name, style)}  ${dim(`${result.width}x${result.height}, ${n} face${n === 1 ? '' : 's'}, ${(ms / 1000).toFixed(1)} s`, style)}\n`);
        process.stdout.write(`${faceTable(result, style).join('\n')}\n\n`);
      }
    }
  } finally {
    await analyzer.dispose();
  }

  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ images: entries }, null, 2)}\n`);
    process.stderr.write(`annotated photos written to ${shownOut}/\n`);
    return;
  }
  process.stdout.write(`${bold(`${photos.length} photos, ${moodSummary(results)}`, style)} ${dim(`(${seconds} s)`, style)}\n`);
  process.stdout.write(`Annotated photos: ${bold(`${shownOut}/`, style)} ${dim(`(${photos.map((p) => p.slice(p.lastIndexOf('/') + 1)).join(', ')})`, style)}\n`);
  process.stdout.write(dim(`Next: emolens analyze <your photos or folders> --annotate out/   (emolens analyze --help)\n`, style));
}
