import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { ImageTooLargeError, InputNotFoundError, InvalidImageError } from '../src/errors.js';
import { decodeFaceCrop, decodeImage } from '../src/image/decode.js';
import { decodeGray, readGrayFace } from '../src/image/datasets.js';
import { PIL_LUMA_WEIGHTS } from '../src/image/gray-resize.js';
import { writeBadImages } from './helpers/bad-images.js';
import { SAMPLE_PHOTOS, tempDir } from './helpers/fixtures.js';

/** 40x20 image: left half red, right half blue. */
const twoTone = () => {
  const raw = Buffer.alloc(40 * 20 * 3);
  for (let y = 0; y < 20; y++) for (let x = 0; x < 40; x++) raw.set(x < 20 ? [255, 0, 0] : [0, 0, 255], (y * 40 + x) * 3);
  return sharp(raw, { raw: { width: 40, height: 20, channels: 3 } });
};
const pixel = (img: { data: Uint8Array; width: number }, x: number, y: number) => Array.from(img.data.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 4));

describe('decodeImage', () => {
  it('decodes JPEG, PNG, WebP and GIF to RGBA', async () => {
    for (const [format, encode] of [
      ['png', (s: sharp.Sharp) => s.png()],
      ['jpeg', (s: sharp.Sharp) => s.jpeg({ quality: 95 })],
      ['webp', (s: sharp.Sharp) => s.webp({ lossless: true })],
      ['gif', (s: sharp.Sharp) => s.gif()],
    ] as const) {
      const image = await decodeImage(await encode(twoTone()).toBuffer());
      assert.equal(image.format, format);
      assert.equal(image.width, 40);
      assert.equal(image.height, 20);
      assert.equal(image.data.length, 40 * 20 * 4);
      const [r, , b, a] = pixel(image, 5, 5);
      assert.ok(r > 200 && b < 60 && a === 255, `${format}: left half is red, got ${pixel(image, 5, 5)}`);
      assert.ok(pixel(image, 35, 5)[2] > 200, `${format}: right half is blue`);
    }
  });

  it('reads the first frame of an animated GIF', async () => {
    const frames = Buffer.concat([Buffer.alloc(8 * 8 * 4, 255), Buffer.alloc(8 * 8 * 4, 0)]);
    for (let i = 3; i < frames.length; i += 4) frames[i] = 255;
    const gif = await sharp(frames, { raw: { width: 8, height: 16, channels: 4, pageHeight: 8 } as sharp.CreateRaw }).gif({ loop: 0, delay: [100, 100] }).toBuffer();
    const image = await decodeImage(gif);
    assert.equal(image.height, 8, 'one frame, not the strip of frames');
    assert.ok(pixel(image, 4, 4)[0] > 200, 'first (white) frame');
  });

  it('applies the EXIF orientation', async () => {
    // Stored 40x20 (red left), EXIF 6 = "rotate 90° clockwise to view": upright it is 20x40 with red on top.
    const jpeg = await twoTone().jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    assert.equal((await sharp(jpeg).metadata()).orientation, 6);
    const image = await decodeImage(jpeg);
    assert.deepEqual([image.width, image.height], [20, 40]);
    assert.ok(pixel(image, 10, 5)[0] > 200, 'red on top after rotation');
    assert.ok(pixel(image, 10, 35)[2] > 200, 'blue at the bottom after rotation');
  });

  it('decodes a file path, and accepts decoded RGBA as is', async () => {
    const photo = await decodeImage(SAMPLE_PHOTOS[0]);
    assert.deepEqual([photo.width, photo.height, photo.format], [1920, 1280, 'jpeg']);
    const raw = { data: new Uint8ClampedArray(4 * 6), width: 3, height: 2 };
    const passed = await decodeImage(raw);
    assert.deepEqual([passed.width, passed.height, passed.format], [3, 2, 'raw']);
    await assert.rejects(decodeImage({ data: new Uint8Array(5), width: 3, height: 2 }), /has 5 bytes, expected 24/);
  });

  it('decodes a face crop photo to the classifier\'s gray crop', async () => {
    const gray = Buffer.alloc(48 * 48, 0);
    for (let i = 0; i < gray.length; i++) gray[i] = i % 48 < 24 ? 30 : 220;
    const png = await sharp(gray, { raw: { width: 48, height: 48, channels: 1 } }).png().toBuffer();
    const crop = await decodeFaceCrop(png, 48, [0.299, 0.587, 0.114]);
    assert.deepEqual([crop.width, crop.height], [48, 48]);
    assert.ok(Math.abs(crop.data[5] - 30) < 1 && Math.abs(crop.data[40] - 220) < 1);
    const small = await decodeFaceCrop(png, 24, [0.299, 0.587, 0.114]);
    assert.equal(small.width, 24);
    // The same pixels as eval's PIL-exact reader, so classifyFace(file) and `emolens eval` agree.
    const file = join(tmpdir(), `emolens-facecrop-${process.pid}.png`);
    await sharp(gray, { raw: { width: 48, height: 48, channels: 1 } }).tint({ r: 200, g: 90, b: 40 }).png().toFile(file);
    try {
      for (const side of [48, 24]) {
        const viaCrop = await decodeFaceCrop(file, side, [0.299, 0.587, 0.114]);
        const viaEval = await readGrayFace(file, side);
        assert.deepEqual(Array.from(viaCrop.data), Array.from(viaEval.data));
      }
    } finally {
      rmSync(file, { force: true });
    }
  });
});

