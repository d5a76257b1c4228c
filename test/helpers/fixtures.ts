/**
 * Shared test fixtures: the sample photos that ship with emolens (assets/demo/), and the emotion model to test
 * with — the real default `models/emolens-fer.onnx` when it exists, else the generated linear model
 * (test/helpers/tiny-model.ts), so tests never wait for the training run.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeTinyModel } from './tiny-model.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = join(ROOT, 'bin', 'emolens.js');

/** sample1.jpg … sample6.jpg: 1920px group photos (assets/demo/, byte-identical copies of face-api's demo photos). */
export const SAMPLE_PHOTOS = [1, 2, 3, 4, 5, 6].map((i) => join(ROOT, 'assets', 'demo', `sample${i}.jpg`));

let cached: { path: string; real: boolean } | undefined;

/**
 * Path of the emotion model to test with (`real` says whether it is a trained model).
 * EMOLENS_TEST_MODEL=<path.onnx> tests another trained model (e.g. a checkpoint exported to /tmp).
 */
export function testEmotionModel(): { path: string; real: boolean } {
  if (!cached) {
    const real = process.env.EMOLENS_TEST_MODEL ?? join(ROOT, 'models', 'emolens-fer.onnx');
    cached = existsSync(real) && existsSync(real.replace(/\.onnx$/, '.json'))
      ? { path: real, real: true }
      : { path: writeTinyModel(mkdtempSync(join(tmpdir(), 'emolens-tiny-')), 'tiny'), real: false };
  }
  return cached;
}

/** A fresh temp directory. */
export const tempDir = (prefix = 'emolens-test-') => mkdtempSync(join(tmpdir(), prefix));
