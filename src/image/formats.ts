/**
 * The one list of image file extensions emolens picks up when it scans a folder or a glob (`emolens analyze`,
 * the `emolens eval` label folders): the formats sharp decodes here (README "Limits": JPEG, PNG, WebP, GIF's first
 * frame; also AVIF and TIFF). BMP is not on it: sharp's libvips cannot decode it, so listing it only produced
 * "unsupported image format" errors. No imports, so the CLI's `--help` path stays light.
 */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.avif', '.tif', '.tiff']);

/** "`.jpg .jpeg .png …`", for messages that say what was looked for. */
export const IMAGE_EXTENSION_LIST = [...IMAGE_EXTENSIONS].join(' ');

/** Whether a file name ends in one of IMAGE_EXTENSIONS (case-insensitive). */
export function isImageFileName(name: string): boolean {
  const dot = name.lastIndexOf('.');
  return dot >= 0 && IMAGE_EXTENSIONS.has(name.slice(dot).toLowerCase());
}
