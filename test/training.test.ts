// The model factory's own tests (training/tests, Python unittest) run from here so `npm test` covers both halves.
// They train 2 steps on generated data and check export -> onnxruntime-node agreement; no real model is trained.
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';

const hasTorch = spawnSync('bash', ['training/py.sh', '-c', 'import torch, numpy, PIL'], { encoding: 'utf8' }).status === 0;

test('training/: loaders, registry, 2-step train, export agrees with ONNX Runtime', { skip: hasTorch ? false : 'no python3 with PyTorch (run `npm run setup:training`)' }, () => {
  const r = spawnSync('bash', ['training/py.sh', '-m', 'unittest', 'discover', '-s', 'training/tests', '-t', '.'], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1', PYTHONWARNINGS: 'ignore' },
    timeout: 300_000,
  });
  const tail = (r.stderr ?? '').split('\n').slice(-25).join('\n');
  assert.equal(r.status, 0, `python unittest failed:\n${tail}`);
  assert.match(r.stderr, /Ran \d+ tests/);
  assert.match(r.stderr, /\nOK/);
});
