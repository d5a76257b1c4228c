/**
 * src/bench/: which comparison packages are missing decides whether `emolens bench` compares (a user's install has
 * none of them: they are devDependencies). Timing itself is never tested — a benchmark is a script that prints numbers.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { COMPARISON_PACKAGES, missingComparisonPackages } from '../src/bench/packages.js';

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
