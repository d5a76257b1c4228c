import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { createAnalyzerCore, type Analyzer, type DetectorSidecar } from '../src/analyzer.js';
import { loadDetectorModel, loadEmotionModel, loadNodeRuntime } from '../src/env/node.js';
import { analyze, createAnalyzer, EMOTIONS, type NodeAnalyzer } from '../src/index.js';
import { decodeImage } from '../src/image/decode.js';
import { resizeGrayBilinear } from '../src/image/gray-resize.js';
import { SAMPLE_PHOTOS, testEmotionModel } from './helpers/fixtures.js';

const model = testEmotionModel();
const sum = (p: Record<string, number>) => EMOTIONS.reduce((s, e) => s + p[e], 0);

describe(`analyze on the sample photos (${model.real ? 'trained emolens-fer' : 'generated test model: emolens-fer not trained yet'})`, () => {
  let analyzer: NodeAnalyzer;
  before(async () => { analyzer = await createAnalyzer({ model: model.path }); });
  after(async () => { await analyzer.dispose(); });

  it('finds the faces in every sample photo, with probabilities that sum to 1', async () => {
    let total = 0;
    for (const photo of SAMPLE_PHOTOS) {
      const result = await analyzer.analyze(photo);
      assert.ok(result.faces.length >= 3, `${photo}: ${result.faces.length} faces`);
      total += result.faces.length;
      for (const face of result.faces) {
        assert.ok(Math.abs(sum(face.emotions) - 1) < 1e-4, `probabilities sum to ${sum(face.emotions)}`);
        for (const e of EMOTIONS) assert.ok(face.emotions[e] >= 0 && face.emotions[e] <= 1);
        assert.equal(face.dominant, EMOTIONS.reduce((best, e) => (face.emotions[e] > face.emotions[best] ? e : best)));
        const { box, landmarks } = face;
        assert.ok(box.x >= 0 && box.y >= 0 && box.x + box.width <= result.width + 1e-6 && box.y + box.height <= result.height + 1e-6, 'box inside the image');
        assert.ok(box.width > 30 && box.width < 600, `plausible face size ${box.width}`);
        assert.ok(face.score >= 0.5 && face.score <= 1);
        // Eyes inside the box, the subject's right eye on the image's left.
        for (const eye of [landmarks.rightEye, landmarks.leftEye]) {
          assert.ok(eye.x > box.x && eye.x < box.x + box.width && eye.y > box.y && eye.y < box.y + box.height, 'eye inside its box');
        }
        // (in a half profile both eyes line up: sample2's middle face)
        assert.ok(landmarks.rightEye.x < landmarks.leftEye.x || Math.abs(landmarks.leftEye.x - landmarks.rightEye.x) < 0.05 * box.width);
      }
    }
    assert.ok(total >= 20, `${total} faces in the 6 photos`);
  });

  it('accepts a path, a buffer and decoded RGBA alike', async () => {
    const fromPath = await analyzer.analyze(SAMPLE_PHOTOS[2]);
    const fromBuffer = await analyzer.analyze(readFileSync(SAMPLE_PHOTOS[2]));
    const fromPixels = await analyzer.analyze(await decodeImage(SAMPLE_PHOTOS[2]));
    assert.deepEqual(fromBuffer, fromPath);
    assert.deepEqual(fromPixels, fromPath);
  });

  it('finds the same faces in an EXIF-rotated copy, at rotated positions', async () => {
    const upright = await analyzer.analyze(SAMPLE_PHOTOS[3]);
    // Pixels stored rotated 90° counter-clockwise, EXIF 6 says "rotate clockwise to view": same upright photo.
    const stored = await sharp(SAMPLE_PHOTOS[3]).rotate(-90).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    const rotated = await analyzer.analyze(stored);
    assert.deepEqual([rotated.width, rotated.height], [upright.width, upright.height]);
    assert.equal(rotated.faces.length, upright.faces.length);
    rotated.faces.forEach((f, i) => assert.ok(Math.abs(f.box.x - upright.faces[i].box.x) < 8 && Math.abs(f.box.y - upright.faces[i].box.y) < 8));
  });

  it('maxFaces and minFaceScore narrow the result', async () => {
    const all = await analyzer.analyze(SAMPLE_PHOTOS[4]);
    const two = await analyzer.analyze(SAMPLE_PHOTOS[4], { maxFaces: 2 });
    assert.equal(two.faces.length, 2);
    const best = [...all.faces].sort((a, b) => b.score - a.score).slice(0, 2).map((f) => f.score).sort();
    assert.deepEqual(two.faces.map((f) => f.score).sort(), best);
    const strict = await analyzer.analyze(SAMPLE_PHOTOS[4], { minFaceScore: 0.99 });
    assert.ok(strict.faces.every((f) => f.score >= 0.99));
    assert.ok(strict.faces.length < all.faces.length);
  });

  it('aligned crops of detected faces are what classifyFace sees', async () => {
    const image = await decodeImage(SAMPLE_PHOTOS[5]);
    const result = await analyzer.analyze(image);
    const crops = result.faces.map((face) => analyzer.alignFace(image, face));
    assert.ok(crops.every((c) => c.width === 48 && c.height === 48));
    const again = await analyzer.classifyCrops(crops);
    again.forEach((p, i) => EMOTIONS.forEach((e) => assert.ok(Math.abs(p[e] - result.faces[i].emotions[e]) < 1e-6)));
    const single = await analyzer.classifyFace(crops[0]);
    assert.ok(Math.abs(sum(single) - 1) < 1e-4);
    const png = await sharp(Buffer.from(crops[0].data), { raw: { width: 48, height: 48, channels: 1 } }).png().toBuffer();
    const fromPng = await analyzer.classifyFace(png);
    EMOTIONS.forEach((e) => assert.ok(Math.abs(fromPng[e] - single[e]) < 1e-3));
    // A crop of another size is resized with the same PIL arithmetic the data readers use.
    const big = resizeGrayBilinear(crops[0], 80, 80);
    assert.deepEqual(await analyzer.classifyFace(big), await analyzer.classifyFace(resizeGrayBilinear(big, 48, 48)));
  });

  it('decode + detect + classifyFaces on the Node analyzer equal analyze()', async () => {
    const image = await analyzer.decode(SAMPLE_PHOTOS[0]);
    const whole = await analyzer.analyze(SAMPLE_PHOTOS[0]);
    const faces = await analyzer.detect(image);
    assert.deepEqual(faces, whole.faces.map(({ box, score, landmarks }) => ({ box, score, landmarks })));
    assert.deepEqual(await analyzer.classifyFaces(image, faces), whole.faces.map((f) => f.emotions));
  });

  it('an image with no face gives an empty list', async () => {
    const blank = { data: new Uint8Array(320 * 240 * 4).fill(128), width: 320, height: 240 };
    const result = await analyzer.analyze(blank);
    assert.deepEqual(result, { width: 320, height: 240, faces: [] });
  });
});

