import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { EmotionClassifier, equalizeHistogram, toNetInput, validateEmotionSidecar } from '../src/classify/index.js';
import { loadEmotionModel, looksLikeOnnx } from '../src/env/node.js';
import { InvalidModelError, ModelNotFoundError, SidecarMissingError } from '../src/errors.js';
import { EMOTIONS } from '../src/labels.js';
import type { GrayImage } from '../src/types.js';
import { tinyModelBytes, tinyModelLogits, tinySidecar, writeTinyModel } from './helpers/tiny-model.js';

/** A 48x48 crop with a distinct value in every pixel (so an off-by-one crop offset cannot pass). */
function patternCrop(seed = 0): GrayImage {
  const data = new Uint8Array(48 * 48);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + seed * 11) % 256;
  return { data, width: 48, height: 48 };
}

function softmaxByHand(z: number[]): number[] {
  const e = z.map((v) => Math.exp(v - Math.max(...z)));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

describe('preprocessing', () => {
  it('centre-crops 48→44 at offset 2 and applies (x·scale − mean) / std', () => {
    const crop = patternCrop();
    const { data, dims } = toNetInput([crop], tinySidecar());
    assert.deepEqual(dims, [1, 1, 44, 44]);
    // Hand computation for a few pixels: net (y, x) reads crop (y + 2, x + 2).
    for (const [y, x] of [[0, 0], [0, 43], [43, 0], [21, 17], [43, 43]]) {
      const v = crop.data[(y + 2) * 48 + (x + 2)];
      assert.ok(Math.abs(data[y * 44 + x] - (v / 255 - 0.5) / 0.25) < 1e-6, `pixel ${y},${x}`);
    }
  });

  it('replicates gray into every channel of a 3-channel model, with per-channel mean/std', () => {
    const sidecar = tinySidecar({ channels: 3 });
    sidecar.preprocess.mean = [0.1, 0.2, 0.3];
    sidecar.preprocess.std = [1, 2, 4];
    const crop = patternCrop(3);
    const { data, dims } = toNetInput([crop], sidecar);
    assert.deepEqual(dims, [1, 3, 44, 44]);
    const v = crop.data[5 * 48 + 9] / 255;
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(data[c * 44 * 44 + 3 * 44 + 7] - (v - sidecar.preprocess.mean[c]) / sidecar.preprocess.std[c]) < 1e-6);
  });

  it('equalises the histogram when the sidecar says so', () => {
    const values = new Uint8Array([10, 10, 20, 20, 30, 30, 40, 40]);
    const eq = equalizeHistogram({ data: values, width: 4, height: 2 });
    assert.deepEqual(Array.from(eq.data), [0, 0, 85, 85, 170, 170, 255, 255]);
  });
});

