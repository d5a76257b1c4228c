/**
 * `emolens bench`: parses the flags, runs the benchmark (src/bench/) with its progress lines on stderr, and prints
 * the numbers as tables or as one JSON object (--json). A benchmark prints numbers; nothing here is a test.
 */
import type { Command } from 'commander';
import { runBench, type BenchResult, type ModelBench } from '../bench/index.js';
import { SHIPPED_EMOTION_MODELS } from '../env/models.js';
import { UsageError } from '../errors.js';

export function register(program: Command): void {
  program
    .command('bench')
    .description('time decode, detection, alignment and emotion classification on sample photos; compare with face-api and Human on the same faces (dev dependencies)')
    .option('--json', 'print one JSON object')
    .option('--images <files...>', 'photos to use (default: the sample photos that ship with emolens, as `emolens demo`)')
    .option('--model <name|path>', `time only this emotion model, a bundled name or an .onnx path (default: every shipped model, ${SHIPPED_EMOTION_MODELS.join(', ')})`)
    .option('--rounds <n>', 'timed passes over the photos after a warm-up pass', '3')
    .option('--no-compare', 'skip the face-api and Human comparison')
    .action(async (opts: { json?: boolean; images?: string[]; model?: string; rounds: string; compare: boolean }) => {
      if (!/^\d+$/.test(opts.rounds) || Number(opts.rounds) < 1) throw new UsageError(`invalid --rounds: ${opts.rounds} (a positive integer)`);
      const result = await runBench({
        images: opts.images,
        model: opts.model,
        rounds: Number(opts.rounds),
        compare: opts.compare,
        log: (line) => process.stderr.write(`${line}\n`),
      });
      process.stdout.write(opts.json ? `${JSON.stringify(result, null, 2)}\n` : formatBench(result));
    });
}

/** The readable report printed without --json. */
export function formatBench(r: BenchResult): string {
  const ms = (v: number | null): string => (v === null ? 'n/a' : v.toFixed(2));
  const x = (v: number | null): string => (v === null ? 'n/a' : `${v.toFixed(1)}x`);
  const lines: string[] = [];
  lines.push(`emolens bench — ${r.images.length} photos (${r.images.join(', ')}), ${r.faces} faces, ${r.rounds} timed rounds after warm-up`);
  lines.push(`machine: ${r.machine.cpus} CPUs, ${r.machine.platform}, Node ${r.machine.node}`);
  for (const m of r.models) lines.push(`model ${modelLine(m)}`);
  lines.push('');
  lines.push(`${`pipeline stage (${r.model.name})`.padEnd(30)} ms`);
  lines.push(`decode (per image)      ${ms(r.decodeMsPerImage).padStart(9)}`);
  lines.push(`detect (per image)      ${ms(r.detectMsPerImage).padStart(9)}`);
  lines.push(`align  (per image)      ${ms(r.alignMsPerImage).padStart(9)}   (${ms(r.alignMsPerFace)} per face)`);
  lines.push(`whole pipeline          ${ms(r.pipelineMsPerImage).padStart(9)}   per image = ${r.imagesPerSecond.toFixed(2)} images/s`);
  lines.push('');
  lines.push('emotion classification, ms per face (same faces for every model)');
  const w = Math.max(...r.classifiers.map((c) => c.name.length)) + 2;
  lines.push(`${'model'.padEnd(w)}${'input'.padEnd(15)}${'batch 1'.padStart(9)}${'batch 32'.padStart(10)}  agrees  runtime`);
  for (const c of r.classifiers) {
    const agree = c.agreement === undefined ? '      ' : `${(c.agreement * 100).toFixed(0).padStart(5)}%`;
    lines.push(`${c.name.padEnd(w)}${c.inputSize.padEnd(15)}${ms(c.batch1MsPerFace).padStart(9)}${ms(c.batch32MsPerFace).padStart(10)}  ${agree}  ${c.runtime}`);
  }
  for (const m of r.models) {
    if (m.ratios.length === 0) continue;
    lines.push('');
    lines.push(`speed-up of ${m.name} (their ms/face ÷ ${m.name}'s; >1 = ${m.name} faster)`);
    const v = Math.max(...m.ratios.map((q) => q.versus.length)) + 2;
    lines.push(`${'versus'.padEnd(v)}${'batch 1'.padStart(9)}${'batch 32'.padStart(10)}   ${'1 thread: batch 1'.padStart(17)}${'batch 32'.padStart(10)}`);
    for (const q of m.ratios) {
      lines.push(`${q.versus.padEnd(v)}${x(q.batch1).padStart(9)}${x(q.batch32).padStart(10)}   ${x(q.batch1SingleThread).padStart(17)}${x(q.batch32SingleThread).padStart(10)}`);
    }
  }
  if (r.classifiers.some((c) => c.agreement !== undefined)) {
    lines.push('');
    lines.push(`("agrees": share of faces whose top emotion matches ${r.model.name}'s; not accuracy — these photos have no labels.`);
    lines.push(' "+flip": the model averages the face and its mirror image inside the graph, two passes per face, all in its ms/face.)');
  }
  return `${lines.join('\n')}\n`;
}

/** "emolens-fast: 295,511 params, 23.7 M multiply-adds per face, 46.6% FER2013 val" */
function modelLine(m: ModelBench): string {
  const facts = [
    m.parameters ? `${m.parameters.toLocaleString('en-US')} params` : '',
    m.macs ? `${(m.macs / 1e6).toFixed(1)} M multiply-adds per face` : '',
    m.valFerplusAccuracy ? `${(100 * m.valFerplusAccuracy).toFixed(1)}% FER+ majority val` : '',
    m.valAccuracy ? `${(100 * m.valAccuracy).toFixed(1)}% FER2013-label val` : '',
  ].filter(Boolean);
  return `${m.name}${facts.length ? `: ${facts.join(', ')}` : ''}`;
}
