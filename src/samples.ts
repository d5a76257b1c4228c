/**
 * The sample photos that ship with emolens (assets/demo/: six group photos, 3–5 faces each; provenance and licence
 * in assets/demo/README.md). `emolens demo` analyses them and `emolens bench` times them by default, so neither
 * needs a comparison library installed. The folder is found relative to this module, which sits one level below the
 * package root both as src/samples.ts (tsx) and as dist/samples.js (built).
 */
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { EmolensError } from './errors.js';

export const SAMPLE_PHOTOS_DIR = fileURLToPath(new URL('../assets/demo/', import.meta.url));

/** sample1.jpg … sampleN.jpg in assets/demo/, in numeric order. */
export function samplePhotos(dir = SAMPLE_PHOTOS_DIR): string[] {
  const photos = existsSync(dir)
    ? readdirSync(dir).filter((f) => /^sample\d+\.jpg$/.test(f)).sort((a, b) => parseInt(a.slice(6)) - parseInt(b.slice(6)))
    : [];
  if (photos.length === 0) throw new EmolensError('DEMO_PHOTOS_MISSING', `no sample photos in ${dir} (a broken install? they ship in the emolens package)`);
  return photos.map((f) => join(dir, f));
}
