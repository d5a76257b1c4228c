import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { toNetInput } from '../src/classify/index.js';
import { MODELS_DIR } from '../src/env/node.js';
import { binIndex, calibrationMetrics, CALIBRATION_BINS } from '../src/eval/calibration.js';
import { evaluate } from '../src/eval/evaluate.js';
import { classificationMetrics, ConfusionMatrix, metricsFromConfusion, rowNormalized } from '../src/eval/metrics.js';
import { EMOTIONS, type Emotion } from '../src/labels.js';
import { samplePhotos } from '../src/samples.js';
import type { GrayImage } from '../src/types.js';
import { tinyModelLogits, tinySidecar, writeTinyModel } from './helpers/tiny-model.js';

const ROOT = join(import.meta.dirname, '..');
const SHARED_VAL = join(ROOT, '..', 'shared', 'datasets', 'fer2013', 'val');
const SHARED_FERPLUS = join(ROOT, '..', 'shared', 'datasets', 'ferplus', 'val.csv');
const SHIPPED_MODEL = join(MODELS_DIR, 'emolens-fer.onnx');
const SAMPLE_PHOTO = samplePhotos()[0];
const run = promisify(execFile);

/** Run the real CLI (src/cli/main.ts through tsx); resolves with stdout/stderr/exit code, never rejects. */
async function emolens(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), ...args], {
      cwd: ROOT, maxBuffer: 32 * 1024 * 1024,
    });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

describe('metrics', () => {
  // 6 faces: happy ×3 (2 right, 1 called sad), sad ×2 (1 right, 1 called happy), angry ×1 (right).
  const truth: Emotion[] = ['happy', 'happy', 'happy', 'sad', 'sad', 'angry'];
  const predicted: Emotion[] = ['happy', 'happy', 'sad', 'sad', 'happy', 'angry'];

  it('computes accuracy, per-class P/R/F1 and macro-F1 by hand', () => {
    const m = classificationMetrics(truth, predicted);
    assert.equal(m.n, 6);
    assert.equal(m.accuracy, 4 / 6);
    assert.deepEqual(m.perClass.happy, { precision: 2 / 3, recall: 2 / 3, f1: 2 / 3, support: 3 });
    assert.deepEqual(m.perClass.sad, { precision: 0.5, recall: 0.5, f1: 0.5, support: 2 });
    assert.deepEqual(m.perClass.angry, { precision: 1, recall: 1, f1: 1, support: 1 });
    // Classes never present nor predicted score 0 (zero_division=0), and still count in the macro mean.
    assert.deepEqual(m.perClass.disgust, { precision: 0, recall: 0, f1: 0, support: 0 });
    assert.ok(Math.abs(m.macroF1 - (2 / 3 + 0.5 + 1) / 7) < 1e-12);
  });

  it('has the shape of training/metrics.py (and the sidecar): same keys, same order', () => {
    const m = classificationMetrics(truth, predicted);
    assert.deepEqual(Object.keys(m), ['n', 'accuracy', 'macroF1', 'perClass', 'confusionMatrix']);
    assert.deepEqual(Object.keys(m.perClass), [...EMOTIONS]);
    assert.deepEqual(Object.keys(m.perClass.happy), ['precision', 'recall', 'f1', 'support']);
    assert.deepEqual(m.confusionMatrix.labels, [...EMOTIONS]);
    const happy = EMOTIONS.indexOf('happy');
    const sad = EMOTIONS.indexOf('sad');
    assert.deepEqual(m.confusionMatrix.matrix[happy], EMOTIONS.map((_, j) => (j === happy ? 2 : j === sad ? 1 : 0)));
    assert.deepEqual(m.confusionMatrix.matrix[sad], EMOTIONS.map((_, j) => (j === happy || j === sad ? 1 : 0)));
  });

  it('accumulates incrementally, normalises rows and rejects unknown labels', () => {
    const cm = new ConfusionMatrix(['a', 'b']);
    cm.add('a', 'a');
    cm.add('a', 'b');
    cm.add('b', 'b');
    assert.equal(cm.n, 3);
    assert.deepEqual(cm.metrics(), metricsFromConfusion(['a', 'b'], [[1, 1], [0, 1]]));
    assert.deepEqual(rowNormalized([[1, 3], [0, 0]]), [[0.25, 0.75], [0, 0]]);
    assert.throws(() => cm.add('c', 'a'), /unknown label: c/);
    assert.throws(() => metricsFromConfusion(['a', 'b'], [[1]]), /must be 2x2/);
  });
});

