/**
 * detect/: BlazeFace on ONNX Runtime. Runs models/blazeface.onnx with onnxruntime-node on the sample
 * photos (1920 px group photos). True face counts, checked by eye: sample1 3, sample2 3 (one looking down, one
 * in half profile), sample3 3, sample4 4, sample5 5, sample6 4.
 *
 *   node --import tsx --test test/detect.test.ts
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { FaceDetector, generateAnchors, iou, letterboxInto, nonMaxSuppression, parseDetectorSidecar, planPasses, plausibleLandmarks } from '../src/detect/index.js';
import { InvalidImageError, InvalidModelError, UsageError } from '../src/errors.js';
import type { DetectedFace, RgbaImage } from '../src/types.js';

const MODEL = 'models/blazeface.onnx';
const SIDECAR = 'models/blazeface.json';
const sample = (i: number) => `assets/demo/sample${i}.jpg`;
const TRUE_COUNTS: Record<number, number> = { 1: 3, 2: 3, 3: 3, 4: 4, 5: 5, 6: 4 };

async function rgba(input: string | Buffer | sharp.Sharp): Promise<RgbaImage> {
  const pipeline = typeof input === 'string' || Buffer.isBuffer(input) ? sharp(input) : input;
  const { data, info } = await pipeline.ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

/** Eye line angle in degrees, image coordinates (y down), subject's right eye to left eye. */
const eyeAngle = (f: DetectedFace) =>
  (Math.atan2(f.landmarks.leftEye.y - f.landmarks.rightEye.y, f.landmarks.leftEye.x - f.landmarks.rightEye.x) * 180) / Math.PI;

const inside = (p: { x: number; y: number }, f: DetectedFace) =>
  p.x >= f.box.x && p.x <= f.box.x + f.box.width && p.y >= f.box.y && p.y <= f.box.y + f.box.height;

let detector: FaceDetector;
const sidecar = JSON.parse(readFileSync(SIDECAR, 'utf8'));

before(async () => {
  detector = await FaceDetector.load(ort, readFileSync(MODEL), sidecar);
});

