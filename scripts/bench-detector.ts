/**
 * Detector candidates on the dev set (scripts/detector-devset.ts: FER2013 val faces on synthetic canvases, in memory)
 * and on the six sample photos: recall by face size, false positives per image, ms per image (wall and CPU), and the
 * read-out accuracy of detected faces (emotion of the aligned detected face vs the bare 48x48 crop and the label).
 * A benchmark: prints numbers, asserts nothing. Figures are FER2013 *validation* figures.
 *
 * Also the work per image (ONNX runs, input pixels in 256x256 units), which does not depend on the machine's load.
 *
 *   npm run bench:detector -- [--count 100] [--seed 1] [--candidates today,default,...] [--threads 1] [--json] [--show-false] [--show-missed]
 *
 * Every candidate sees the same canvases, interleaved image by image, so machine load hits them alike.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { alignFace } from '../src/align/index.js';
import { EmotionClassifier, lumaWeights, type EmotionModelSidecar } from '../src/classify/index.js';
import { FaceDetector, type DetectOptions } from '../src/detect/index.js';
import { loadDetectorModel, loadEmotionModel } from '../src/env/node.js';
import { decodeImage } from '../src/image/decode.js';
import { dominantEmotion } from '../src/labels.js';
import { samplePhotos } from '../src/samples.js';
import type { DetectedFace, GrayImage, RgbaImage } from '../src/types.js';
import { DEFAULT_FER_VAL, devSet, matchFaces, type DevImage } from './detector-devset.js';

/**
 * The other MediaPipe detectors, converted by training/convert/tfjs_to_onnx.py into runs/detectors/ (git-ignored; the
 * commands are in docs/detector.md): the 128 px front-camera model and the 192 px full-range one.
 */
const FRONT = 'runs/detectors/blazeface-front.onnx';
const FULL = 'runs/detectors/blazeface-full.onnx';

/**
 * Named candidates: a detector model (a bundled name or an .onnx path) and its options. Views are multiples of
 * the model's own input size, so `-same-px` variants give a smaller model the default's view sizes in input pixels
 * (512 and 768 px across a square photo: 4x and 6x of 128 px, 2.67x and 4x of 192 px).
 */
const CANDIDATES: Record<string, { model: string; options: DetectOptions }> = {
  today: { model: 'blazeface', options: { views: [] } },
  'today-off': { model: 'blazeface', options: { views: [], tiles: 'off' } },
  'today-min0.2': { model: 'blazeface', options: { views: [], minScore: 0.2 } },
  'today-tiles512': { model: 'blazeface', options: { views: [], tiles: 512 } },
  default: { model: 'blazeface', options: {} },
  'views2': { model: 'blazeface', options: { views: [2] } },
  'views2+3+tiles640': { model: 'blazeface', options: { views: [2, 3], tiles: 640 } },
  'views1.5+2.5': { model: 'blazeface', options: { views: [1.5, 2.5] } },
  'views2+3': { model: 'blazeface', options: { views: [2, 3] } },
  'views2+4': { model: 'blazeface', options: { views: [2, 4] } },
  'views2+3-tiles-off': { model: 'blazeface', options: { views: [2, 3], tiles: 'off' } },
  'no-second-look': { model: 'blazeface', options: { secondLook: false } },
  // issue 20: the default before (every view sees the whole photo) and other focus thresholds
  'focus-off': { model: 'blazeface', options: { focus: false } },
  'focus0.05': { model: 'blazeface', options: { focus: 0.05 } },
  'focus0.2': { model: 'blazeface', options: { focus: 0.2 } },
  'front-one-pass': { model: FRONT, options: { views: [], tiles: 'off' } },
  front: { model: FRONT, options: {} },
  'front-same-px': { model: FRONT, options: { views: [4, 6] } },
  'full-one-pass': { model: FULL, options: { views: [], tiles: 'off' } },
  full: { model: FULL, options: {} },
  'full-same-px': { model: FULL, options: { views: [8 / 3, 4] } },
  'full-tiles': { model: FULL, options: { views: [] } },
};

const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: '100' },
    seed: { type: 'string', default: '1' },
    data: { type: 'string', default: DEFAULT_FER_VAL },
    candidates: { type: 'string', default: 'today,default' },
    threads: { type: 'string', default: '1' },
    'no-samples': { type: 'boolean', default: false },
    'show-false': { type: 'boolean', default: false },
    'show-missed': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});

const BANDS = [[60, 100], [100, 150], [150, 200], [200, 250], [250, 301]] as const;
const SAMPLE_TRUTH = JSON.parse(readFileSync(join(import.meta.dirname, 'detector-sample-faces.json'), 'utf8')) as
  { photo: string; faces: { box: { x: number; y: number; width: number; height: number } }[] }[];

interface Tally {
  name: string;
  found: number[]; total: number[];
  falsePositives: number; images: number;
  wallMs: number[]; cpuMs: number;
  readout: { n: number; agreeBare: number; correct: number; bareCorrect: number };
  samples: { found: number; total: number; falsePositives: number; wallMs: number[]; runs: number; units: number };
  /** ONNX runs and input pixels (in 256 x 256 units) over the dev canvases: exact, whatever the load. */
  runs: number; units: number;
}