describe('calibration (ECE, reliability bins)', () => {
  it('computes the expected calibration error by hand', () => {
    // 15 bins of width 1/15. Five faces:
    //   0.95, 0.97 (right, right)  → bin 14 (14/15, 1]: accuracy 1,   confidence 0.96 → gap 0.04
    //   0.50 (right), 0.52 (wrong) → bin 7 (7/15, 8/15]: accuracy 0.5, confidence 0.51 → gap 0.01
    //   0.30 (wrong)               → bin 4 (4/15, 5/15]: accuracy 0,   confidence 0.30 → gap 0.30
    // ECE = 2/5·0.04 + 2/5·0.01 + 1/5·0.30 = 0.016 + 0.004 + 0.06 = 0.08
    const m = calibrationMetrics([0.95, 0.97, 0.5, 0.52, 0.3], [true, true, true, false, false]);
    assert.ok(Math.abs(m.ece - 0.08) < 1e-12, `ece ${m.ece}`);
    assert.equal(m.reliability.length, CALIBRATION_BINS);
    assert.deepEqual(m.reliability.map((b) => b.count), [0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 2]);
    const top = m.reliability[14];
    assert.ok(Math.abs(top.confidence! - 0.96) < 1e-12 && top.accuracy === 1 && top.hi === 1);
    assert.ok(Math.abs(m.reliability[7].confidence! - 0.51) < 1e-12 && m.reliability[7].accuracy === 0.5);
    assert.deepEqual(m.reliability[0], { lo: 0, hi: 1 / 15, count: 0, confidence: null, accuracy: null });
  });

  it('is 0 when every bin\'s accuracy equals its confidence, and bins are right-closed', () => {
    // Four faces at 0.75, three right: accuracy 0.75 = confidence.
    assert.equal(calibrationMetrics([0.75, 0.75, 0.75, 0.75], [true, true, false, true]).ece, 0);
    assert.equal(binIndex(0), 0);
    assert.equal(binIndex(1 / 15 + 1e-9), 1);
    assert.equal(binIndex(0.5), 7);
    assert.equal(binIndex(1), 14);
    assert.throws(() => calibrationMetrics([1.5], [true]), /confidence must be in \[0, 1\]/);
    assert.throws(() => calibrationMetrics([0.5], []), /differ in length/);
  });
});

/**
 * A crop the tiny model calls `target`: its 44x44 centre follows that class's weight pattern (tinyWeight), so
 * predictions differ from image to image and a test can place faces in any cell of the confusion matrix.
 */
function cropPredictedAs(target: Emotion, seed: number): GrayImage {
  const k = EMOTIONS.indexOf(target);
  const data = new Uint8Array(48 * 48).fill(128 + seed);
  for (let y = 0; y < 44; y++) {
    for (let x = 0; x < 44; x++) data[(y + 2) * 48 + x + 2] = Math.round(128 + 120 * Math.sin((y * 44 + x + 1) * (k + 1) * 0.37));
  }
  return { data, width: 48, height: 48 };
}

/** <root>/val/<label>/<n>.png — lossless gray crops, so the expected predictions can be computed exactly. */
async function makeEvalSet(): Promise<{ root: string; expected: number[][]; modelPath: string }> {
  const root = mkdtempSync(join(tmpdir(), 'emolens-eval-'));
  const modelPath = writeTinyModel(join(root, 'model'), 'tiny');
  const sidecar = tinySidecar();
  const expected = EMOTIONS.map(() => EMOTIONS.map(() => 0));
  // [true label, what the model will say]: 8 right, 4 wrong.
  const faces: Array<[Emotion, Emotion]> = [
    ['angry', 'angry'], ['happy', 'happy'], ['happy', 'happy'], ['neutral', 'neutral'], ['sad', 'sad'], ['surprise', 'surprise'],
    ['fear', 'fear'], ['disgust', 'disgust'], ['happy', 'surprise'], ['sad', 'neutral'], ['angry', 'disgust'], ['neutral', 'sad'],
  ];
  for (const [i, [label, said]] of faces.entries()) {
    const crop = cropPredictedAs(said, i);
    mkdirSync(join(root, 'val', label), { recursive: true });
    await sharp(Buffer.from(crop.data), { raw: { width: 48, height: 48, channels: 1 } }).png().toFile(join(root, 'val', label, `${i}.png`));
    const logits = tinyModelLogits(toNetInput([crop], sidecar).data);
    const predicted = logits.indexOf(Math.max(...logits));
    assert.equal(EMOTIONS[predicted], said, 'fixture: the tiny model predicts what the crop was built for');
    expected[EMOTIONS.indexOf(label)][predicted]++;
  }
  return { root, expected, modelPath };
}

