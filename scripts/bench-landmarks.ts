/**
 * Speed of the 68-point landmark stage on the demo photos' 22 faces: ms per face for the crop + ONNX run + mapping
 * back, one face per run and all faces of a photo in one batch; and the EV on top. The minimum over --repeat runs
 * is printed (this machine is shared: the minimum is the least disturbed figure).
 *
 *   node --import tsx scripts/bench-landmarks.ts [--threads 1] [--repeat 5]
 */
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import { loadLandmarkModel } from '../src/env/node.js';
import { expressionalVector, LandmarkDetector } from '../src/landmarks/index.js';
import { createAnalyzer } from '../src/node.js';
import { samplePhotos } from '../src/samples.js';

const { values: args } = parseArgs({ options: { threads: { type: 'string', default: '1' }, repeat: { type: 'string', default: '5' } } });
const threads = Number(args.threads);
const repeat = Number(args.repeat);
const ort = createRequire(import.meta.url)('onnxruntime-node');
const files = loadLandmarkModel();
const net = await LandmarkDetector.load(ort, files.bytes, files.sidecar, { threads, batchSize: 32 });
const analyzer = await createAnalyzer({ threads });
const photos = [];
for (const p of samplePhotos()) {
  const image = await analyzer.decode(p);
  photos.push({ image, faces: await analyzer.detect(image) });
}
const faces = photos.reduce((n, p) => n + p.faces.length, 0);
await net.detectFaces(photos[0].image, photos[0].faces); // warm-up

async function time(fn: () => Promise<void>): Promise<number> {
  let best = Infinity;
  for (let r = 0; r < repeat; r++) {
    const t0 = performance.now();
    await fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}
const single = await time(async () => { for (const p of photos) for (const f of p.faces) await net.detectFaces(p.image, [f]); });
const batched = await time(async () => { for (const p of photos) await net.detectFaces(p.image, p.faces); });
const points = (await Promise.all(photos.map((p) => net.detectFaces(p.image, p.faces)))).flat();
const ev = await time(async () => { for (const pts of points) expressionalVector(pts); });
console.log(`${faces} faces, ${threads} ONNX Runtime thread(s), min of ${repeat} runs (shared 2-core machine):`);
console.log(`  landmarks, one face per run:    ${(single / faces).toFixed(2)} ms per face`);
console.log(`  landmarks, a photo's faces batched: ${(batched / faces).toFixed(2)} ms per face`);
console.log(`  expressional vector:            ${((ev / faces) * 1000).toFixed(1)} µs per face`);
await net.dispose();
await analyzer.dispose();
