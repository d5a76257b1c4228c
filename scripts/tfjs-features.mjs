#!/usr/bin/env node
/**
 * Runs a TF.js graph model on a batch of already-normalised NHWC float32 inputs and writes the named nodes'
 * outputs, so training/models/pretrained.py can check its torch replay of the graph against the original runtime.
 *
 *   node scripts/tfjs-features.mjs --graph runs/human-models/faceres.json --input x.f32 --shape 8,224,224,3 \
 *     --outputs global_pooling/Mean,conv_pw_13_relu/clip_by_value --out dir/
 *
 * Writes dir/<k>.f32 (little-endian float32, TF's NHWC layout) for the k-th output name and dir/outputs.json
 * with their names and shapes. TF.js runs on its pure-JS cpu backend (no native add-on needed); Node has no
 * tf.io.fileSystem without tfjs-node, so a tiny IOHandler reads the graph JSON and its weight shards.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { fileHandler } from './tfjs-file-handler.mjs';

const { values: args } = parseArgs({
  options: {
    graph: { type: 'string' },
    input: { type: 'string' },
    shape: { type: 'string' },
    outputs: { type: 'string' },
    out: { type: 'string' },
  },
});
for (const key of ['graph', 'input', 'shape', 'outputs', 'out']) {
  if (!args[key]) {
    process.stderr.write(`error: --${key} is required\n`);
    process.exit(2);
  }
}

await tf.setBackend('cpu');
const model = await tf.loadGraphModel(fileHandler(args.graph));
const shape = args.shape.split(',').map(Number);
const raw = readFileSync(args.input);
const data = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
if (data.length !== shape.reduce((a, b) => a * b, 1)) {
  process.stderr.write(`error: ${args.input} holds ${data.length} floats, --shape ${args.shape} needs ${shape.reduce((a, b) => a * b, 1)}\n`);
  process.exit(2);
}
const names = args.outputs.split(',');
const started = performance.now();
const x = tf.tensor(data, shape, 'float32');
const outs = [model.execute(x, names)].flat();
mkdirSync(args.out, { recursive: true });
const meta = [];
for (const [k, t] of outs.entries()) {
  const values = await t.data();
  writeFileSync(join(args.out, `${k}.f32`), Buffer.from(values.buffer, values.byteOffset, values.byteLength));
  meta.push({ name: names[k], shape: t.shape });
}
writeFileSync(join(args.out, 'outputs.json'), `${JSON.stringify({ outputs: meta, ms: Math.round(performance.now() - started), backend: tf.getBackend(), tfjs: tf.version.tfjs }, null, 2)}\n`);
process.stdout.write(`${names.length} outputs for ${shape[0]} inputs in ${Math.round(performance.now() - started)} ms (tfjs ${tf.version.tfjs}, ${tf.getBackend()})\n`);
