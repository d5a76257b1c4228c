/**
 * Proves models/face-landmarks68.onnx, fed by src/landmarks/ (crop, pad, resize, normalise, map back), gives the
 * points face-api itself gives: every face our detector finds on the demo photos is cropped to its whole-pixel box,
 * then face-api's FaceLandmark68Net (@vladmandic/face-api on @tensorflow/tfjs, cpu backend) and our stage each
 * return 68 points for that box; the script prints the largest difference in image pixels and relative to the box.
 *
 *   node --import tsx scripts/verify-landmarks68.ts [--onnx face-landmarks68|PATH.onnx] [--tolerance 0.002] [--photos N]
 *
 * (all six photos: 22 faces, about 1.5 min of CPU, nearly all of it TF.js's pure-JS backend; --photos 1 for a quick check)
 *
 * Exits 1 when any point differs by more than `tolerance` × the box side (float32 summation order differs between
 * runtimes; the resize and padding must match exactly for the figures to be this close).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadLandmarkModel } from '../src/env/node.js';
import { integerBox, LandmarkDetector } from '../src/landmarks/index.js';
import { createAnalyzer } from '../src/node.js';
import { samplePhotos } from '../src/samples.js';

const { values: args } = parseArgs({
  options: {
    onnx: { type: 'string', default: 'face-landmarks68' },
    tolerance: { type: 'string', default: '0.002' },
    photos: { type: 'string' },
  },
});
const tolerance = Number(args.tolerance);
const require = createRequire(import.meta.url);

const quiet = console.log;
console.log = () => {};
const tf = require('@tensorflow/tfjs');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
console.log = quiet;
await tf.setBackend('cpu');
await faceapi.nets.faceLandmark68Net.loadFromDisk(join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model'));

const ort = require('onnxruntime-node');
const files = loadLandmarkModel(args.onnx);
const ours = await LandmarkDetector.load(ort, files.bytes, files.sidecar);
const analyzer = await createAnalyzer({ threads: 2 });

let worstRel = 0;
let worstPx = 0;
let faces = 0;
for (const photo of samplePhotos().slice(0, args.photos ? Number(args.photos) : undefined)) {
  const image = await analyzer.decode(photo);
  const found = await analyzer.detect(image);
  const boxes = found.map((f) => integerBox(f.box, image.width, image.height));
  const mine = await ours.detect(image, boxes);
  const rgb = tf.tidy(() => tf.tensor3d(Uint8Array.from(image.data), [image.height, image.width, 4], 'int32').slice([0, 0, 0], [-1, -1, 3]));
  for (const [i, box] of boxes.entries()) {
    const crop = tf.slice(rgb, [box.y, box.x, 0], [box.height, box.width, 3]);
    const theirs = await faceapi.nets.faceLandmark68Net.detectLandmarks(crop);
    crop.dispose();
    let px = 0;
    theirs.positions.forEach((p: { x: number; y: number }, k: number) => {
      px = Math.max(px, Math.abs(p.x + box.x - mine[i][k].x), Math.abs(p.y + box.y - mine[i][k].y));
    });
    worstPx = Math.max(worstPx, px);
    worstRel = Math.max(worstRel, px / Math.max(box.width, box.height));
    faces++;
  }
  rgb.dispose();
  console.log(`${photo.split('/').pop()}: ${boxes.length} faces`);
}
await analyzer.dispose();
await ours.dispose();
console.log(`${faces} faces: worst point difference ${worstPx.toFixed(4)} px = ${worstRel.toExponential(2)} of the box side`
  + ` (face-api ${require('@vladmandic/face-api/package.json').version} on tfjs ${tf.version.tfjs} ${tf.getBackend()} vs onnxruntime-node, ${files.path.split('/').pop()})`);
const ok = worstRel <= tolerance;
console.log(`${ok ? 'OK' : 'FAIL'}: ${worstRel.toExponential(2)} ${ok ? '<=' : '>'} ${tolerance}`);
process.exit(ok ? 0 : 1);
