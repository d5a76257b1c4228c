/**
 * Annotated copies of analysed photos: per face a box in the colour of its dominant emotion, the landmarks, a
 * "#n emotion %" label and a small bar chart of the 7 probabilities, plus a colour legend. Drawn as one SVG
 * composited by sharp over the decoded pixels (no canvas dependency). Node-only; inference lives elsewhere.
 */
import sharp from 'sharp';
import { clamp, scaleBox } from '../geometry.js';
import { EMOTIONS } from '../labels.js';
import type { AnalysisResult, FaceResult, Landmarks, RgbaImage } from '../types.js';

/** What a face needs to be drawn: a photo's FaceResult, or a tracked video face (no landmarks, its track id). */
export type AnnotatedFace = Pick<FaceResult, 'box' | 'emotions' | 'dominant'> & { landmarks?: Landmarks; id?: number };
import { EMOTION_COLORS } from './palette.js';

export interface AnnotateOptions {
  /** Longest side of the output in px; larger photos are scaled down (default 2048). */
  maxSide?: number;
  /** Output format (default from the file extension in writeAnnotated, else 'jpeg'). */
  format?: 'jpeg' | 'png' | 'webp';
  /** Draw the colour legend (default true when there are faces). */
  legend?: boolean;
}

const round = (v: number) => Math.round(v * 10) / 10;

/** The overlay for an image of `width`x`height` output px; face geometry is scaled by `scale`. */
export function annotationSvg(result: { faces: readonly AnnotatedFace[] }, width: number, height: number, scale = 1, legend = result.faces.length > 0): string {
  const parts: string[] = [];
  const base = Math.max(width, height);
  // Photos number faces in reading order; tracked video faces carry their id.
  result.faces.forEach((face, i) => parts.push(faceSvg(face, face.id ?? i + 1, scale, width, height, base)));
  if (legend) parts.push(legendSvg(width, height, base));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`
    + `<style>text{font-family:'DejaVu Sans','Liberation Sans',Arial,sans-serif}</style>${parts.join('')}</svg>`;
}

function faceSvg(face: AnnotatedFace, index: number, scale: number, width: number, height: number, base: number): string {
  const { x, y, width: w, height: h } = scaleBox(face.box, scale);
  const color = EMOTION_COLORS[face.dominant];
  const stroke = clamp(w / 45, Math.max(2, base / 900), 10);
  const out: string[] = [];
  out.push(`<rect x="${round(x)}" y="${round(y)}" width="${round(w)}" height="${round(h)}" rx="${round(w * 0.05)}" fill="none" stroke="#000" stroke-opacity="0.45" stroke-width="${round(stroke * 2.2)}"/>`);
  out.push(`<rect x="${round(x)}" y="${round(y)}" width="${round(w)}" height="${round(h)}" rx="${round(w * 0.05)}" fill="none" stroke="${color}" stroke-width="${round(stroke)}"/>`);

  const dot = clamp(w / 55, 1.5, 6);
  for (const p of Object.values(face.landmarks ?? {})) {
    if (!p) continue;
    out.push(`<circle cx="${round(p.x * scale)}" cy="${round(p.y * scale)}" r="${round(dot)}" fill="#fff" stroke="#000" stroke-opacity="0.6" stroke-width="${round(dot * 0.5)}"/>`);
  }

  // Label pill: "#1 happy 87%", above the box when it fits, else inside its top edge.
  const font = clamp(w * 0.13, Math.max(12, base / 130), 34);
  const label = `#${index} ${face.dominant} ${Math.round(face.emotions[face.dominant] * 100)}%`;
  const pillH = font * 1.45;
  const pillW = label.length * font * 0.66 + font * 0.8;
  const pillX = clamp(x - stroke / 2, 0, Math.max(0, width - pillW));
  const pillY = y - pillH - stroke / 2 >= 0 ? y - pillH - stroke / 2 : y + stroke / 2;
  out.push(`<rect x="${round(pillX)}" y="${round(pillY)}" width="${round(pillW)}" height="${round(pillH)}" rx="${round(pillH * 0.3)}" fill="${color}"/>`);
  out.push(`<text x="${round(pillX + font * 0.4)}" y="${round(pillY + pillH * 0.72)}" font-size="${round(font)}" font-weight="bold" fill="${textOn(color)}">${label}</text>`);

  // The 7 probabilities as bars in legend order (colours say which), under the box — or above the label
  // when the box touches the bottom. The dominant bar is outlined.
  const panelW = clamp(w, font * 6, font * 9); // big faces get a compact chart, not a billboard
  const pad = panelW * 0.05;
  const barsH = panelW * 0.3;
  const panelH = barsH + pad * 2;
  const panelX = clamp(x + w / 2 - panelW / 2, 0, Math.max(0, width - panelW));
  const below = y + h + stroke + panelH <= height;
  const panelY = below ? y + h + stroke * 0.8 : Math.max(0, pillY - panelH - stroke);
  out.push(`<rect x="${round(panelX)}" y="${round(panelY)}" width="${round(panelW)}" height="${round(panelH)}" rx="${round(pad)}" fill="#111" fill-opacity="0.75"/>`);
  const slot = (panelW - pad * 2) / EMOTIONS.length;
  EMOTIONS.forEach((e, k) => {
    const bh = Math.max(face.emotions[e] * barsH, 1);
    const bx = panelX + pad + k * slot + slot * 0.12;
    const bw = slot * 0.76;
    out.push(`<rect x="${round(bx)}" y="${round(panelY + pad)}" width="${round(bw)}" height="${round(barsH)}" fill="#fff" fill-opacity="0.1"/>`);
    const outline = e === face.dominant ? ` stroke="#fff" stroke-width="${round(Math.max(1, bw * 0.12))}"` : '';
    out.push(`<rect x="${round(bx)}" y="${round(panelY + pad + barsH - bh)}" width="${round(bw)}" height="${round(bh)}" fill="${EMOTION_COLORS[e]}"${outline}/>`);
  });
  return out.join('');
}