function fail(message: string): never {
  console.error(`error: ${message}`);
  process.exit(1);
}

const names = args.candidates.split(',').map((s) => s.trim()).filter(Boolean);
for (const n of names) if (!CANDIDATES[n]) fail(`unknown candidate ${n} (known: ${Object.keys(CANDIDATES).join(', ')})`);
const threads = Number(args.threads);
const detectors = await Promise.all(names.map(async (n) => {
  try {
    const files = loadDetectorModel(CANDIDATES[n].model);
    return await FaceDetector.load(ort, files.bytes, files.sidecar, { threads, ...CANDIDATES[n].options });
  } catch (err) {
    return fail(`candidate ${n}: ${(err as Error).message.split('\n')[0]} (converted models: docs/detector.md, "Candidates")`);
  }
}));
const emotion = loadEmotionModel();
const classifier = await EmotionClassifier.load(ort, emotion.bytes, emotion.sidecar as EmotionModelSidecar, { threads });
const geometry = classifier.sidecar.preprocess.faceCrop;
const luma = lumaWeights(classifier.sidecar);
const tallies: Tally[] = names.map((name) => ({
  name, found: BANDS.map(() => 0), total: BANDS.map(() => 0), falsePositives: 0, images: 0, wallMs: [], cpuMs: 0,
  readout: { n: 0, agreeBare: 0, correct: 0, bareCorrect: 0 }, samples: { found: 0, total: 0, falsePositives: 0, wallMs: [], runs: 0, units: 0 }, runs: 0, units: 0,
}));

async function timed(detector: FaceDetector, image: RgbaImage): Promise<{ faces: DetectedFace[]; wall: number; cpu: number; runs: number; units: number }> {
  detector.resetWork();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const faces = await detector.detect(image);
  const wall = performance.now() - t0;
  const c = process.cpuUsage(cpu0);
  return { faces, wall, cpu: (c.user + c.system) / 1000, runs: detector.work.runs, units: detector.work.inputPixels / 65536 };
}

async function scoreDevImage(dev: DevImage): Promise<void> {
  const bare = await classifier.classify(dev.faces.map((f) => f.crop));
  for (let c = 0; c < detectors.length; c++) {
    const t = tallies[c];
    const { faces, wall, cpu, runs, units } = await timed(detectors[c], dev.image);
    t.wallMs.push(wall); t.cpuMs += cpu; t.images++; t.runs += runs; t.units += units;
    const { matched, falsePositives } = matchFaces(dev.faces, faces);
    t.falsePositives += falsePositives.length;
    if (args['show-false']) {
      for (const f of falsePositives) {
        const near = dev.faces.map((tr) => ({ tr, d: Math.hypot(f.box.x + f.box.width / 2 - tr.box.x - tr.side / 2, f.box.y + f.box.height / 2 - tr.box.y - tr.side / 2) }))
          .sort((a, b) => a.d - b.d)[0];
        console.error(`false ${t.name} ${dev.name} ${dev.image.width}x${dev.image.height} ${dev.background} score ${f.score.toFixed(2)} side ${Math.max(f.box.width, f.box.height).toFixed(0)}`
          + (near ? ` nearest face ${near.tr.side} px ${near.tr.framing} at ${(near.d / near.tr.side).toFixed(2)} sides` : ''));
      }
    }
    if (args['show-missed']) {
      dev.faces.forEach((tr, i) => {
        if (matched[i]) return;
        const cx = tr.box.x + tr.side / 2;
        const cy = tr.box.y + tr.side / 2;
        const near = faces.map((f) => ({ f, d: Math.hypot(f.box.x + f.box.width / 2 - cx, f.box.y + f.box.height / 2 - cy) })).sort((a, b) => a.d - b.d)[0];
        console.error(`missed ${t.name} ${dev.name} ${dev.image.width}x${dev.image.height} ${dev.background} face ${tr.side} px ${tr.framing} at ${cx.toFixed(0)},${cy.toFixed(0)}`
          + (near ? `; nearest detection side ${Math.max(near.f.box.width, near.f.box.height).toFixed(0)} score ${near.f.score.toFixed(2)} at ${(near.d / tr.side).toFixed(2)} sides` : ''));
      });
    }
    const crops: GrayImage[] = [];
    const which: number[] = [];
    dev.faces.forEach((truth, i) => {
      const band = BANDS.findIndex(([lo, hi]) => truth.side >= lo && truth.side < hi);
      t.total[band]++;
      if (!matched[i]) return;
      t.found[band]++;
      crops.push(alignFace(dev.image, matched[i]!.landmarks, geometry, { lumaWeights: luma }));
      which.push(i);
    });
    const read = await classifier.classify(crops);
    read.forEach((p, k) => {
      const i = which[k];
      const mine = dominantEmotion(p);
      const fromBare = dominantEmotion(bare[i]);
      t.readout.n++;
      if (mine === fromBare) t.readout.agreeBare++;
      if (mine === dev.faces[i].label) t.readout.correct++;
      if (fromBare === dev.faces[i].label) t.readout.bareCorrect++;
    });
  }
}