describe('the core analyzer in two steps: detect, then classify some faces (the web live view)', () => {
  let core: Analyzer;
  before(async () => {
    const emotion = loadEmotionModel(model.path);
    const detector = loadDetectorModel<DetectorSidecar>();
    core = await createAnalyzerCore({ ort: await loadNodeRuntime(), detector, emotion });
  });
  after(async () => { await core.dispose(); });

  it('detect() + classifyFaces() give exactly what analyze() gives', async () => {
    for (const photo of [SAMPLE_PHOTOS[0], SAMPLE_PHOTOS[5]]) {
      const image = await decodeImage(photo);
      const whole = await core.analyze(image);
      const faces = await core.detect(image);
      assert.deepEqual(faces, whole.faces.map(({ box, score, landmarks }) => ({ box, score, landmarks })));
      const emotions = await core.classifyFaces(image, faces);
      assert.deepEqual(emotions, whole.faces.map((f) => f.emotions));
    }
  });

  it('a subset of the faces gets the same probabilities as in the full batch; none gives none', async () => {
    const image = await decodeImage(SAMPLE_PHOTOS[4]);
    const whole = await core.analyze(image);
    assert.ok(whole.faces.length >= 3);
    const picked = [whole.faces.length - 1, 0];
    const emotions = await core.classifyFaces(image, picked.map((i) => whole.faces[i]));
    picked.forEach((i, k) => EMOTIONS.forEach((e) => assert.ok(Math.abs(emotions[k][e] - whole.faces[i].emotions[e]) < 1e-5, `face ${i} ${e}`)));
    assert.deepEqual(await core.classifyFaces(image, []), []);
    const two = await core.detect(image, { maxFaces: 2 });
    assert.equal(two.length, 2);
  });
});

describe('analyze (one-shot)', () => {
  it('loads, analyses and releases', async () => {
    const result = await analyze(SAMPLE_PHOTOS[0], { model: model.path });
    assert.ok(result.faces.length >= 3);
  });
});
