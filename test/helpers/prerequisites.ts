/**
 * What a test needs from the machine beyond node_modules, and the one policy for when it is missing:
 *
 * - Tools that CI installs (.ci/run: Chromium, ffmpeg, python3-torch, python3-onnx) and the built web app: outside CI
 *   the test skips with one line saying what to install; with `CI=true` their absence FAILS the run (a failing test
 *   named after what is missing), because a suite that skips in CI is a suite that can no longer see failures.
 * - Real data (../shared/datasets): a user's clone has no ../shared, so tests that need it skip with a message, in
 *   CI too.
 *
 * Use: `describe('…', requires(...BROWSER, FFMPEG), () => …)` or `test('…', { ...requires(PYTORCH), timeout }, …)`.
 * Every browser test file uses BROWSER, so the rule cannot drift between them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { hasChromium } from '../fixtures/browser.js';
import { CHROMIUM, hasFfmpeg } from '../fixtures/fake-camera.js';
import { ROOT } from './fixtures.js';

export interface Prerequisite {
  /** What is needed, as the skip or failure message names it. */
  what: string;
  /** How to get it. */
  fix: string;
  /** true: CI installs it, so under CI=true it must be there. false: a user's machine may lack it (real data). */
  requiredInCi: boolean;
  present(): boolean;
}

/** CI=true (GitHub Actions, GitLab and most CI services set it; so can .ci/run's caller). */
export const IN_CI = /^(1|true|yes)$/i.test(process.env.CI ?? '');

/** A probe runs once per process, however many suites ask. */
function once(probe: () => boolean): () => boolean {
  let cached: boolean | undefined;
  return () => (cached ??= probe());
}

export const CHROMIUM_BROWSER: Prerequisite = {
  what: `Chromium (${CHROMIUM})`, fix: 'apt-get install -y chromium', requiredInCi: true, present: once(hasChromium),
};
export const FFMPEG: Prerequisite = {
  what: 'ffmpeg (builds the fake-camera video)', fix: 'apt-get install -y ffmpeg', requiredInCi: true, present: once(hasFfmpeg),
};
export const WEB_BUILD: Prerequisite = {
  what: 'the built web app (dist/web/index.html)', fix: 'npm run build:web', requiredInCi: true,
  present: () => existsSync(join(ROOT, 'dist', 'web', 'index.html')),
};
/** What every test in headless Chromium needs; one with a fake camera adds FFMPEG. */
export const BROWSER: readonly Prerequisite[] = [CHROMIUM_BROWSER, WEB_BUILD];

/** Whether training/py.sh finds a Python that imports these modules. */
function pythonImports(modules: string): boolean {
  return spawnSync('bash', [join(ROOT, 'training', 'py.sh'), '-c', `import ${modules}`], { cwd: ROOT, stdio: 'ignore' }).status === 0;
}
export const PYTORCH: Prerequisite = {
  what: 'python3 with PyTorch, NumPy and Pillow', fix: 'apt-get install -y python3-torch python3-numpy python3-pil (or npm run setup:training)',
  requiredInCi: true, present: once(() => pythonImports('torch, numpy, PIL')),
};
/** training/distill/teacher.py (distillation) reads ONNX graphs. */
export const PYTHON_ONNX: Prerequisite = {
  what: 'python3 with onnx (distillation reads the shipped ONNX model)', fix: 'apt-get install -y python3-onnx',
  requiredInCi: true, present: once(() => pythonImports('onnx')),
};

/** Real data in ../shared (beside the clone): allowed to be absent, in CI too. */
export function sharedData(path: string, name = 'FER2013'): Prerequisite {
  return { what: `${name} at ${path} (../shared is absent)`, fix: 'place the data set there', requiredInCi: false, present: () => existsSync(path) };
}

const reported = new Set<string>();

/**
 * node:test options for a test or suite that needs `prerequisites`: `{ skip: false }` when all are present, else
 * `{ skip: '<what> not found — <fix>' }`. Under CI=true a missing prerequisite that CI installs also adds one
 * failing top-level test naming it, so the run fails instead of passing with the suite skipped.
 */
export function requires(...prerequisites: Prerequisite[]): { skip: string | false } {
  const missing = prerequisites.filter((p) => !p.present());
  if (missing.length === 0) return { skip: false };
  for (const p of missing) {
    if (!IN_CI || !p.requiredInCi || reported.has(p.what)) continue;
    reported.add(p.what);
    test(`CI prerequisite: ${p.what}`, () => {
      throw new Error(`${p.what} not found, but CI=true and CI installs it (.ci/run): ${p.fix}`);
    });
  }
  return { skip: missing.map((p) => `${p.what} not found — ${p.fix}`).join('; ') };
}
