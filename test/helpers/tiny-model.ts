/**
 * A throwaway emotion model, written as ONNX protobuf bytes by hand, so tests never depend on the training run
 * (nor on Python/torch). The graph is linear — input [N,C,S,S] → Flatten → MatMul(W) → Add(b) [→ Softmax] — with
 * weights from a formula, so a test can compute the exact expected output by hand (see `tinyModelLogits`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONTRACT_FORMAT, type EmotionModelSidecar } from '../../src/classify/contract.js';
import { EMOTIONS } from '../../src/labels.js';

// ---- minimal protobuf writer --------------------------------------------------------------------------------
function varint(n: number): number[] {
  const out: number[] = [];
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n;
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}
const key = (field: number, wire: number): number[] => varint((field << 3) | wire);
const int = (field: number, n: number): number[] => [...key(field, 0), ...varint(n)];
const bytes = (field: number, b: ArrayLike<number>): number[] => [...key(field, 2), ...varint(b.length), ...Array.from(b)];
const str = (field: number, s: string): number[] => bytes(field, new TextEncoder().encode(s));
const msg = (field: number, parts: number[][]): number[] => bytes(field, parts.flat());

const FLOAT = 1;
function tensor(field: number, name: string, dims: number[], values: Float32Array): number[] {
  return msg(field, [...dims.map((d) => int(1, d)), int(2, FLOAT), str(8, name), bytes(9, new Uint8Array(values.buffer))]);
}
function valueInfo(field: number, name: string, dims: Array<number | string>): number[] {
  const dim = (d: number | string) => msg(1, [typeof d === 'number' ? int(1, d) : str(2, d)]);
  const tensorType = msg(1, [int(1, FLOAT), msg(2, dims.map(dim))]);
  return msg(field, [str(1, name), msg(2, [tensorType])]);
}
function node(op: string, inputs: string[], outputs: string[], attrs: number[][] = []): number[] {
  return msg(1, [...inputs.map((i) => str(1, i)), ...outputs.map((o) => str(2, o)), str(3, `${op}_${outputs[0]}`), str(4, op), ...attrs]);
}
const intAttr = (name: string, v: number): number[] => msg(5, [str(1, name), int(3, v), int(20, 2)]);

// ---- the model ------------------------------------------------------------------------------------------------
export interface TinyModelSpec {
  /** Net input side (= sidecar centerCrop). */
  inputSize?: number;
  channels?: 1 | 3;
  kind?: 'logits' | 'probabilities';
}

/** Weight of input element `p` (flattened CHW index) for class `k`, and bias of class `k`. */
export const tinyWeight = (p: number, k: number, n: number): number => Math.sin((p + 1) * (k + 1) * 0.37) / n;
export const tinyBias = (k: number): number => (k - 3) * 0.1;

/** The model's output computed in plain JS from a preprocessed input vector (one sample). */
export function tinyModelLogits(input: ArrayLike<number>): number[] {
  const n = input.length;
  return EMOTIONS.map((_, k) => {
    let s = tinyBias(k);
    for (let p = 0; p < n; p++) s += input[p] * tinyWeight(p, k, n);
    return s;
  });
}

export function tinyModelBytes(spec: TinyModelSpec = {}): Uint8Array {
  const size = spec.inputSize ?? 44;
  const channels = spec.channels ?? 1;
  const n = channels * size * size;
  const w = new Float32Array(n * 7);
  for (let p = 0; p < n; p++) for (let k = 0; k < 7; k++) w[p * 7 + k] = tinyWeight(p, k, n);
  const b = Float32Array.from({ length: 7 }, (_, k) => tinyBias(k));
  const outName = spec.kind === 'probabilities' ? 'probs' : 'logits';
  const nodes = [
    node('Flatten', ['input'], ['flat'], [intAttr('axis', 1)]),
    node('MatMul', ['flat', 'W'], ['mm']),
    node('Add', ['mm', 'b'], [spec.kind === 'probabilities' ? 'z' : 'logits']),
    ...(spec.kind === 'probabilities' ? [node('Softmax', ['z'], ['probs'], [intAttr('axis', 1)])] : []),
  ];
  const graph = msg(7, [
    ...nodes,
    str(2, 'tiny-emotion'),
    tensor(5, 'W', [n, 7], w),
    tensor(5, 'b', [7], b),
    valueInfo(11, 'input', ['N', channels, size, size]),
    valueInfo(12, outName, ['N', 7]),
  ]);
  const model = [...int(1, 7), ...str(2, 'emolens-tests'), ...graph, ...msg(8, [str(1, ''), int(2, 13)])];
  return Uint8Array.from(model);
}

export function tinySidecar(spec: TinyModelSpec = {}, name = 'tiny'): EmotionModelSidecar {
  const size = spec.inputSize ?? 44;
  const channels = spec.channels ?? 1;
  return {
    format: CONTRACT_FORMAT,
    name,
    task: 'emotion',
    labels: [...EMOTIONS],
    input: { name: 'input', layout: 'NCHW', channels, height: size, width: size, dtype: 'float32', dynamicBatch: true },
    output: { name: spec.kind === 'probabilities' ? 'probs' : 'logits', kind: spec.kind ?? 'logits' },
    preprocess: {
      faceCrop: { policy: 'fer2013', size: 48, eyeY: 0.4, eyeDistance: 0.42 },
      grayscale: { weights: [0.299, 0.587, 0.114] },
      equalize: false,
      centerCrop: size,
      scale: 1 / 255,
      mean: Array(channels).fill(0.5),
      std: Array(channels).fill(0.25),
    },
    tta: { hflip: true, inGraph: true },
    metrics: {},
    training: { arch: 'tiny-linear (test fixture)' },
    parameters: channels * size * size * 7 + 7,
    macs: channels * size * size * 7,
    sha256: '',
    provenance: 'test/helpers/tiny-model.ts',
  };
}

/** Write `<dir>/<name>.onnx` + `.json`; returns the .onnx path. */
export function writeTinyModel(dir: string, name = 'tiny', spec: TinyModelSpec = {}): string {
  mkdirSync(dir, { recursive: true });
  const onnx = join(dir, `${name}.onnx`);
  writeFileSync(onnx, tinyModelBytes(spec));
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(tinySidecar(spec, name), null, 2));
  return onnx;
}
