/**
 * The "why?" view of a result card: a face's saliency map (over its aligned 48 px crop) drawn over that face in the
 * annotated image, through the crop → image transform the aligner used. DOM and canvas only; the maps come from
 * the worker (src/explain/ via the analyzer), the colours from src/explain/heatmap.ts.
 */
import { heatmapRgba } from '../explain/heatmap.js';
import type { FaceSaliency } from './protocol.js';

/** Draw `map` over its face on `canvas` (image pixel coordinates = canvas pixels, as drawAnnotated sets them). */
export function drawSaliency(canvas: HTMLCanvasElement, map: FaceSaliency): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const tile = document.createElement('canvas');
  tile.width = map.width;
  tile.height = map.height;
  tile.getContext('2d')?.putImageData(new ImageData(heatmapRgba(map, 0.75), map.width, map.height), 0, 0);
  const m = map.cropToImage;
  ctx.save();
  ctx.setTransform(m.a, m.c, m.b, m.d, m.tx, m.ty);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(tile, 0, 0);
  ctx.restore();
}
