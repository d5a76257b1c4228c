/**
 * `npm run bench:explain`: what a saliency map costs per face, beside plain classification. Prints numbers; asserts
 * nothing (docs/explain.md records what it printed, with the machine). Faces: the aligned crops of the demo photos.
 * Each figure is the minimum over --repeat runs (wall and process CPU time), so a busy machine inflates it less.
 *
 * Options: --repeat <n> (default 3), --threads <n> (default 1).
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { createAnalyzer } from '../src/node.js';
import type { GrayImage } from '../src/types.js';
import { SAMPLE_PHOTOS } from '../test/helpers/fixtures.js';

const { values } = parseArgs({ options: { repeat: { type: 'string', default: '3' }, threads: { type: 'string', default: '1' } } });
const repeat = Math.max(1, Number(values.repeat));
const analyzer = await createAnalyzer({ threads: Number(values.threads) });
const crops: GrayImage[] = [];
for (const photo of SAMPLE_PHOTOS) {
  const { image, faces } = await analyzer.analyzeWithImage(photo);
  crops.push(...faces.map((f) => analyzer.alignFace(image, f)));
}

async function measure(name: string, run: () => Promise<unknown>): Promise<void> {
  let wall = Infinity, cpu = Infinity;
  await run(); // warm-up
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now(), c0 = process.cpuUsage();
    await run();
    const c = process.cpuUsage(c0);
    wall = Math.min(wall, performance.now() - t0);
    cpu = Math.min(cpu, (c.user + c.system) / 1000);
  }
  console.log(`${name.padEnd(22)} ${(wall / crops.length).toFixed(2).padStart(8)} ms/face wall  ${(cpu / crops.length).toFixed(2).padStart(8)} ms/face CPU`);
}

console.log(`${crops.length} faces from ${SAMPLE_PHOTOS.length} demo photos; ${cpus().length} cores (${cpus()[0]?.model}); ONNX Runtime threads ${values.threads}; min of ${repeat}`);
await measure('classify', () => analyzer.classifyCrops(crops));
await measure('explain gradcam', () => analyzer.explainCrops(crops, { method: 'gradcam' }));
await measure('explain occlusion', () => analyzer.explainCrops(crops, { method: 'occlusion' }));
await analyzer.dispose();
