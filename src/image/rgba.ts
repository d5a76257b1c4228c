/**
 * The one check of an RgbaImage handed in from outside (any caller may pass anything): the analyzer, the detector
 * and the Node decoder all call it, so a bad image gets the same InvalidImageError wherever it enters.
 * Browser-safe; decoding lives in decode.ts (Node) and the web worker.
 */
import { ImageTooLargeError, InvalidImageError } from '../errors.js';
import type { RgbaImage } from '../types.js';

/**
 * The library's default image limit (`maxPixels` of decodeImage and createAnalyzer): 50 megapixels (e.g. 8660x5773),
 * 200 MB once decoded to RGBA. Here, not in decode.ts, so the CLI's help can show it without loading sharp.
 */
export const DEFAULT_MAX_PIXELS = 50_000_000;

export interface RgbaCheckOptions {
  /** Name in error messages (a file name, "image", "frame 12"). Default "image". */
  what?: string;
  /** What the caller accepts, said when the input is not an image at all. */
  expected?: string;
  /** Refuse images over this many pixels (ImageTooLargeError), checked before the byte count. */
  maxPixels?: number;
}

/** Throws InvalidImageError unless `image` is `{ data, width, height }` with width·height·4 bytes of data. */
export function assertRgbaImage(image: RgbaImage, options: RgbaCheckOptions = {}): void {
  const what = options.what ?? 'image';
  if (!image || typeof image !== 'object' || !image.data) {
    throw new InvalidImageError(what, `not ${options.expected ?? 'an RGBA image ({ data, width, height })'}`);
  }
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new InvalidImageError(what, `invalid size ${width}x${height}`);
  }
  if (options.maxPixels !== undefined && width * height > options.maxPixels) throw new ImageTooLargeError(what, width, height, options.maxPixels);
  if (data.length !== width * height * 4) {
    throw new InvalidImageError(what, `has ${data.length} bytes, expected ${width * height * 4} for ${width}x${height} RGBA`);
  }
}