describe('emolens eval', () => {
  it('scores every image and fills the confusion matrix as computed by hand from the model', async () => {
    const { root, expected, modelPath } = await makeEvalSet();
    const result = await evaluate({ data: root, model: modelPath, batchSize: 5 });
    assert.equal(result.n, 12);
    assert.equal(result.split, 'val');
    assert.deepEqual(result.confusionMatrix.matrix, expected);
    assert.equal(result.accuracy, 8 / 12);
    assert.deepEqual(result.perClass.happy, { precision: 1, recall: 2 / 3, f1: 0.8, support: 3 });
    assert.equal(result.model.name, 'tiny');
    assert.match(result.model.sha256, /^[0-9a-f]{64}$/);
    assert.ok(result.msPerImage > 0);
    // Calibration over the same 12 faces: bins hold every face, and the ECE is their weighted gap.
    assert.equal(result.reliability.reduce((sum, b) => sum + b.count, 0), 12);
    const gap = result.reliability.reduce((sum, b) => sum + (b.count ? (b.count / 12) * Math.abs(b.accuracy! - b.confidence!) : 0), 0);
    assert.ok(Math.abs(result.ece - gap) < 1e-12);
  });

  it('--json prints exactly one JSON object with the documented fields', async () => {
    const { root, expected, modelPath } = await makeEvalSet();
    const { stdout, code, stderr } = await emolens('eval', '--data', root, '--model', modelPath, '--json');
    assert.equal(code, 0, stderr);
    const result = JSON.parse(stdout);
    for (const key of ['n', 'accuracy', 'macroF1', 'perClass', 'confusionMatrix', 'ece', 'reliability', 'model', 'msPerImage', 'split', 'data']) {
      assert.ok(key in result, `missing ${key}`);
    }
    assert.deepEqual(Object.keys(result.model), ['name', 'sha256']);
    assert.deepEqual(result.confusionMatrix.matrix, expected);
    assert.equal(result.data, root);
    assert.equal(result.skipped, 0);
  });

  it('prints a readable table, and writes the HTML report', async () => {
    const { root, modelPath } = await makeEvalSet();
    const report = join(root, 'report.html');
    const { stdout, code, stderr } = await emolens('eval', '--data', root, '--model', modelPath, '--report', report);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /accuracy\s+\d+\.\d%/);
    assert.match(stdout, /macro-F1\s+\d+\.\d%/);
    assert.match(stdout, /confusion matrix \(rows: true label, columns: predicted\)/);
    assert.match(stdout, /^ECE\s+0\.\d{3}\s/m);
    assert.match(stdout, /^reliability \(top-1 confidence bins/m);
    for (const e of EMOTIONS) assert.match(stdout, new RegExp(`^${e}\\s`, 'm'));
    const html = readFileSync(report, 'utf8');
    assert.match(html, /<table class="heatmap">/);
    assert.match(html, /<canvas id="perClassChart"/);
    assert.match(html, /<canvas id="reliabilityChart"/);
    assert.match(html, /Calibration \(ECE\)/);
    assert.match(html, /Chart\.js v4/);
    assert.doesNotMatch(html, /<script[^>]+src=/);
    assert.match(html, /tiny-linear \(test fixture\)/);
  });

  it('reports skipped (unreadable) images and bad usage as one error line', async () => {
    const { root, modelPath } = await makeEvalSet();
    writeFileSync(join(root, 'val', 'happy', 'broken.jpg'), 'not a jpeg');
    const ok = await emolens('eval', '--data', root, '--model', modelPath, '--json');
    assert.equal(ok.code, 0, ok.stderr);
    const result = JSON.parse(ok.stdout);
    assert.equal(result.n, 12);
    assert.equal(result.skipped, 1);
    assert.match(result.skippedExamples[0].source, /broken\.jpg$/);

    const badSplit = await emolens('eval', '--data', root, '--model', modelPath, '--split', 'nope');
    assert.notEqual(badSplit.code, 0);
    assert.match(badSplit.stderr, /error: invalid --split: nope/);
    assert.doesNotMatch(badSplit.stderr, /\n\s+at /);
    mkdirSync(join(root, 'val', 'bored'));
    const badLabel = await emolens('eval', '--data', root, '--model', modelPath);
    assert.equal(badLabel.code, 1);
    assert.match(badLabel.stderr, /error: unknown label folder\(s\) in .*: bored/);
  });

  it('--detect finds the face in photos and skips images without one', { skip: existsSync(join(MODELS_DIR, 'blazeface.onnx')) ? false : 'models/blazeface.onnx is absent' }, async () => {
    const { root, modelPath } = await makeEvalSet();
    const photos = join(root, 'photos');
    mkdirSync(join(photos, 'happy'), { recursive: true });
    mkdirSync(join(photos, 'sad'), { recursive: true });
    copyFileSync(SAMPLE_PHOTO, join(photos, 'happy', 'group.jpg'));
    await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 120, g: 130, b: 140 } } }).png().toFile(join(photos, 'sad', 'wall.png'));
    const result = await evaluate({ data: photos, model: modelPath, detect: true });
    assert.equal(result.n, 1);
    assert.equal(result.skipped, 1);
    assert.deepEqual(result.skippedExamples, [{ source: join(photos, 'sad', 'wall.png'), reason: 'no face found' }]);
    assert.equal(result.split, null);
  });
});