const started = performance.now();
let images = 0;
let faceCount = 0;
try {
  for await (const dev of devSet({ data: args.data, count: Number(args.count), seed: Number(args.seed) })) {
    await scoreDevImage(dev);
    images++; faceCount += dev.faces.length;
    if (!args.json && images % 10 === 0) console.error(`${images} images, ${faceCount} faces, ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
} catch (err) {
  fail((err as Error).message);
}

if (!args['no-samples']) {
  for (const truth of SAMPLE_TRUTH) {
    const image = await decodeImage(samplePhotos().find((p) => p.endsWith(truth.photo))!);
    for (let c = 0; c < detectors.length; c++) {
      const { faces, wall, runs, units } = await timed(detectors[c], image);
      const { matched, falsePositives } = matchFaces(truth.faces.map((f) => ({ box: f.box, side: Math.max(f.box.width, f.box.height) })), faces);
      if (args['show-false']) for (const f of falsePositives) console.error(`false ${tallies[c].name} ${truth.photo} score ${f.score.toFixed(2)} box ${JSON.stringify(f.box)}`);
      const s = tallies[c].samples;
      s.total += truth.faces.length; s.found += matched.filter(Boolean).length; s.falsePositives += falsePositives.length; s.wallMs.push(wall); s.runs += runs; s.units += units;
    }
  }
}

const median = (v: number[]) => { const s = [...v].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const rows = tallies.map((t) => {
  const inTarget = t.found.slice(1).reduce((a, b) => a + b, 0) / t.total.slice(1).reduce((a, b) => a + b, 0);
  return {
    candidate: t.name, options: CANDIDATES[t.name].options,
    recallByBand: Object.fromEntries(BANDS.map(([lo, hi], i) => [`${lo}-${hi === 301 ? 300 : hi}`, t.found[i] / t.total[i]])),
    facesByBand: Object.fromEntries(BANDS.map(([lo, hi], i) => [`${lo}-${hi === 301 ? 300 : hi}`, t.total[i]])),
    recall100to300: inTarget,
    recallAll: t.found.reduce((a, b) => a + b, 0) / t.total.reduce((a, b) => a + b, 0),
    falsePositivesPerImage: t.falsePositives / t.images,
    msPerImage: { mean: mean(t.wallMs), median: median(t.wallMs), cpuMean: t.cpuMs / t.images },
    work: { runsPerImage: t.runs / t.images, inputUnitsPerImage: t.units / t.images },
    readout: {
      faces: t.readout.n,
      agreementWithBareCrop: t.readout.agreeBare / t.readout.n,
      accuracy: t.readout.correct / t.readout.n,
      bareCropAccuracy: t.readout.bareCorrect / t.readout.n,
    },
    samples: {
      found: t.samples.found, total: t.samples.total, falsePositives: t.samples.falsePositives, msPerPhoto: median(t.samples.wallMs),
      runsPerPhoto: t.samples.runs / Math.max(1, t.samples.wallMs.length), inputUnitsPerPhoto: t.samples.units / Math.max(1, t.samples.wallMs.length),
    },
  };
});

if (args.json) {
  console.log(JSON.stringify({ images, faces: faceCount, seed: Number(args.seed), threads, rows }, null, 2));
} else {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  console.log(`dev set: ${images} canvases, ${faceCount} FER2013 val faces (seed ${args.seed}); threads ${threads}; load ${(await import('node:os')).loadavg()[0].toFixed(2)}`);
  console.log(`faces per band: ${Object.entries(rows[0].facesByBand).map(([k, v]) => `${k}: ${v}`).join(', ')}`);
  console.log(['candidate', ...Object.keys(rows[0].recallByBand), '100-300', 'FP/img', 'ms/img (mean, median, cpu)', 'runs, 256² inputs /img', 'read-out agree/acc (bare acc)', 'samples'].join(' | '));
  for (const r of rows) {
    console.log([
      r.candidate, ...Object.values(r.recallByBand).map(pct), pct(r.recall100to300), r.falsePositivesPerImage.toFixed(3),
      `${r.msPerImage.mean.toFixed(0)}, ${r.msPerImage.median.toFixed(0)}, ${r.msPerImage.cpuMean.toFixed(0)}`,
      `${r.work.runsPerImage.toFixed(2)}, ${r.work.inputUnitsPerImage.toFixed(2)}`,
      `${r.readout.agreementWithBareCrop.toFixed(3)}/${r.readout.accuracy.toFixed(3)} (${r.readout.bareCropAccuracy.toFixed(3)})`,
      `${r.samples.found}/${r.samples.total}, ${r.samples.falsePositives} FP, ${r.samples.msPerPhoto.toFixed(0)} ms, ${r.samples.runsPerPhoto.toFixed(1)} runs, ${r.samples.inputUnitsPerPhoto.toFixed(2)} 256² inputs/photo`,
    ].join(' | '));
  }
}
await Promise.all([...detectors.map((d) => d.dispose()), classifier.dispose()]);
