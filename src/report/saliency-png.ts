/**
 * A saliency map as a PNG file's bytes: the map blended over its gray face crop (src/explain/heatmap.ts), enlarged
 * `scale` times so a 48 px crop is readable. Node-only (sharp); the web app draws the same RGBA on a canvas.
 */
import sharp from 'sharp';
import { overlayRgba, type SaliencyMap } from '../explain/index.js';
import type { GrayImage } from '../types.js';

export async function encodeOverlayPng(crop: GrayImage, map: SaliencyMap, scale = 4): Promise<Buffer> {
  const rgba = overlayRgba(crop, map);
  return sharp(Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength), { raw: { width: crop.width, height: crop.height, channels: 4 } })
    .resize(crop.width * scale, crop.height * scale, { kernel: 'cubic' })
    .png()
    .toBuffer();
}

/** The gray crop itself as a PNG (beside its overlay in the eval report). */
export async function encodeGrayPng(crop: GrayImage, scale = 1): Promise<Buffer> {
  const data = Buffer.from(Uint8Array.from(crop.data));
  return sharp(data, { raw: { width: crop.width, height: crop.height, channels: 1 } })
    .resize(crop.width * scale, crop.height * scale, { kernel: 'nearest' })
    .png()
    .toBuffer();
}