const VOTE_HEADER = 'neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF';
const VOTE_COLUMN: Record<Emotion, number> = { angry: 4, disgust: 5, fear: 6, happy: 1, neutral: 0, sad: 3, surprise: 2 };
/** 10 FER+ votes: `agree` for `label`, the rest unknown. */
function votesFor(label: Emotion, agree = 7): number[] {
  const v = new Array<number>(10).fill(0);
  v[VOTE_COLUMN[label]] = agree;
  v[8] = 10 - agree;
  return v;
}

describe('emolens eval --labels (FER+ votes)', () => {
  it('scores the same predictions by FER+ majority and against the raters\' distribution', async () => {
    const { root, modelPath } = await makeEvalSet();
    // The raters side with what the tiny model says on every face but: #0 (no FER+ row) and #1 (a tie: no majority).
    const said: Emotion[] = ['angry', 'happy', 'happy', 'neutral', 'sad', 'surprise', 'fear', 'disgust', 'surprise', 'neutral', 'disgust', 'sad'];
    const truth: Emotion[] = ['angry', 'happy', 'happy', 'neutral', 'sad', 'surprise', 'fear', 'disgust', 'happy', 'sad', 'angry', 'neutral'];
    const rows = truth.map((label, i) => {
      const file = `val/${label}/${i}.png`;
      if (i === 0) return `${file},,,,,,,,,,,`;
      const v = i === 1 ? [5, 5, 0, 0, 0, 0, 0, 0, 0, 0] : votesFor(said[i]);
      return `${file},${i},${v.join(',')}`;
    });
    mkdirSync(join(root, 'ferplus'));
    writeFileSync(join(root, 'ferplus', 'val.csv'), `file,row,${VOTE_HEADER}\n${rows.join('\n')}\n`);
    const result = await evaluate({ data: root, model: modelPath, labels: join(root, 'ferplus') });
    assert.equal(result.accuracy, 8 / 12, 'the FER2013-label figures are unchanged');
    const f = result.ferplus!;
    assert.equal(f.matched, 11);
    assert.equal(f.majority.n, 10);
    assert.equal(f.majority.accuracy, 1);
    assert.equal(f.majority.perClass.sad.support, 2);
    assert.equal(f.distribution.n, 11);
    assert.ok(f.distribution.kl >= 0 && f.distribution.crossEntropy >= f.distribution.kl);
    assert.ok(f.distribution.raterAgreement > 0.5 && f.distribution.raterAgreement <= 1);

    // The CLI prints both truths, and the HTML report shows the second confusion matrix.
    const report = join(root, 'report.html');
    const cli = await emolens('eval', '--data', root, '--model', modelPath, '--labels', join(root, 'ferplus', 'val.csv'), '--report', report);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /^majority accuracy\s+100\.0%/m);
    assert.match(cli.stdout, /confusion matrix by FER\+ majority/);
    const html = readFileSync(report, 'utf8');
    assert.match(html, /Against ten raters \(FER\+\)/);
    assert.equal(html.match(/<table class="heatmap">/g)?.length, 2);

    const missing = await emolens('eval', '--data', root, '--model', modelPath, '--labels', join(root, 'nope.csv'));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error: FER\+ votes not found: /m);
    assert.doesNotMatch(missing.stderr, /\n\s+at /);
  });

  it('reads Microsoft\'s fer2013new.csv beside a Kaggle fer2013.csv (aligned by row)', async () => {
    const { modelPath } = await makeEvalSet();
    const dir = mkdtempSync(join(tmpdir(), 'emolens-ferplus-'));
    const kaggle = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];
    const faces: Array<[Emotion, Emotion, string]> = [['happy', 'happy', 'PublicTest'], ['sad', 'neutral', 'Training'], ['sad', 'fear', 'PublicTest']];
    const csv = ['emotion,pixels,Usage', ...faces.map(([label, said, usage], i) => `${kaggle.indexOf(label)},${Array.from(cropPredictedAs(said, i).data).join(' ')},${usage}`)];
    writeFileSync(join(dir, 'fer2013.csv'), `${csv.join('\n')}\n`);
    // Rows 0 and 2 are PublicTest (val); row 2's raters say what the model says, row 0's say neutral.
    const votes = [votesFor('neutral', 8), votesFor('neutral', 8), votesFor('fear', 6)];
    writeFileSync(join(dir, 'fer2013new.csv'), `Usage,Image name,${VOTE_HEADER}\n${votes.map((v, i) => `${faces[i][2]},fer${i}.png,${v.join(',')}`).join('\n')}\n`);
    const result = await evaluate({ data: join(dir, 'fer2013.csv'), model: modelPath, labels: join(dir, 'fer2013new.csv') });
    assert.equal(result.n, 2);
    assert.equal(result.ferplus!.majority.n, 2);
    assert.deepEqual(result.ferplus!.majority.perClass.neutral.support, 1);
    assert.equal(result.ferplus!.majority.accuracy, 0.5);
  });
});