function legendSvg(width: number, height: number, base: number): string {
  const font = clamp(base / 85, 11, 30);
  const entries = EMOTIONS.map((e) => ({ e, text: e }));
  const entryW = entries.map(({ text }) => font * (1.6 + text.length * 0.62));
  const totalW = entryW.reduce((a, b) => a + b, 0) + font;
  const h = font * 1.8;
  const x0 = font * 0.6;
  const y0 = height - h - font * 0.6;
  const out = [`<rect x="${round(x0)}" y="${round(y0)}" width="${round(Math.min(totalW, width - 2 * x0))}" height="${round(h)}" rx="${round(h * 0.3)}" fill="#111" fill-opacity="0.72"/>`];
  let x = x0 + font * 0.5;
  entries.forEach(({ e, text }, k) => {
    out.push(`<rect x="${round(x)}" y="${round(y0 + h / 2 - font * 0.4)}" width="${round(font * 0.8)}" height="${round(font * 0.8)}" rx="${round(font * 0.15)}" fill="${EMOTION_COLORS[e]}"/>`);
    out.push(`<text x="${round(x + font * 1.1)}" y="${round(y0 + h / 2 + font * 0.36)}" font-size="${round(font)}" fill="#eee">${text}</text>`);
    x += entryW[k];
  });
  return out.join('');
}

/** Black or white text, whichever reads better on `hex`. */
function textOn(hex: string): string {
  const n = parseInt(hex.slice(1), 16);
  const luma = 0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255);
  return luma > 150 ? '#111' : '#fff';
}

/** Encode `image` with the analysis drawn on it. */
export async function annotateImage(image: RgbaImage, result: AnalysisResult, options: AnnotateOptions = {}): Promise<Buffer> {
  const maxSide = options.maxSide ?? 2048;
  const scale = Math.min(1, maxSide / Math.max(image.width, image.height));
  const width = Math.max(1, Math.round(image.width * scale));
  const height = Math.max(1, Math.round(image.height * scale));
  const svg = annotationSvg(result, width, height, width / image.width, options.legend ?? result.faces.length > 0);
  let pipeline = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 4 } });
  if (scale < 1) pipeline = pipeline.resize(width, height);
  pipeline = pipeline.composite([{ input: Buffer.from(svg), top: 0, left: 0 }]);
  const format = options.format ?? 'jpeg';
  if (format === 'png') return pipeline.png().toBuffer();
  if (format === 'webp') return pipeline.webp({ quality: 90 }).toBuffer();
  return pipeline.flatten({ background: '#ffffff' }).jpeg({ quality: 88, mozjpeg: true }).toBuffer();
}