describe('model contract', () => {
  it('sidecar matches the ONNX file and describes 896 anchors with 6 keypoints', () => {
    assert.equal(createHash('sha256').update(readFileSync(MODEL)).digest('hex'), sidecar.sha256);
    const parsed = parseDetectorSidecar(sidecar);
    assert.deepEqual(parsed.keypoints, ['rightEye', 'leftEye', 'nose', 'mouth', 'rightEar', 'leftEar']);
    const anchors = generateAnchors(parsed.anchors);
    assert.equal(anchors.length / 2, 896);
    assert.deepEqual(Array.from(anchors.slice(0, 6)), [8, 8, 8, 8, 24, 8]);          // 16 px grid, 2 per cell
    assert.deepEqual(Array.from(anchors.slice(1024, 1026)), [16, 16]);              // then the 32 px grid
  });

  it('runs any input size in multiples of 32: more rows, on the same grids, in the same order', async () => {
    const wide = generateAnchors({ ...parseDetectorSidecar(sidecar).anchors, inputWidth: 512, inputHeight: 256 });
    assert.equal(wide.length / 2, 32 * 16 * 2 + 16 * 8 * 6);
    assert.deepEqual(Array.from(wide.slice(2 * 64, 2 * 64 + 2)), [8, 24]);        // the 16 px grid's second row (64 anchors on)
    const session = await ort.InferenceSession.create(readFileSync(MODEL));
    const out = await session.run({ input: new ort.Tensor('float32', new Float32Array(3 * 256 * 512), [1, 3, 256, 512]) });
    assert.deepEqual(out.regressors.dims, [1, wide.length / 2, 16]);
    assert.deepEqual(out.classificators.dims, [1, wide.length / 2, 1]);
  });

  it('rejects a sidecar for another task', () => {
    assert.throws(() => parseDetectorSidecar({ ...sidecar, task: 'emotion' }), InvalidModelError);
  });

  it('ONNX Runtime rejecting the bytes is an InvalidModelError, as for the emotion and landmark models', async () => {
    // Structurally protobuf with a "graph" field, but not a model ORT can build.
    const bytes = Uint8Array.from([0x08, 0x07, 0x3a, 0x02, 0x0a, 0x00]);
    await assert.rejects(FaceDetector.load(ort, bytes, sidecar), (err: Error) => err instanceof InvalidModelError && /^blazeface: not an ONNX model ONNX Runtime can load \(/.test(err.message) && !err.message.includes('\n'));
  });

  it('lays out a one-grid model too (MediaPipe full range: 192 px, stride 4, one anchor per cell)', () => {
    const anchors = generateAnchors({ inputSize: 192, strides: [4], anchorsPerCell: [1], offset: 0.5 });
    assert.equal(anchors.length / 2, 48 * 48);
    assert.deepEqual(Array.from(anchors.slice(0, 4)), [2, 2, 6, 2]);
    assert.deepEqual(Array.from(anchors.slice(2 * 48, 2 * 48 + 2)), [2, 6]);       // second row
    assert.equal(generateAnchors({ inputSize: 192, inputWidth: 384, strides: [4], anchorsPerCell: [1], offset: 0.5 }).length / 2, 96 * 48);
  });

  it('rounds views up to the sidecar\'s sizeMultiple (default: the coarsest stride) and checks it', async () => {
    const seen: number[][] = [];
    const spy = { ...ort, Tensor: class extends ort.Tensor { constructor(type: 'float32', data: Float32Array, dims: readonly number[]) { super(type, data, dims); seen.push([...dims]); } } };
    const image: RgbaImage = { data: new Uint8Array(1000 * 600 * 4), width: 1000, height: 600 };
    const viewSizes = async (s: unknown) => {
      seen.length = 0;
      await (await FaceDetector.load(spy, readFileSync(MODEL), s)).detect(image, { views: [3] });
      return seen.filter((d) => d[2] !== 256).map((d) => d.slice(2));
    };
    // the 3x view sees the photo at 0.768: 768 x 460.8 px, rounded up to 32 px (the 32 px grid) or to 64
    assert.deepEqual(await viewSizes(sidecar), [[480, 768]]);
    assert.deepEqual(await viewSizes({ ...sidecar, input: { ...sidecar.input, sizeMultiple: 64 } }), [[512, 768]]);
    assert.throws(() => parseDetectorSidecar({ ...sidecar, input: { ...sidecar.input, sizeMultiple: 48 } }), /sizeMultiple/);
  });
});

describe('helpers', () => {
  it('letterbox keeps the aspect ratio and pads symmetrically', () => {
    const image: RgbaImage = { data: new Uint8Array(200 * 100 * 4).fill(255), width: 200, height: 100 };
    const out = new Float32Array(3 * 64 * 64);
    const p = letterboxInto(image, { x: 0, y: 0, width: 200, height: 100 }, 64, sidecar.preprocess, out, 0);
    assert.equal(p.scaleX, 64 / 200);
    assert.equal(p.padX, 0);
    assert.equal(p.padY, 16);
    assert.equal(out[0], -1);                          // padding: black, normalised
    assert.ok(Math.abs(out[32 * 64 + 32] - 1) < 1e-6); // picture: white, normalised
  });

  it('plans one whole-photo pass plus a bounded number of tiles', () => {
    const plan = { tileSize: 640, overlap: 0.25, maxTiles: 48 };
    assert.equal(planPasses(1920, 1280, 256, plan).length, 13);            // whole photo + 4 x 3 tiles of 640 px
    assert.equal(planPasses(1920, 1280, 256, null).length, 1);
    const huge = planPasses(12000, 9000, 256, plan);
    assert.ok(huge.length <= 49 && huge.length > 1, `${huge.length} passes`);
    for (const p of huge) assert.ok(p.region.x >= 0 && p.region.x + p.region.width <= 12000 && p.region.y + p.region.height <= 9000);
  });

  it('NMS keeps the best of overlapping boxes and a box nested in a better one', () => {
    const box = (x: number, y: number, s: number) => ({ x, y, width: s, height: s });
    const kept = nonMaxSuppression([
      { box: box(0, 0, 100), score: 0.9 },
      { box: box(10, 10, 100), score: 0.8 },   // IoU 0.68 with the first
      { box: box(20, 20, 40), score: 0.7 },    // nested in the first
      { box: box(300, 0, 100), score: 0.6 },
    ], 0.3, 10);
    assert.deepEqual(kept.map((k) => k.score), [0.9, 0.6]);
    assert.equal(iou(box(0, 0, 10), box(20, 20, 10)), 0);
    // the detector's last merge: a box with 30 % or more of it inside a better one goes too (IoU here 0.2)
    const beside = [{ box: box(0, 0, 100), score: 0.9 }, { box: box(60, 0, 100), score: 0.6 }, { box: box(200, 0, 100), score: 0.5 }];
    assert.deepEqual(nonMaxSuppression(beside, 0.3, 10).map((k) => k.score), [0.9, 0.6, 0.5]);
    assert.deepEqual(nonMaxSuppression(beside, 0.3, 10, 0.3).map((k) => k.score), [0.9, 0.5]);
  });

  it('tells a face-like keypoint layout (at any roll) from a bunched one', () => {
    // a frontal face's keypoints in a 100 px box (as BlazeFace places them), then turned about the box centre
    const at = (deg: number, points: Record<string, [number, number]>) => {
      const a = (deg * Math.PI) / 180;
      const turn = ([x, y]: [number, number]) => ({ x: 50 + (x - 50) * Math.cos(a) - (y - 50) * Math.sin(a), y: 50 + (x - 50) * Math.sin(a) + (y - 50) * Math.cos(a) });
      return { box: { x: 0, y: 0, width: 100, height: 100 }, score: 0.9, landmarks: Object.fromEntries(Object.entries(points).map(([k, p]) => [k, turn(p)])) } as unknown as DetectedFace;
    };
    const face = { rightEye: [30, 30], leftEye: [70, 30], nose: [50, 55], mouth: [50, 75], rightEar: [5, 40], leftEar: [95, 40] } as Record<string, [number, number]>;
    for (const deg of [0, 30, -30, 90, 180]) assert.ok(plausibleLandmarks(at(deg, face)), `roll ${deg}`);
    assert.ok(!plausibleLandmarks(at(0, { ...face, leftEye: [38, 31] })), 'eyes 8 px apart');
    assert.ok(!plausibleLandmarks(at(0, { ...face, rightEar: [40, 40], leftEar: [60, 40] })), 'ears 20 px apart');
    assert.ok(!plausibleLandmarks(at(0, { ...face, mouth: [50, 35] })), 'mouth level with the eyes');
    assert.ok(!plausibleLandmarks(at(0, { ...face, mouth: [50, 5] })), 'mouth above the eyes');
  });
});

describe('FaceDetector on the sample photos', () => {
  for (const [i, count] of Object.entries(TRUE_COUNTS)) {
    it(`sample${i}: finds all ${count} faces, in the image, eyes above the mouth`, async () => {
      const image = await rgba(sample(Number(i)));
      const faces = await detector.detect(image);
      assert.equal(faces.length, count);
      for (const f of faces) {
        assert.ok(f.score >= 0.5 && f.score <= 1, `score ${f.score}`);
        assert.ok(f.box.x >= 0 && f.box.y >= 0 && f.box.x + f.box.width <= image.width && f.box.y + f.box.height <= image.height);
        assert.ok(f.box.width > 100, `face boxes in these photos are 140-250 px, got ${f.box.width}`);
        const { rightEye, leftEye, mouth, nose } = f.landmarks;
        assert.ok(inside(rightEye, f) && inside(leftEye, f) && inside(mouth, f) && inside(nose, f));
        assert.ok(rightEye.y < mouth.y && leftEye.y < mouth.y);
        // the subject's right eye is on the image's left (in a half profile both eyes line up: sample2's middle face)
        assert.ok(rightEye.x < leftEye.x || Math.abs(leftEye.x - rightEye.x) < 0.05 * f.box.width, `eyes at x ${rightEye.x}, ${leftEye.x}`);
      }
    });
  }

  it('finds the faces of a photo rotated by 25 degrees, with the eye line turned by 25 degrees', async () => {
    const upright = await detector.detect(await rgba(sample(3)));
    const rotated = await detector.detect(await rgba(sharp(sample(3)).rotate(25, { background: '#000' })));
    assert.equal(rotated.length, 3);
    const turns = rotated.map(eyeAngle).sort((a, b) => a - b).map((a, k) => a - upright.map(eyeAngle).sort((x, y) => x - y)[k]);
    for (const turn of turns) assert.ok(Math.abs(turn - 25) < 10, `eye line turned by ${turn.toFixed(1)} degrees`);
  });

  it('finds small faces in a large photo with its larger views, which one whole-photo pass misses', async () => {
    // sample6 shrunk to 300 px wide (faces ~37 px) in the middle of a grey 1920x1280 photo
    const small = await sharp(sample(6)).resize(300).toBuffer();
    const canvas = sharp({ create: { width: 1920, height: 1280, channels: 4, background: '#808080' } })
      .composite([{ input: small, left: 750, top: 490 }]);
    const image = await rgba(sharp(await canvas.png().toBuffer()));
    const wholeOnly = await detector.detect(image, { tiles: 'off', views: [] });
    assert.ok(wholeOnly.length < 4, `whole-photo pass found ${wholeOnly.length}`);
    // views (default) and tiles (the 0.4 zoom of the x3 view, in 256 px pieces) confirm these faces from close up
    for (const [options, lowest] of [[{}, 0.6], [{ views: [], tiles: 'auto' as const }, 0.8]] as const) {
      const faces = await detector.detect(image, options);
      assert.equal(faces.length, 4, JSON.stringify(options));
      for (const f of faces) {
        assert.ok(f.box.width > 30 && f.box.width < 50, `face ${f.box.width} px`);   // true faces ~24-39 px; boxes run larger
        assert.ok(f.score > lowest, `score ${f.score} with ${JSON.stringify(options)}`);
        assert.ok(f.box.x > 750 && f.box.x + f.box.width < 750 + 300);
      }
    }
  });

  it('focus: the x3 view of a 1280 px photo looks only around what coarser passes saw, and finds the same faces with less work', async () => {
    for (const i of [1, 2, 5]) {
      const image = await rgba(sharp(sample(i)).resize(1280));
      detector.resetWork();
      const whole = await detector.detect(image, { focus: false });
      const wholeWork = { ...detector.work };
      detector.resetWork();
      const focused = await detector.detect(image);
      assert.equal(focused.length, whole.length, `sample${i}`);
      for (const f of whole) assert.ok(focused.some((g) => iou(f.box, g.box) > 0.5), `sample${i}: face at ${JSON.stringify(f.box)} kept`);
      assert.ok(detector.work.inputPixels < wholeWork.inputPixels, `sample${i}: ${detector.work.inputPixels} vs ${wholeWork.inputPixels} input px`);
    }
  });

  it('follow() finds each face again close up around its box (moved a little), and undefined where there is none', async () => {
    const image = await rgba(sharp(sample(1)));
    const faces = await detector.detect(image);
    const moved = faces.map((f) => ({ ...f.box, x: f.box.x + 0.15 * f.box.width, y: f.box.y - 0.1 * f.box.height }));
    const empty = { x: 0, y: 0, width: 60, height: 60 };
    detector.resetWork();
    const followed = await detector.follow(image, [...moved, empty]);
    assert.equal(detector.work.inputs, faces.length + 1);
    assert.equal(detector.work.inputPixels, (faces.length + 1) * 160 * 160);
    faces.forEach((f, k) => assert.ok(followed[k] && iou(followed[k]!.box, f.box) > 0.6, `face ${k}: ${JSON.stringify(followed[k]?.box)} vs ${JSON.stringify(f.box)}`));
    assert.equal(followed[faces.length], undefined);
  });

  it('gives the same faces whatever the batch size', async () => {
    const image = await rgba(sharp(sample(1)).resize(1200));
    const one = await detector.detect(image, { tiles: 320, batchSize: 1 });
    const many = await detector.detect(image, { tiles: 320, batchSize: 16 });
    assert.ok(one.length >= 3);
    assert.equal(one.length, many.length);
    one.forEach((f, k) => assert.ok(Math.abs(f.score - many[k].score) < 1e-4 && Math.abs(f.box.x - many[k].box.x) < 0.5));
  });

  it('finds nothing in a blank image', async () => {
    for (const value of [0, 128, 255]) {
      const image: RgbaImage = { data: new Uint8Array(1024 * 768 * 4).fill(value), width: 1024, height: 768 };
      assert.deepEqual(await detector.detect(image), []);
    }
  });

  it('rejects malformed images and options with typed errors', async () => {
    await assert.rejects(detector.detect({ data: new Uint8Array(10), width: 4, height: 4 }), InvalidImageError);
    const image: RgbaImage = { data: new Uint8Array(64 * 64 * 4), width: 64, height: 64 };
    await assert.rejects(detector.detect(image, { minScore: 2 }), UsageError);
    await assert.rejects(detector.detect(image, { tiles: 10 }), UsageError);
    await assert.rejects(detector.detect(image, { views: [0.5] }), UsageError);
    await assert.rejects(detector.detect(image, { secondLook: 'yes' as unknown as boolean }), UsageError);
  });
});