describe('EmotionClassifier', () => {
  it('matches a hand computation of the linear test model, logits → softmax', async () => {
    const sidecar = tinySidecar();
    const classifier = await EmotionClassifier.load(ort, tinyModelBytes(), sidecar);
    const crop = patternCrop(1);
    const [probs] = await classifier.classify([crop]);
    const input: number[] = [];
    for (let y = 0; y < 44; y++) for (let x = 0; x < 44; x++) input.push((crop.data[(y + 2) * 48 + x + 2] / 255 - 0.5) / 0.25);
    const expected = softmaxByHand(tinyModelLogits(input));
    EMOTIONS.forEach((e, k) => assert.ok(Math.abs(probs[e] - expected[k]) < 1e-5, `${e}: ${probs[e]} vs ${expected[k]}`));
    await classifier.dispose();
  });

  it('batches: 70 faces in batches of 32 give the same answers as one at a time; probabilities sum to 1', async () => {
    const classifier = await EmotionClassifier.load(ort, tinyModelBytes({ kind: 'probabilities' }), tinySidecar({ kind: 'probabilities' }), { batchSize: 32 });
    const faces = Array.from({ length: 70 }, (_, i) => patternCrop(i));
    const batched = await classifier.classify(faces);
    assert.equal(batched.length, 70);
    for (const i of [0, 31, 32, 69]) {
      const [single] = await classifier.classify([faces[i]]);
      for (const e of EMOTIONS) assert.ok(Math.abs(single[e] - batched[i][e]) < 1e-6);
      const sum = EMOTIONS.reduce((s, e) => s + batched[i][e], 0);
      assert.ok(Math.abs(sum - 1) < 1e-5);
    }
    assert.deepEqual(await classifier.classify([]), []);
    await classifier.dispose();
  });

  it('maps columns by the sidecar labels when they are in another order', async () => {
    const reference = await EmotionClassifier.load(ort, tinyModelBytes(), tinySidecar());
    const reversed = tinySidecar();
    reversed.labels = [...EMOTIONS].reverse();
    const shuffled = await EmotionClassifier.load(ort, tinyModelBytes(), reversed);
    const [a] = await reference.classify([patternCrop(4)]);
    const [b] = await shuffled.classify([patternCrop(4)]);
    EMOTIONS.forEach((e, k) => assert.equal(b[e], a[EMOTIONS[6 - k]]));
  });

  it('rejects bad sidecars with one clear line', async () => {
    const cases: Array<[string, (s: ReturnType<typeof tinySidecar>) => void, RegExp]> = [
      ['format', (s) => ((s as { format: string }).format = 'other/2'), /format is "other\/2"/],
      ['labels', (s) => (s.labels = ['angry', 'happy'] as typeof s.labels), /labels must be the 7 emotions/],
      ['duplicate labels', (s) => (s.labels = ['angry', 'angry', 'fear', 'happy', 'neutral', 'sad', 'surprise']), /labels must be the 7 emotions/],
      ['channels', (s) => ((s.input as { channels: number }).channels = 2), /channels must be 1 or 3/],
      ['centerCrop', (s) => (s.preprocess.centerCrop = 40), /centerCrop \(40\) must equal the input size \(44\)/],
      ['kind', (s) => ((s.output as { kind: string }).kind = 'scores'), /output.kind/],
    ];
    for (const [what, mutate, message] of cases) {
      const s = tinySidecar();
      mutate(s);
      assert.throws(() => validateEmotionSidecar(s, 'm.json'), (err: Error) => err instanceof InvalidModelError && message.test(err.message) && !err.message.includes('\n'), what);
    }
    // Graph input dims disagreeing with the sidecar are caught at load.
    const wrong = tinySidecar({ inputSize: 40 });
    wrong.preprocess.faceCrop.size = 48;
    await assert.rejects(EmotionClassifier.load(ort, tinyModelBytes({ inputSize: 44 }), wrong), /does not accept input \[N, 1, 40, 40\]/);
  });
});

describe('loadEmotionModel', () => {
  const dir = mkdtempSync(join(tmpdir(), 'emolens-models-'));
  const onnx = writeTinyModel(dir, 'tiny');

  it('loads a model by path and by name from a models directory', () => {
    const byPath = loadEmotionModel(onnx);
    assert.equal(byPath.path, onnx);
    assert.ok(looksLikeOnnx(byPath.bytes));
    assert.equal(loadEmotionModel('tiny', dir).sidecar.name, 'tiny');
  });

  it('unknown model name → ModelNotFoundError listing the bundled names', () => {
    assert.throws(() => loadEmotionModel('no-such-model', dir), (err: Error) => err instanceof ModelNotFoundError && err.message === 'model not found: no-such-model (bundled: tiny)');
    assert.throws(() => loadEmotionModel(join(dir, 'nope.onnx')), ModelNotFoundError);
  });

  it('a file that is not ONNX → InvalidModelError before ONNX Runtime sees it', () => {
    const fake = join(dir, 'fake.onnx');
    writeFileSync(fake, 'definitely not protobuf, just some text that goes on for a while\n');
    copyFileSync(join(dir, 'tiny.json'), join(dir, 'fake.json'));
    assert.throws(() => loadEmotionModel(fake), (err: Error) => err instanceof InvalidModelError && /not an ONNX model$/.test(err.message));
    const empty = join(dir, 'empty.onnx');
    writeFileSync(empty, '');
    assert.throws(() => loadEmotionModel(empty), /not an ONNX model \(the file is empty\)/);
  });

  it('ONNX Runtime rejecting the bytes is an InvalidModelError too', async () => {
    // Structurally protobuf with a "graph" field, but not a model ORT can build.
    const bytes = Uint8Array.from([0x08, 0x07, 0x3a, 0x02, 0x0a, 0x00]);
    assert.ok(looksLikeOnnx(bytes));
    await assert.rejects(EmotionClassifier.load(ort, bytes, tinySidecar(), { source: 'broken.onnx' }), (err: Error) => err instanceof InvalidModelError && /^broken.onnx: not an ONNX model ONNX Runtime can load/.test(err.message));
  });

  it('sidecar missing → SidecarMissingError naming the expected .json', () => {
    const lonely = join(dir, 'lonely.onnx');
    writeFileSync(lonely, tinyModelBytes());
    assert.throws(() => loadEmotionModel(lonely), (err: Error) => err instanceof SidecarMissingError && err.message.includes(join(dir, 'lonely.json')));
  });
});
