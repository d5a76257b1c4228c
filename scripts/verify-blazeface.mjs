#!/usr/bin/env node
/**
 * Proves models/blazeface.onnx is the same network as the TF.js graph it was converted from:
 * both run on the same preprocessed sample photos, every TF.js output is compared with its slice of the ONNX outputs.
 *
 *   node scripts/verify-blazeface.mjs [--onnx models/blazeface.onnx] [--graph node_modules/@vladmandic/human/models/blazeface.json]
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
const SIZE = 256;
const SAMPLES = [1, 2, 3, 4, 5, 6].map((i) => `node_modules/@vladmandic/face-api/demo/sample${i}.jpg`);

const { values: args } = parseArgs({
  options: {
    onnx: { type: 'string', default: 'models/blazeface.onnx' },
    graph: { type: 'string', default: 'node_modules/@vladmandic/human/models/blazeface.json' },
  },
});

/** Photo -> 256x256 RGB floats in [-1, 1], NHWC (for TF.js). A plain stretch: equivalence needs no letterbox. */
async function preprocess(path) {
  const { data } = await sharp(path).removeAlpha().resize(SIZE, SIZE, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
  const out = new Float32Array(SIZE * SIZE * 3);
  for (let i = 0; i < out.length; i++) out[i] = data[i] / 127.5 - 1;
  return out;
}

function nhwcToNchw(src, n) {
  const plane = SIZE * SIZE;
  const dst = new Float32Array(n * 3 * plane);
  for (let b = 0; b < n; b++) {
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) dst[b * 3 * plane + c * plane + p] = src[(b * plane + p) * 3 + c];
    }
  }
  return dst;
}

/** Rows [from, from+count) of every batch item of an [N, anchors, k] tensor, flattened. */
function anchorRows(data, dims, from, count) {
  const [n, anchors, k] = dims;
  const out = new Float32Array(n * count * k);
  for (let b = 0; b < n; b++) out.set(data.subarray((b * anchors + from) * k, (b * anchors + from + count) * k), b * count * k);
  return out;
}

function maxAbsDiff(a, b) {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

await tf.setBackend('cpu');
const tfModel = await tf.loadGraphModel(fileHandler(args.graph));
const session = await ort.InferenceSession.create(readFileSync(args.onnx));

const inputs = await Promise.all(SAMPLES.map(preprocess));
const batch = new Float32Array(inputs.length * SIZE * SIZE * 3);
inputs.forEach((x, i) => batch.set(x, i * x.length));

// TF.js graph: fixed batch 1, one photo at a time, outputs stacked to [6, anchors, k].
const outputNames = tfModel.outputs.map((o) => o.name.split(':')[0]).sort();
const tfOut = Object.fromEntries(outputNames.map((name) => [name, []]));
for (const x of inputs) {
  const results = tf.tidy(() => tfModel.execute(tf.tensor4d(x, [1, SIZE, SIZE, 3]), outputNames));
  results.forEach((t, i) => tfOut[outputNames[i]].push({ data: t.dataSync(), dims: t.shape }));
  tf.dispose(results);
}

// ONNX: the whole batch in one run (dynamic batch), NCHW.
const t0 = performance.now();
const onnxOut = await session.run({ input: new ort.Tensor('float32', nhwcToNchw(batch, inputs.length), [inputs.length, 3, SIZE, SIZE]) });
const onnxMs = performance.now() - t0;

// TF.js head -> its ONNX output and anchor rows: the 512-anchor (16x16) heads come first, then the 384 (8x8).
let worst = 0;
console.log(`inputs: ${SAMPLES.length} face-api sample photos, stretched to ${SIZE}x${SIZE}, scaled to [-1, 1]`);
for (const name of outputNames) {
  const dims = tfOut[name][0].dims;
  const [, anchors, k] = dims;
  const onnxName = k === 1 ? 'classificators' : 'regressors';
  const from = anchors === 512 ? 0 : 512;
  const expected = new Float32Array(inputs.length * anchors * k);
  tfOut[name].forEach((o, i) => expected.set(o.data, i * anchors * k));
  const actual = anchorRows(onnxOut[onnxName].data, onnxOut[onnxName].dims, from, anchors);
  const diff = maxAbsDiff(expected, actual);
  let range = 0;
  for (const v of expected) range = Math.max(range, Math.abs(v));
  worst = Math.max(worst, diff / Math.max(1, range));
  console.log(`${name.padEnd(11)} [N,${anchors},${String(k).padEnd(2)}] vs ${onnxName}[:, ${from}:${from + anchors}]`
    + `  max |diff| ${diff.toExponential(2)}  max |value| ${range.toFixed(1)}  relative ${(diff / Math.max(1, range)).toExponential(1)}`);
}
console.log(`onnx batch of ${inputs.length}: ${onnxMs.toFixed(0)} ms (first run, includes warm-up)`);
const ok = worst <= RELATIVE_TOLERANCE;
console.log(`${ok ? 'OK' : 'FAIL'}: worst relative difference ${worst.toExponential(1)} ${ok ? '<=' : '>'} ${RELATIVE_TOLERANCE}`);
process.exit(ok ? 0 : 1);
