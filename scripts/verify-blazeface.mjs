#!/usr/bin/env node
/**
 * Proves a BlazeFace ONNX file (training/convert/tfjs_to_onnx.py) is the same network as the TF.js graph it was converted
 * from: both run on the same preprocessed sample photos, every TF.js output is compared with its part of the ONNX outputs.
 *
 *   node scripts/verify-blazeface.mjs [--onnx models/blazeface.onnx] [--graph node_modules/@vladmandic/human/models/blazeface.json]
 *                                     [--outputs Identity,...]   # the TF outputs that hold the face heads (default: all)
 *
 * The ONNX file has `regressors` [N, A, 16] and `classificators` [N, A, 1], the heads of each kind concatenated
 * finest grid first. A TF output of k = 1 or 16 columns is one head: its rows of the matching ONNX output, after
 * the larger heads of its kind. One of 17 columns is MediaPipe's 2021 layout, [score, 16 box columns] per anchor,
 * all anchors: it is compared with the two ONNX outputs side by side. Inputs are the photos stretched to the
 * graph's own input size.
 *
 * TF.js runs on its pure-JS cpu backend; Node has no tf.io.fileSystem without tfjs-node, so a tiny IOHandler
 * reads the graph JSON and its weight shards. Exits 1 when any difference is over 1e-5 of that output's range.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { fileHandler } from './tfjs-file-handler.mjs';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';

/** Allowed |diff| relative to the output's own magnitude (float32 summation order differs between runtimes). */
const RELATIVE_TOLERANCE = 1e-5;
const SAMPLES = [1, 2, 3, 4, 5, 6].map((i) => `node_modules/@vladmandic/face-api/demo/sample${i}.jpg`);
const BOX_COLUMNS = 16;

const { values: args } = parseArgs({
  options: {
    onnx: { type: 'string', default: 'models/blazeface.onnx' },
    graph: { type: 'string', default: 'node_modules/@vladmandic/human/models/blazeface.json' },
    outputs: { type: 'string' },
  },
});

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(1);
}

/** Photo -> size x size RGB floats in [-1, 1], NHWC (for TF.js). A plain stretch: equivalence needs no letterbox. */
async function preprocess(path, size) {
  const { data } = await sharp(path).removeAlpha().resize(size, size, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
  const out = new Float32Array(size * size * 3);
  for (let i = 0; i < out.length; i++) out[i] = data[i] / 127.5 - 1;
  return out;
}

function nhwcToNchw(src, n, size) {
  const plane = size * size;
  const dst = new Float32Array(n * 3 * plane);
  for (let b = 0; b < n; b++) {
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) dst[b * 3 * plane + c * plane + p] = src[(b * plane + p) * 3 + c];
    }
  }
  return dst;
}

/** Rows [from, from+count) of every batch item of an ONNX [N, anchors, k] output, as [N, count, k]. */
function anchorRows(output, from, count) {
  const [n, anchors, k] = output.dims;
  const out = new Float32Array(n * count * k);
  for (let b = 0; b < n; b++) out.set(output.data.subarray((b * anchors + from) * k, (b * anchors + from + count) * k), b * count * k);
  return out;
}

/** [N, A, 1] scores and [N, A, 16] boxes side by side: [N, A, 17], as MediaPipe's 2021 graphs output them. */
function scoresThenBoxes(scores, boxes) {
  const [n, anchors] = scores.dims;
  const out = new Float32Array(n * anchors * (1 + BOX_COLUMNS));
  for (let r = 0; r < n * anchors; r++) {
    out[r * (1 + BOX_COLUMNS)] = scores.data[r];
    out.set(boxes.data.subarray(r * BOX_COLUMNS, (r + 1) * BOX_COLUMNS), r * (1 + BOX_COLUMNS) + 1);
  }
  return out;
}

