/**
 * Where do the eyes sit in a FER2013 face? The aligner (align/) cuts faces from photos to look like FER2013 crops,
 * so it needs FER2013's own eye height and inter-ocular distance (the emotion sidecar's faceCrop.eyeY / eyeDistance).
 * Runs the BlazeFace detector over FER2013 training images, each upscaled and set in the middle of a padded canvas
 * so the detector has context, and prints the eye geometry as fractions of the 48 px side.
 *
 *   node --import tsx scripts/fer-geometry.ts [--count 2000] [--scale 4] [--canvas 768] [--pad replicate|grey]
 *     [--data ../shared/datasets/fer2013/train]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { FaceDetector } from '../src/detect/index.js';
import type { DetectedFace } from '../src/types.js';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: '../shared/datasets/fer2013/train' },
    count: { type: 'string', default: '2000' },
    scale: { type: 'string', default: '4' },
    canvas: { type: 'string', default: '768' },
    pad: { type: 'string', default: 'replicate' },
  },
});
const COUNT = Number(args.count);
const SCALE = Number(args.scale);
const CANVAS = Number(args.canvas);
const SIDE = 48;

let labels: string[];
try {
  labels = readdirSync(args.data).filter((d) => !d.startsWith('.')).sort();
} catch {
  console.error(`error: FER2013 not found at ${args.data} (expected <label>/*.jpg folders)`);
  process.exit(1);
}

/** COUNT images, taken round-robin over the labels (sorted names) so every emotion is represented. */
function pickImages(): string[] {
  const lists = labels.map((l) => readdirSync(join(args.data, l)).filter((f) => f.endsWith('.jpg')).sort().map((f) => join(args.data, l, f)));
  const picked: string[] = [];
  for (let i = 0; picked.length < COUNT && lists.some((l) => i < l.length); i++) {
    for (const l of lists) if (i < l.length && picked.length < COUNT) picked.push(l[i]);
  }
  return picked;
}

/** The 48x48 face upscaled SCALE times, centred in a CANVAS square padded by edge replication or mid grey. */
async function onCanvas(path: string) {
  const size = SIDE * SCALE;
  const before = Math.floor((CANVAS - size) / 2);
  const after = CANVAS - size - before;
  const { data, info } = await sharp(path).resize(size, size, { kernel: 'cubic' })
    .extend({ top: before, bottom: after, left: before, right: after, ...(args.pad === 'grey' ? { background: '#808080' } : { extendWith: 'copy' as const }) })
    .removeAlpha().ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { image: { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height }, offset: before };
}

const stats = (values: number[]) => {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  const sorted = [...values].sort((a, b) => a - b);
  return { mean, std, median: sorted[Math.floor(sorted.length / 2)] };
};

const detector = await FaceDetector.load(ort, readFileSync('models/blazeface.onnx'), JSON.parse(readFileSync('models/blazeface.json', 'utf8')), { threads: 1 });
const images = pickImages();
const eyeY: number[] = [];
const midX: number[] = [];
const eyeDistance: number[] = [];
const roll: number[] = [];
const perLabel = new Map<string, { seen: number; found: number }>();
const started = performance.now();
for (const path of images) {
  const label = path.split('/').at(-2)!;
  const tally = perLabel.get(label) ?? { seen: 0, found: 0 };
  tally.seen++;
  perLabel.set(label, tally);
  const { image, offset } = await onCanvas(path);
  const faces = await detector.detect(image, { tiles: 'off' });
  // the face nearest the canvas centre (texture in a replicated border can fire too)
  const centre = CANVAS / 2;
  const distance = (f: DetectedFace) => Math.hypot(f.box.x + f.box.width / 2 - centre, f.box.y + f.box.height / 2 - centre);
  const face = faces.sort((a, b) => distance(a) - distance(b))[0];
  if (!face || distance(face) > (SIDE * SCALE) / 4) continue;
  tally.found++;
  const toFer = (v: number) => (v - offset) / SCALE / SIDE;     // canvas px -> fraction of the 48 px side
  const { rightEye, leftEye } = face.landmarks;
  eyeY.push(toFer((rightEye.y + leftEye.y) / 2));
  midX.push(toFer((rightEye.x + leftEye.x) / 2));
  eyeDistance.push(Math.hypot(leftEye.x - rightEye.x, leftEye.y - rightEye.y) / SCALE / SIDE);
  roll.push((Math.atan2(leftEye.y - rightEye.y, leftEye.x - rightEye.x) * 180) / Math.PI);
}

const found = eyeY.length;
const fmt = (s: { mean: number; std: number; median: number }, digits = 3) =>
  `mean ${s.mean.toFixed(digits)}  std ${s.std.toFixed(digits)}  median ${s.median.toFixed(digits)}`;
console.log(`FER2013 ${args.data}: ${images.length} images, x${SCALE} to ${SIDE * SCALE} px on a ${CANVAS} px ${args.pad}-padded canvas`);
console.log(`detected: ${found}/${images.length} = ${((100 * found) / images.length).toFixed(1)}%  (${((performance.now() - started) / images.length).toFixed(1)} ms/image)`);
for (const [label, t] of perLabel) console.log(`  ${label.padEnd(9)} ${t.found}/${t.seen}`);
if (found === 0) process.exit(1);
console.log('fractions of the 48 px side:');
console.log(`  eye-centre y          ${fmt(stats(eyeY))}`);
console.log(`  mid-eye x             ${fmt(stats(midX))}`);
console.log(`  inter-ocular distance ${fmt(stats(eyeDistance))}`);
console.log(`eye-line roll (degrees) ${fmt(stats(roll), 1)}`);
