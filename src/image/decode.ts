/**
 * Node-only image decoding: a file path, an encoded buffer or raw RGBA → the RgbaImage the pipeline core sees.
 * sharp (libvips) decodes JPEG, PNG, WebP, GIF (first frame), AVIF and TIFF, and applies the EXIF orientation.
 *
 * Limits (memory stays bounded):
 * - The pixel count is read from the header and checked against `maxPixels` (default 50 MP) BEFORE any pixel is
 *   decoded; sharp's own `limitInputPixels` is set to the same value as a second guard. A 50 MP photo decodes to
 *   200 MB of RGBA; nothing else in the pipeline copies the full image (the detector resizes to its 256 px input
 *   and align samples face crops straight from the source).
 * - Truncated or corrupt pixel data is an error (sharp `failOn: 'truncated'`), not a silently grey image.
 */
import { readFile, stat } from 'node:fs/promises';
import sharp, { type Metadata, type Sharp } from 'sharp';
import { EmolensError, ImageTooLargeError, InputNotFoundError, InvalidImageError } from '../errors.js';
import type { GrayImage, RgbaImage } from '../types.js';
import { resizeGrayBilinear, toGray8 } from './gray-resize.js';
import { assertRgbaImage, DEFAULT_MAX_PIXELS } from './rgba.js';

export { DEFAULT_MAX_PIXELS };

export interface DecodeOptions {
  /** Refuse images with more pixels than this (checked from the header, before decoding). Default 50 MP. */
  maxPixels?: number;
  /** Name used in error messages when the input is a buffer (default "image buffer"). */
  name?: string;
}

/** A decoded image plus what the header said. */
export interface DecodedImage extends RgbaImage {
  data: Uint8Array;
  /** Container format as sharp names it ("jpeg", "png", "webp", "gif", …); "raw" for RgbaImage input. */
  format: string;
}

/**
 * Decode an image into RGBA pixels, upright (EXIF orientation applied).
 * @throws InputNotFoundError for a missing file; InvalidImageError for an empty file, a directory, data that is
 * not an image or is truncated; ImageTooLargeError when the header says it is over `maxPixels`.
 * @example
 * const image = await decodeImage('party.jpg');          // { data, width, height, format: 'jpeg' }
 * const fromBuffer = await decodeImage(await readFile('party.webp'), { maxPixels: 20e6 });
 */
export async function decodeImage(input: string | Buffer | Uint8Array | RgbaImage, options: DecodeOptions = {}): Promise<DecodedImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!(Number.isFinite(maxPixels) && maxPixels > 0)) throw new InvalidImageError('maxPixels', `must be a positive number, got ${maxPixels}`);

  if (typeof input === 'string') return decodeEncoded(await readImageFile(input), input, maxPixels);
  if (input instanceof Uint8Array) return decodeEncoded(input, options.name ?? 'image buffer', maxPixels);
  return checkRaw(input, options.name ?? 'image', maxPixels);
}

/**
 * The one way emolens opens an encoded image with sharp: every decoder (RGBA for the analyzer, gray for face crops
 * and data sets) starts here, so all of them apply the EXIF orientation the same way (the pixels come out upright,
 * as photo viewers show them), take a GIF's first frame and refuse truncated data instead of padding it with grey.
 * `maxPixels` sets sharp's own pixel limit (a second guard behind the header check in `decodeImage`).
 */
export function openImage(input: string | Uint8Array, options: { maxPixels?: number } = {}): Sharp {
  const limit = options.maxPixels === undefined ? {} : { limitInputPixels: Math.floor(options.maxPixels) };
  return sharp(input, { failOn: 'truncated', autoOrient: true, pages: 1, ...limit });
}

async function readImageFile(path: string): Promise<Uint8Array> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') throw new InputNotFoundError(path);
    throw new InvalidImageError(path, `cannot read (${(err as Error).message})`);
  }
  if (info.isDirectory()) throw new InvalidImageError(path, 'is a directory, not an image');
  if (info.size === 0) throw new InvalidImageError(path, 'empty file');
  try {
    return await readFile(path);
  } catch (err) {
    throw new InvalidImageError(path, `cannot read (${(err as Error).message})`);
  }
}

async function decodeEncoded(bytes: Uint8Array, what: string, maxPixels: number): Promise<DecodedImage> {
  if (bytes.length === 0) throw new InvalidImageError(what, 'empty file');
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false, pages: 1 }).metadata();
  } catch (err) {
    throw translateSharpError(err, what);
  }
  const { width, height } = meta;
  if (!width || !height) throw new InvalidImageError(what, 'not an image (no dimensions in the header)');
  if (width * height > maxPixels) throw new ImageTooLargeError(what, width, height, maxPixels);

  try {
    const { data, info } = await openImage(bytes, { maxPixels }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 4) throw new InvalidImageError(what, `decoded to ${info.channels} channels, expected 4`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, format: meta.format ?? 'unknown' };
  } catch (err) {
    if (err instanceof EmolensError) throw err;
    throw translateSharpError(err, what, { width, height, maxPixels });
  }
}

function checkRaw(image: RgbaImage, what: string, maxPixels: number): DecodedImage {
  assertRgbaImage(image, { what, expected: 'an image path, buffer or { data, width, height } RGBA image', maxPixels });
  const data = image.data instanceof Uint8Array ? image.data : new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  return { data, width: image.width, height: image.height, format: 'raw' };
}

/** sharp/libvips error text → one clear line. */
function translateSharpError(err: unknown, what: string, size?: { width: number; height: number; maxPixels: number }): EmolensError {
  const message = err instanceof Error ? err.message : String(err);
  if (/unsupported image format/i.test(message)) return new InvalidImageError(what, 'not an image (unrecognised format)');
  if (/pixel limit/i.test(message) && size) return new ImageTooLargeError(what, size.width, size.height, size.maxPixels);
  if (/premature end|truncat|unexpected end|not enough data|read error|out of data|corrupt|damaged|invalid|bad /i.test(message)) {
    return new InvalidImageError(what, `truncated or corrupt image data (${firstLine(message)})`);
  }
  return new InvalidImageError(what, `cannot decode (${firstLine(message)})`);
}

function firstLine(text: string): string {
  return text.split('\n')[0].trim().slice(0, 160);
}

/**
 * Decode an already-cropped face photo (e.g. a FER2013 48x48 JPEG) into the gray crop the classifier takes, with the
 * same arithmetic as `emolens eval` and training (PIL): luma in 16-bit fixed point from `lumaWeights` (PIL's own
 * constants for the ITU-R 601 weights), then PIL's bilinear resize to `size` square when it is not already.
 */
export async function decodeFaceCrop(input: string | Buffer | Uint8Array | RgbaImage, size: number, lumaWeights: readonly [number, number, number], options: DecodeOptions = {}): Promise<GrayImage> {
  const image = await decodeImage(input, options);
  const crop = toGray8(image.data, image.width, image.height, 4, lumaWeights);
  return image.width === size && image.height === size ? crop : resizeGrayBilinear(crop, size, size);
}