function maxAbsDiff(a, b) {
  if (a.length !== b.length) fail(`TF.js and ONNX sizes differ: ${a.length} vs ${b.length} values`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

await tf.setBackend('cpu');
let tfModel;
let session;
try {
  tfModel = await tf.loadGraphModel(fileHandler(args.graph));
  session = await ort.InferenceSession.create(readFileSync(args.onnx));
} catch (err) {
  fail((err).message.split('\n')[0]);
}
const size = tfModel.inputs[0].shape[1];
const outputNames = args.outputs ? args.outputs.split(',') : tfModel.outputs.map((o) => o.name.split(':')[0]).sort();

const inputs = await Promise.all(SAMPLES.map((p) => preprocess(p, size)));
const batch = new Float32Array(inputs.length * size * size * 3);
inputs.forEach((x, i) => batch.set(x, i * x.length));

// TF.js graph: one photo at a time (the older graphs have a fixed batch of 1), outputs stacked to [6, anchors, k].
const tfOut = Object.fromEntries(outputNames.map((name) => [name, []]));
for (const x of inputs) {
  const results = tf.tidy(() => [tfModel.execute(tf.tensor4d(x, [1, size, size, 3]), outputNames)].flat());
  results.forEach((t, i) => tfOut[outputNames[i]].push({ data: t.dataSync(), dims: t.shape }));
  tf.dispose(results);
}

// ONNX: the whole batch in one run (dynamic batch), NCHW.
const t0 = performance.now();
const onnxOut = await session.run({ input: new ort.Tensor('float32', nhwcToNchw(batch, inputs.length, size), [inputs.length, 3, size, size]) });
const onnxMs = performance.now() - t0;

// Where each single-kind TF head sits in its ONNX output: after the heads of its kind with more anchors.
const heads = outputNames.map((name) => ({ name, anchors: tfOut[name][0].dims[1], k: tfOut[name][0].dims[2] }));
const offsetOf = (head) => heads.filter((h) => h.k === head.k && h.anchors > head.anchors).reduce((sum, h) => sum + h.anchors, 0);

let worst = 0;
console.log(`inputs: ${SAMPLES.length} face-api sample photos, stretched to ${size}x${size}, scaled to [-1, 1]`);
for (const head of heads) {
  const { name, anchors, k } = head;
  const expected = new Float32Array(inputs.length * anchors * k);
  tfOut[name].forEach((o, i) => expected.set(o.data, i * anchors * k));
  let actual;
  let against;
  if (k === 1 + BOX_COLUMNS) {
    actual = scoresThenBoxes(onnxOut.classificators, onnxOut.regressors);
    against = 'classificators | regressors';
  } else if (k === 1 || k === BOX_COLUMNS) {
    const onnxName = k === 1 ? 'classificators' : 'regressors';
    const from = offsetOf(head);
    actual = anchorRows(onnxOut[onnxName], from, anchors);
    against = `${onnxName}[:, ${from}:${from + anchors}]`;
  } else {
    fail(`${name} has ${k} columns: not a score (1), box (16) or MediaPipe 2021 (17) head`);
  }
  const diff = maxAbsDiff(expected, actual);
  let range = 0;
  for (const v of expected) range = Math.max(range, Math.abs(v));
  worst = Math.max(worst, diff / Math.max(1, range));
  console.log(`${name.padEnd(11)} [N,${anchors},${String(k).padEnd(2)}] vs ${against}`
    + `  max |diff| ${diff.toExponential(2)}  max |value| ${range.toFixed(1)}  relative ${(diff / Math.max(1, range)).toExponential(1)}`);
}
console.log(`onnx batch of ${inputs.length}: ${onnxMs.toFixed(0)} ms (first run, includes warm-up)`);
const ok = worst <= RELATIVE_TOLERANCE;
console.log(`${ok ? 'OK' : 'FAIL'}: worst relative difference ${worst.toExponential(1)} ${ok ? '<=' : '>'} ${RELATIVE_TOLERANCE}`);
process.exit(ok ? 0 : 1);
