/**
 * Small faces in large photos: the six sample photos shrunk by `scale` and laid side by side on 1920 px wide grey
 * canvases (true boxes: scripts/detector-sample-faces.json, scaled), detected with each option set. Prints recall
 * and false positives per scale. The docs/detector.md "small faces" table comes from here.
 *
 *   node --import tsx scripts/detector-small-faces.ts [--scales 0.5,0.3,0.24,0.2,0.17] [--model blazeface|path.onnx] [--views 2,3]
 *
 * --model: another detector (e.g. runs/detectors/blazeface-full.onnx); --views: the views of the two option sets
 * that have views, as multiples of that model's input size (default: the detector's own default).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { FaceDetector, type DetectOptions } from '../src/detect/index.js';
import { loadDetectorModel } from '../src/env/node.js';
import { samplePhotos } from '../src/samples.js';
import { matchFaces } from './detector-devset.js';

const { values: args } = parseArgs({
  options: {
    scales: { type: 'string', default: '0.5,0.3,0.24,0.2,0.17' },
    model: { type: 'string', default: 'blazeface' },
    views: { type: 'string' },
  },
});
const views = args.views === undefined ? {} : { views: args.views.split(',').map(Number) };
const TRUTH = JSON.parse(readFileSync(join(import.meta.dirname, 'detector-sample-faces.json'), 'utf8')) as
  { photo: string; faces: { box: { x: number; y: number; width: number; height: number } }[] }[];
const OPTIONS: Record<string, DetectOptions> = {
  [`views ${args.views ? `[${args.views}]` : '[2, 3] (default)'}`]: views,
  [`views ${args.views ? `[${args.views}]` : '[2, 3]'}, no second look`]: { ...views, secondLook: false },
  'tiles auto, no views (before)': { views: [] },
  'one pass': { views: [], tiles: 'off' },
};
let detector: FaceDetector;
try {
  const files = loadDetectorModel(args.model);
  detector = await FaceDetector.load(ort, files.bytes, files.sidecar, { threads: 1 });
} catch (err) {
  console.error(`error: ${(err as Error).message.split('\n')[0]}`);
  process.exit(1);
}
const photos = samplePhotos();
const W = 1920;
const H = 1440;
for (const scale of args.scales.split(',').map(Number)) {
  const pw = Math.round(1920 * scale);
  const ph = Math.round(1537 * scale);   // the tallest sample photo
  const perRow = Math.floor(W / pw);
  const rows = Math.floor(H / ph);
  const composites: sharp.OverlayOptions[] = [];
  const truth: { box: { x: number; y: number; width: number; height: number }; side: number }[] = [];
  for (let k = 0; k < perRow * rows; k++) {
    const t = TRUTH[k % TRUTH.length];
    const left = (k % perRow) * pw;
    const top = Math.floor(k / perRow) * ph;
    composites.push({ input: await sharp(photos.find((p) => p.endsWith(t.photo))!).resize(pw).toBuffer(), left, top });
    for (const f of t.faces) {
      const box = { x: left + f.box.x * scale, y: top + f.box.y * scale, width: f.box.width * scale, height: f.box.height * scale };
      truth.push({ box, side: Math.max(box.width, box.height) });
    }
  }
  const { data, info } = await sharp({ create: { width: W, height: H, channels: 4, background: '#808080' } }).composite(composites)
    .raw().toBuffer({ resolveWithObject: true });
  const image = { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  const sides = truth.map((t) => t.side);
  const line = [`faces ${Math.min(...sides).toFixed(0)}-${Math.max(...sides).toFixed(0)} px (${truth.length})`];
  for (const [name, options] of Object.entries(OPTIONS)) {
    const t0 = performance.now();
    const found = await detector.detect(image, options);
    const ms = performance.now() - t0;
    const { matched, falsePositives } = matchFaces(truth, found);
    line.push(`${name}: ${(100 * matched.filter(Boolean).length / truth.length).toFixed(0)}%, ${falsePositives.length} false, ${ms.toFixed(0)} ms`);
  }
  console.log(line.join(' | '));
}
await detector.dispose();