describe('emolens eval on FER2013 val', () => {
  const skip = !existsSync(SHARED_VAL)
    ? `FER2013 not found at ${SHARED_VAL} (../shared is absent)`
    : !existsSync(SHIPPED_MODEL) ? `shipped model ${SHIPPED_MODEL} not found` : false;

  it('scores 300 val images close to the sidecar\'s own val accuracy', { skip }, async () => {
    const sidecar = JSON.parse(readFileSync(SHIPPED_MODEL.replace(/\.onnx$/, '.json'), 'utf8'));
    const result = await evaluate({ data: SHARED_VAL, limit: 300 });
    assert.equal(result.n, 300);
    assert.equal(result.skipped, 0);
    // 300 of 3,589 images: the sampling error of an accuracy near 0.7 is about 2.6 points (1 sd); allow 3 sd.
    const shipped = sidecar.metrics.val.accuracy as number;
    assert.ok(Math.abs(result.accuracy - shipped) < 0.08, `accuracy ${result.accuracy} vs sidecar val ${shipped}`);
    assert.ok(result.accuracy > 0.5, `accuracy ${result.accuracy}`);
  });

  it('scores 300 val images by FER+ majority close to the sidecar\'s FER+ figure', { skip: skip || (!existsSync(SHARED_FERPLUS) && `FER+ votes not found at ${SHARED_FERPLUS}`) }, async () => {
    const sidecar = JSON.parse(readFileSync(SHIPPED_MODEL.replace(/\.onnx$/, '.json'), 'utf8'));
    const result = await evaluate({ data: SHARED_VAL, limit: 300, labels: SHARED_FERPLUS, split: 'val' });
    const f = result.ferplus!;
    assert.ok(f.matched >= 290, `matched ${f.matched}`);
    const shipped = sidecar.metrics.val.ferplus.majority.accuracy as number;
    // ~280 majority images at an accuracy near 0.85: about 2.1 points sampling error (1 sd); allow 3 sd.
    assert.ok(Math.abs(f.majority.accuracy - shipped) < 0.065, `FER+ accuracy ${f.majority.accuracy} vs sidecar ${shipped}`);
  });
});
