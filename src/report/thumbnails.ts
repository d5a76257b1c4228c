/**
 * One thumbnail per video track for the `emolens video --report` page: a small JPEG of the face, cut from the
 * frame where the track's detection was best (score × visible box area, so a large, sure face wins over a small or
 * half-hidden one). Only the current best JPEG per track is kept (a few kB), never frames, so memory does not grow
 * with the video. Node-only (sharp); the page embeds the results as data: URLs (video-html.ts).
 */
import sharp from 'sharp';
import type { Box, RgbaImage } from '../types.js';

/** Longest side of a thumbnail in px. */
export const THUMBNAIL_PX = 112;

/**
 * A new crop must beat the kept one by this factor: a face's score and box wobble from frame to frame, and
 * re-encoding for a 1 % gain would cost a JPEG encode on most frames.
 */
const IMPROVEMENT = 1.15;

/** Margin around the face box, as a share of its side (shows hair and chin, like the web app's cards). */
const MARGIN = 0.2;

interface Kept {
  quality: number;
  jpeg: Buffer;
}

export class TrackThumbnails {
  private readonly best = new Map<number, Kept>();

  /** Offer a frame's faces; crops the ones that beat their track's thumbnail. Awaiting keeps one encode in flight. */
  async offer(image: RgbaImage, faces: ReadonlyArray<{ id: number; box: Box; score: number }>): Promise<void> {
    for (const face of faces) {
      const region = cropRegion(face.box, image.width, image.height);
      if (!region) continue;
      const quality = face.score * (region.width * region.height);
      const kept = this.best.get(face.id);
      if (kept && quality < kept.quality * IMPROVEMENT) continue;
      const jpeg = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 4 } })
        .extract(region)
        .resize(THUMBNAIL_PX, THUMBNAIL_PX, { fit: 'inside' })
        .flatten({ background: '#ffffff' })
        .jpeg({ quality: 80 })
        .toBuffer();
      this.best.set(face.id, { quality, jpeg });
    }
  }

  /** `data:image/jpeg;base64,…` per track id. */
  dataUrls(): Record<number, string> {
    const out: Record<number, string> = {};
    for (const [id, kept] of [...this.best.entries()].sort((a, b) => a[0] - b[0])) out[id] = `data:image/jpeg;base64,${kept.jpeg.toString('base64')}`;
    return out;
  }
}

/** The face box plus margin, clipped to the frame, in whole px; undefined when nothing of it is inside. */
function cropRegion(box: Box, width: number, height: number): { left: number; top: number; width: number; height: number } | undefined {
  const m = MARGIN * Math.max(box.width, box.height);
  const left = Math.max(0, Math.floor(box.x - m));
  const top = Math.max(0, Math.floor(box.y - m));
  const right = Math.min(width, Math.ceil(box.x + box.width + m));
  const bottom = Math.min(height, Math.ceil(box.y + box.height + m));
  if (right - left < 2 || bottom - top < 2) return undefined;
  return { left, top, width: right - left, height: bottom - top };
}
