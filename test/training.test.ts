// The model factory's own tests (training/tests, Python unittest) run from here so `npm test` covers both halves.
// They train 2 steps of every registered architecture on generated data, distil from the shipped model and check
// export -> onnxruntime-node agreement, check train.py --cpu-budget-min and that training/metrics.py's ECE equals
// src/eval/calibration.ts's (test_zoo.py); no real model is trained. Without PyTorch they skip, but fail under CI=true
// (test/helpers/prerequisites.ts); a Python test that skips (python3-onnx missing) says so here, and fails in CI.
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PYTORCH, requires } from './helpers/prerequisites.js';

test('training/: loaders, registry, 2-step train, distillation, export agrees with ONNX Runtime', requires(PYTORCH), (t) => {
  const r = spawnSync('bash', ['training/py.sh', '-m', 'unittest', 'discover', '-s', 'training/tests', '-t', '.'], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1', PYTHONWARNINGS: 'ignore' },
    // Catches a hung run only: the CPU time is well under a minute, but a busy 2-core machine took 11 minutes.
    timeout: 900_000,
  });
  // unittest prints each failure between ===== lines before "Ran N tests": that part, not the last lines, says what broke
  const stderr = r.stderr ?? '';
  const first = stderr.search(/^(FAIL|ERROR): /m);
  const failures = (first >= 0 ? stderr.slice(first) : stderr).split('\n').slice(0, 120).join('\n');
  assert.equal(r.status, 0, `python unittest failed (exit ${r.status}${r.signal ? `, ${r.signal}` : ''}):\n${failures}`);
  assert.match(r.stderr, /Ran \d+ tests/);
  assert.match(r.stderr, /\nOK/);
  const skipped = /\nOK \(skipped=(\d+)\)/.exec(r.stderr);
  if (skipped) t.diagnostic(`${skipped[1]} python test(s) skipped: run \`bash training/py.sh -m unittest discover -s training/tests -t . -v\` to see why`);
});
