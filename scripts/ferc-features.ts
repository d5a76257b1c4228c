/**
 * FERC's features for FER2013, cached for training/ferc.py: for every 48x48 crop of a split, the 68 points
 * (face-landmarks68 on the whole crop — FER2013 crops are already the face box), the 24-value expressional vector
 * (src/landmarks/ev.ts, the same code the CLI runs) and emolens-fer's probabilities on the crop as it is and with
 * the background (outside the jaw + brows outline) filled with the face's mean gray, and with black.
 *
 *   node --import tsx scripts/ferc-features.ts [--data ../shared/datasets/fer2013] [--splits train,val] [--out runs/ferc] [--threads 1]
 *
 * Writes <out>/<split>.f32 (little-endian float32 rows) and <out>/<split>.json (columns, labels, files, timings). A
 * split whose .json exists is skipped, so an interrupted run resumes split by split. Prints wall and CPU time.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadLandmarkModel } from '../src/env/node.js';
import { listFolderDataset, readGrayFace, type Split } from '../src/image/datasets.js';
import { EMOTIONS } from '../src/labels.js';
import { EV_FEATURES, expressionalVector, faceOutline, LandmarkDetector, maskOutside } from '../src/landmarks/index.js';
import { createAnalyzer } from '../src/node.js';
import type { GrayImage, RgbaImage } from '../src/types.js';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: '../shared/datasets/fer2013' },
    splits: { type: 'string', default: 'train,val' },
    out: { type: 'string', default: 'runs/ferc' },
    threads: { type: 'string', default: '1' },
    batch: { type: 'string', default: '64' },
  },
});
if (!existsSync(args.data!)) {
  process.stderr.write(`error: FER2013 not found at ${args.data} (pass --data DIR with train/ and val/ label folders)\n`);
  process.exit(2);
}
const threads = Number(args.threads);
const batchSize = Number(args.batch);
const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const files = loadLandmarkModel();
const landmarks = await LandmarkDetector.load(ort, files.bytes, files.sidecar, { threads, batchSize });
const analyzer = await createAnalyzer({ threads, batchSize });
mkdirSync(args.out!, { recursive: true });

const COLUMNS = [
  'label',
  ...EV_FEATURES.map((f) => `ev.${f.name}`),
  ...EMOTIONS.map((e) => `cnn.${e}`),
  ...EMOTIONS.map((e) => `cnnMaskMean.${e}`),
  ...EMOTIONS.map((e) => `cnnMaskBlack.${e}`),
  ...Array.from({ length: 68 }, (_, i) => [`p${i}.x`, `p${i}.y`]).flat(),
];

const toRgba = (g: GrayImage): RgbaImage => {
  const data = new Uint8Array(g.width * g.height * 4);
  for (let i = 0; i < g.width * g.height; i++) { data.set([g.data[i], g.data[i], g.data[i]], i * 4); data[i * 4 + 3] = 255; }
  return { data, width: g.width, height: g.height };
};

for (const split of args.splits!.split(',') as Split[]) {
  const metaPath = join(args.out!, `${split}.json`);
  if (existsSync(metaPath)) { console.log(`${split}: ${metaPath} exists, skipped`); continue; }
  const { files: items } = await listFolderDataset(args.data!, split);
  const rows = new Float32Array(items.length * COLUMNS.length);
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let start = 0; start < items.length; start += batchSize) {
    const batch = items.slice(start, start + batchSize);
    const grays = await Promise.all(batch.map((it) => readGrayFace(it.file)));
    const points = await landmarks.detectCrops(grays.map(toRgba));
    const outlines = points.map(faceOutline);
    const plain = await analyzer.classifyCrops(grays);
    const masked = await analyzer.classifyCrops(grays.map((g, i) => maskOutside(g, outlines[i])));
    const black = await analyzer.classifyCrops(grays.map((g, i) => maskOutside(g, outlines[i], 0)));
    batch.forEach((it, i) => {
      const row = [EMOTIONS.indexOf(it.label), ...expressionalVector(points[i]),
        ...EMOTIONS.map((e) => plain[i][e]), ...EMOTIONS.map((e) => masked[i][e]), ...EMOTIONS.map((e) => black[i][e]),
        ...points[i].flatMap((p) => [p.x, p.y])];
      rows.set(row, (start + i) * COLUMNS.length);
    });
    if ((start / batchSize) % 50 === 0) process.stderr.write(`${split}: ${start + batch.length}/${items.length}\n`);
  }
  const wallS = (performance.now() - wall0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  writeFileSync(join(args.out!, `${split}.f32`), Buffer.from(rows.buffer));
  writeFileSync(metaPath, `${JSON.stringify({ split, n: items.length, columns: COLUMNS, labels: EMOTIONS, wallSeconds: wallS, cpuSeconds: cpuS, threads,
    machine: '2-core CPU shared with other jobs', files: items.map((it) => it.file) }, null, 1)}\n`);
  console.log(`${split}: ${items.length} crops in ${wallS.toFixed(0)} s wall, ${cpuS.toFixed(0)} s CPU (${threads} thread(s), shared machine)`);
}
await landmarks.dispose();
await analyzer.dispose();