describe('EXIF orientation: every decoder reads a rotated face upright, the same way', () => {
  it('a face crop stored rotated with EXIF orientation 6 decodes to the upright original\'s pixels', async () => {
    // A real face (sample 6's first face), not square so a swapped width/height shows. PNG keeps the pixels
    // exact, so "the same pixels" is an equality, not a tolerance.
    const face = await sharp(SAMPLE_PHOTOS[5]).extract({ left: 640, top: 350, width: 272, height: 300 }).resize(68, 75).png().toBuffer();
    // Stored turned 90° anticlockwise; orientation 6 tells viewers to turn it 90° clockwise back upright.
    const rotated = await sharp(face).rotate(-90).png().withMetadata({ orientation: 6 }).toBuffer();
    const stored = await sharp(rotated).metadata();
    assert.deepEqual([stored.orientation, stored.width, stored.height], [6, 75, 68]);
    const dir = tempDir('emolens-exif-');
    try {
      const [uprightFile, rotatedFile] = [join(dir, 'upright.png'), join(dir, 'rotated.png')];
      writeFileSync(uprightFile, face);
      writeFileSync(rotatedFile, rotated);

      const rgba = await decodeImage(rotatedFile);
      assert.deepEqual([rgba.width, rgba.height], [68, 75]);
      assert.ok(Buffer.from(rgba.data).equals(Buffer.from((await decodeImage(uprightFile)).data)), 'decodeImage: upright pixels');

      const gray = await decodeGray(rotatedFile);
      assert.deepEqual([gray.width, gray.height], [68, 75]);
      assert.deepEqual(gray.data, (await decodeGray(uprightFile)).data, 'decodeGray (eval data sets): upright pixels');

      const crops = await Promise.all([
        decodeFaceCrop(rotatedFile, 48, PIL_LUMA_WEIGHTS), decodeFaceCrop(uprightFile, 48, PIL_LUMA_WEIGHTS),
        readGrayFace(rotatedFile, 48), readGrayFace(uprightFile, 48),
      ]);
      for (const crop of crops.slice(1)) assert.deepEqual(crop.data, crops[0].data, 'classifyFace and eval crops agree, rotated or not');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('decodeImage errors: one typed, one-line error each', () => {
  let bad: Awaited<ReturnType<typeof writeBadImages>>;
  let dir: string;
  before(async () => {
    dir = tempDir();
    bad = await writeBadImages(dir);
  });

  const rejectsWith = async (input: Parameters<typeof decodeImage>[0], type: new (...args: never[]) => Error, message: RegExp, options = {}) => {
    await assert.rejects(decodeImage(input, options), (err: Error) => {
      assert.ok(err instanceof type, `expected ${type.name}, got ${err.constructor.name}: ${err.message}`);
      assert.match(err.message, message);
      assert.ok(!err.message.includes('\n'), 'one line');
      return true;
    });
  };

  it('missing file', () => rejectsWith(bad.missing, InputNotFoundError, /^file not found: .*does-not-exist\.jpg$/));
  it('empty file', () => rejectsWith(bad.empty, InvalidImageError, /empty\.jpg: empty file$/));
  it('a directory', () => rejectsWith(dir, InvalidImageError, /is a directory, not an image$/));
  it('not an image', () => rejectsWith(bad.text, InvalidImageError, /notes\.jpg: not an image/));
  it('not an image (buffer)', () => rejectsWith(Buffer.from('<html></html>'), InvalidImageError, /^image buffer: not an image/));
  it('truncated JPEG', () => rejectsWith(bad.truncated, InvalidImageError, /truncated\.jpg: truncated or corrupt image data/));
  it('truncated PNG', async () => {
    const png = await twoTone().png({ compressionLevel: 0 }).toBuffer();
    const file = join(dir, 'cut.png');
    writeFileSync(file, png.subarray(0, Math.floor(png.length * 0.6)));
    await rejectsWith(file, InvalidImageError, /cut\.png: (truncated or corrupt image data|cannot decode)/);
  });
  it('header claiming 65535x65535 is refused before decoding', async () => {
    await rejectsWith(bad.huge, ImageTooLargeError, /huge\.png: 65535x65535 pixels is over the limit of 50,000,000 pixels/);
    assert.ok(readFileSync(bad.huge).length < 200, 'the file itself is tiny: only the header says it is huge');
  });
  it('maxPixels applies to real photos too', () => rejectsWith(SAMPLE_PHOTOS[0], ImageTooLargeError, /1920x1280 pixels is over the limit of 1,000,000 pixels/, { maxPixels: 1_000_000 }));
});
