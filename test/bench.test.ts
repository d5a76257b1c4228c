/**
 * src/bench/: which comparison packages are missing decides whether `emolens bench` compares (a user's install has
 * none of them: they are devDependencies), and the shape of `emolens bench --json` (every shipped model with its
 * ratios, one round on one photo). Timing itself is never tested — a benchmark is a script that prints numbers.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { BenchResult } from '../src/bench/index.js';
import { COMPARISON_PACKAGES, missingComparisonPackages } from '../src/bench/packages.js';
import { formatBench } from '../src/cli/bench.js';
import { DEFAULT_EMOTION_MODEL, SHIPPED_EMOTION_MODELS } from '../src/env/models.js';
import { bundledModelNames, MODELS_DIR } from '../src/env/node.js';
import { ensureBuiltCli, runCli } from './helpers/cli.js';
import { SAMPLE_PHOTOS } from './helpers/fixtures.js';

const ROOT = join(import.meta.dirname, '..');

describe('bench comparison packages', () => {
  it('are devDependencies, so a user\'s install does not carry them', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    for (const name of COMPARISON_PACKAGES) {
      assert.ok(name in pkg.devDependencies, `${name} in devDependencies`);
      assert.ok(!(name in pkg.dependencies), `${name} not in dependencies`);
    }
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
    for (const [path, entry] of Object.entries<{ dev?: boolean }>(lock.packages)) {
      if (/node_modules\/@(tensorflow|vladmandic)\//.test(path)) assert.equal(entry.dev, true, `${path} is dev-only in the lockfile`);
    }
  });

  it('lists exactly the packages that do not resolve', () => {
    assert.deepEqual(missingComparisonPackages(() => true), []);
    assert.deepEqual(missingComparisonPackages((name) => !name.startsWith('@tensorflow/')), ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm']);
    assert.deepEqual(missingComparisonPackages(() => false), [...COMPARISON_PACKAGES]);
    // In this checkout the devDependencies are installed.
    assert.deepEqual(missingComparisonPackages(), []);
  });
});

describe('emolens bench: every shipped emotion model', () => {
  // The shipped models in this checkout (the fast model may not have landed in every checkout yet).
  const shipped = SHIPPED_EMOTION_MODELS.filter((name) => bundledModelNames(MODELS_DIR, 'emotion').includes(name));
  let result: BenchResult;
  let stderr: string;

  before(() => {
    ensureBuiltCli();
    // One photo, one round: this pins the JSON's shape, not any timing.
    const r = runCli('bench', '--json', '--rounds', '1', '--images', SAMPLE_PHOTOS[5]);
    assert.equal(r.code, 0, r.stderr);
    result = JSON.parse(r.stdout) as BenchResult;
    stderr = r.stderr;
  });

  it('--json lists every shipped model, the default first, each with its ratios to face-api and Human', () => {
    assert.ok(shipped.length >= 1 && shipped[0] === DEFAULT_EMOTION_MODEL);
    assert.deepEqual(result.models.map((m) => m.name), shipped);
    for (const name of SHIPPED_EMOTION_MODELS.filter((n) => !shipped.includes(n))) assert.match(stderr, new RegExp(`bench: .*${name}.* not in `));
    const peers = result.classifiers.slice(2 * shipped.length);
    assert.deepEqual(peers.map((c) => c.name), ['face-api FaceExpressionNet', 'Human emotion (mini-Xception)']);
    result.models.forEach((m, k) => {
      assert.equal(m.timing.name, `emolens ${m.name}`);
      assert.deepEqual(result.classifiers[2 * k], m.timing, 'its rows in classifiers');
      assert.deepEqual(result.classifiers[2 * k + 1], m.singleThread);
      assert.equal(m.singleThread.name, `emolens ${m.name} (1 thread)`);
      assert.ok(m.macs! > 0 && m.parameters! > 0 && m.valAccuracy! > 0 && m.valAccuracy! < 1);
      assert.deepEqual(m.ratios.map((q) => q.versus), peers.map((c) => c.name));
      m.ratios.forEach((q, i) => {
        assert.ok(Math.abs(q.batch1 - peers[i].batch1MsPerFace / m.timing.batch1MsPerFace) < 1e-9);
        assert.ok(Math.abs(q.batch32! - peers[i].batch32MsPerFace! / m.timing.batch32MsPerFace!) < 1e-9);
        assert.ok(Math.abs(q.batch32SingleThread! - peers[i].batch32MsPerFace! / m.singleThread.batch32MsPerFace!) < 1e-9);
      });
      // Agreement is with the first model: measured for the others' default-thread row and for the peers.
      assert.equal(m.timing.agreement === undefined, k === 0);
      assert.equal(m.singleThread.agreement, undefined);
    });
    assert.ok(peers.every((c) => c.agreement! >= 0 && c.agreement! <= 1));
  });

  it('keeps the fields older readers use for the default model', () => {
    assert.equal(result.model.name, DEFAULT_EMOTION_MODEL);
    assert.equal(result.classifiers[0].name, `emolens ${DEFAULT_EMOTION_MODEL}`);
    assert.deepEqual(result.ratios, result.models[0].ratios);
    assert.equal(result.faces, 4, 'sample6 has four faces');
  });

  it('the table has a speed-up block per model', () => {
    const text = formatBench(result);
    for (const m of result.models) {
      assert.match(text, new RegExp(`^model ${m.name}: [\\d,]+ params, [\\d.]+ M multiply-adds per face, ([\\d.]+% FER\\+ majority val, )?[\\d.]+% FER2013-label val$`, 'm'));
      assert.match(text, new RegExp(`^speed-up of ${m.name} \\(`, 'm'));
      assert.match(text, new RegExp(`^emolens ${m.name} \\(1 thread\\) +44x44x1`, 'm'));
    }
    assert.match(text, /^face-api FaceExpressionNet +\d+\.\dx +\d+\.\dx/m);
  });

  it('--model times that model alone', () => {
    const r = runCli('bench', '--json', '--rounds', '1', '--no-compare', '--images', SAMPLE_PHOTOS[5], '--model', shipped[shipped.length - 1]);
    assert.equal(r.code, 0, r.stderr);
    const one = JSON.parse(r.stdout) as BenchResult;
    assert.deepEqual(one.models.map((m) => m.name), [shipped[shipped.length - 1]]);
    assert.deepEqual(one.classifiers.map((c) => c.name), [`emolens ${one.model.name}`, `emolens ${one.model.name} (1 thread)`]);
    assert.deepEqual(one.ratios, []);
  });
});
