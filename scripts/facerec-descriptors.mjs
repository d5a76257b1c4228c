#!/usr/bin/env node
/**
 * face-api's own FaceRecognitionNet (@vladmandic/face-api on @tensorflow/tfjs, cpu backend) on a batch of
 * 150x150 RGB faces (0..255, NHWC little-endian float32), writing the 128-d descriptors, so training/models/facerec.py can
 * check its torch port against the original runtime:
 *
 *   node scripts/facerec-descriptors.mjs --input x.f32 --count 8 --out y.f32
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: { input: { type: 'string' }, count: { type: 'string' }, out: { type: 'string' } },
});
for (const key of ['input', 'count', 'out']) {
  if (!args[key]) {
    process.stderr.write(`error: --${key} is required\n`);
    process.exit(2);
  }
}
const require = createRequire(import.meta.url);
const quiet = console.log;
console.log = () => {};
const tf = require('@tensorflow/tfjs');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
console.log = quiet;
await tf.setBackend('cpu');
const net = faceapi.nets.faceRecognitionNet;
await net.loadFromDisk(join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model'));

const n = Number(args.count);
const bytes = readFileSync(args.input);
const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
const out = new Float32Array(n * 128);
for (let i = 0; i < n; i++) {
  const face = tf.tensor3d(data.subarray(i * 150 * 150 * 3, (i + 1) * 150 * 150 * 3), [150, 150, 3]);
  out.set(await net.computeFaceDescriptor(face), i * 128);
  face.dispose();
}
writeFileSync(args.out, Buffer.from(out.buffer));
