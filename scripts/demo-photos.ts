/**
 * Regenerates assets/demo/sample1..6.jpg — the photos `emolens demo` and `emolens bench` use — from the originals in
 * @vladmandic/face-api's demo/ folder (a devDependency; see assets/demo/README.md for provenance and licence).
 * A script, run by hand; its output is committed.
 *
 *   node --import tsx scripts/demo-photos.ts
 *
 * Each photo is shrunk to a long side of 1280 px and re-encoded with mozjpeg at quality 80, or lower (one step at a
 * time) until it fits 150 KB. At these settings every face the full-size originals give is still found, with the
 * same dominant emotion (checked with the shipped emolens-fer; quality 75–78 flipped borderline faces).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import sharp from 'sharp';

const LONG_SIDE_PX = 1280;
const START_QUALITY = 80;
const MAX_BYTES = 150 * 1024;

const source = join(dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json')), 'demo');
const target = join(import.meta.dirname, '..', 'assets', 'demo');
mkdirSync(target, { recursive: true });
for (let i = 1; i <= 6; i++) {
  const resized = sharp(join(source, `sample${i}.jpg`)).resize({ width: LONG_SIDE_PX, height: LONG_SIDE_PX, fit: 'inside', withoutEnlargement: true });
  let quality = START_QUALITY;
  let jpeg = await resized.clone().jpeg({ quality, mozjpeg: true }).toBuffer({ resolveWithObject: true });
  while (jpeg.data.length > MAX_BYTES && quality > 60) {
    quality--;
    jpeg = await resized.clone().jpeg({ quality, mozjpeg: true }).toBuffer({ resolveWithObject: true });
  }
  writeFileSync(join(target, `sample${i}.jpg`), jpeg.data);
  console.log(`sample${i}.jpg ${jpeg.info.width}x${jpeg.info.height} quality ${quality} ${(jpeg.data.length / 1024).toFixed(0)} KB`);
}
