/**
 * Emotion-model inference cost on one thread, robust to a shared machine: per model, batch 1 and batch 32 on the
 * model's own input size, ROUNDS timed rounds after a warm-up; prints the minimum wall ms per face over the rounds and
 * the process CPU ms per face (process.cpuUsage, user + system) of that round. With one intra-op thread CPU time is
 * the work itself, so it stays comparable when other processes take the cores; wall time does not. A benchmark:
 * it prints numbers and asserts nothing (docs/zoo.md).
 *
 *   node --import tsx scripts/zoo-speed.ts [--rounds 5] [--json] MODEL...   (bundled name or path to an .onnx)
 */
import { parseArgs } from 'node:util';
import { OnnxModel } from '../src/engine/index.js';
import { loadEmotionModel, loadNodeRuntime } from '../src/env/node.js';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { rounds: { type: 'string', default: '5' }, json: { type: 'boolean', default: false } },
});
const rounds = Number(args.rounds);
if (!Number.isInteger(rounds) || rounds < 1 || positionals.length === 0) {
  process.stderr.write('error: usage: zoo-speed.ts [--rounds N] [--json] MODEL...\n');
  process.exit(2);
}

const FACES = 64; // faces per round at each batch size

interface Timing { model: string; batch: number; wallMsPerFace: number; cpuMsPerFace: number }

async function time(model: OnnxModel, size: number, batch: number): Promise<{ wall: number; cpu: number }> {
  const x = new Float32Array(batch * size * size).map((_, i) => Math.sin(i) * 0.5);
  const dims = [batch, 1, size, size];
  await model.run(x, dims); // warm-up
  let best = { wall: Infinity, cpu: Infinity };
  for (let r = 0; r < rounds; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let done = 0; done < FACES; done += batch) await model.run(x, dims);
    const wall = (performance.now() - t0) / FACES;
    const c = process.cpuUsage(c0);
    if (wall < best.wall) best = { wall, cpu: (c.user + c.system) / 1000 / FACES };
  }
  return best;
}

const ort = await loadNodeRuntime();
const results: Timing[] = [];
for (const name of positionals) {
  const { bytes, sidecar } = loadEmotionModel(name);
  const model = await OnnxModel.load(ort, bytes, { threads: 1 });
  for (const batch of [1, 32]) {
    const t = await time(model, sidecar.input.height, batch);
    results.push({ model: sidecar.name, batch, wallMsPerFace: t.wall, cpuMsPerFace: t.cpu });
    if (!args.json) process.stdout.write(`${sidecar.name.padEnd(26)} batch ${String(batch).padStart(2)}  ${t.wall.toFixed(2).padStart(7)} ms/face wall (min of ${rounds})  ${t.cpu.toFixed(2).padStart(7)} ms/face CPU\n`);
  }
  await model.dispose();
}
if (args.json) process.stdout.write(`${JSON.stringify({ rounds, faces: FACES, threads: 1, results }, null, 2)}\n`);
