/**
 * Drawing results: the live DOM overlay over the video (boxes, labels, 7-bar probability strips) and the
 * annotated canvas used for snapshots, uploads and their downloads. No inference here.
 */
import { EMOTIONS, type Emotion, type EmotionProbabilities } from '../labels.js';
import { EMOTION_COLORS } from '../report/palette.js';
import type { Box } from '../types.js';

export interface OverlayFace {
  /** Stable key (track id or face index). */
  id: number;
  box: Box;
  emotions: EmotionProbabilities;
  dominant: Emotion;
  /** How old the reading is (live view): the label fades in steps from 1 s on, to 55% at 4 s and older. */
  readingAgeMs?: number;
}

export interface OverlayOptions {
  /** Flip x to match a mirrored video. */
  mirror: boolean;
  /** Boxes only: no labels, no bars. */
  aggregateOnly: boolean;
}

/** Positions are percentages of the frame, so the overlay follows the video at any displayed size. */
export class FaceOverlay {
  private readonly elements = new Map<number, HTMLElement>();

  constructor(private readonly root: HTMLElement) {}

  /** `pending`: faces found but not read yet (live view), drawn as plain boxes. */
  render(faces: readonly OverlayFace[], frameWidth: number, frameHeight: number, options: OverlayOptions, pending: readonly Box[] = []): void {
    const seen = new Set<number>();
    // Pending boxes have no id yet: negative keys, by position in this frame.
    pending.forEach((box, i) => {
      const el = this.element(-1 - i, seen);
      el.classList.add('pending');
      place(el, box, frameWidth, frameHeight, options.mirror);
    });
    for (const face of faces) {
      const el = this.element(face.id, seen);
      const { y, height } = face.box;
      place(el, face.box, frameWidth, frameHeight, options.mirror);
      // Aggregate-only boxes are all one colour: the colour must not give the emotion away either.
      if (options.aggregateOnly) el.style.removeProperty('--c');
      else el.style.setProperty('--c', EMOTION_COLORS[face.dominant]);
      el.classList.toggle('anon', options.aggregateOnly);
      // Keep the tag and the bars inside the frame for faces at its top or bottom edge.
      el.classList.toggle('tag-inside', y < frameHeight * 0.06);
      el.classList.toggle('bars-inside', y + height > frameHeight * 0.94);
      el.dataset.emotion = options.aggregateOnly ? '' : face.dominant;
      const label = el.querySelector<HTMLElement>('.face-label');
      const tag = el.querySelector<HTMLElement>('.face-tag');
      const bars = el.querySelector<HTMLElement>('.face-bars');
      if (options.aggregateOnly) {
        // Per-face labels are removed from the DOM, not just hidden: nothing to read off the page.
        label?.remove();
        tag?.remove();
        bars?.remove();
        continue;
      }
      const tagEl = tag ?? el.appendChild(createTag());
      const barsEl = bars ?? el.appendChild(createBars());
      const age = face.readingAgeMs ?? 0;
      el.style.setProperty('--fresh', String(freshness(age)));
      el.dataset.readingAgeMs = String(Math.round(age));
      const labelEl = tagEl.querySelector<HTMLElement>('.face-label')!;
      labelEl.textContent = face.dominant;
      tagEl.querySelector<HTMLElement>('.face-pct')!.textContent = `${Math.round(100 * face.emotions[face.dominant])}%`;
      barsEl.querySelectorAll<HTMLElement>('i').forEach((bar, i) => {
        bar.style.height = `${Math.max(4, 100 * face.emotions[EMOTIONS[i]])}%`;
      });
      const ageText = face.readingAgeMs === undefined ? '' : ` (read ${(age / 1000).toFixed(1)} s ago)`;
      barsEl.title = EMOTIONS.map((e) => `${e} ${Math.round(100 * face.emotions[e])}%`).join(', ') + ageText;
    }
    for (const [id, el] of this.elements) {
      if (!seen.has(id)) {
        el.remove();
        this.elements.delete(id);
      }
    }
  }

  clear(): void {
    for (const el of this.elements.values()) el.remove();
    this.elements.clear();
  }

  private element(id: number, seen: Set<number>): HTMLElement {
    seen.add(id);
    let el = this.elements.get(id);
    if (!el) {
      el = createFaceElement(id);
      this.root.append(el);
      this.elements.set(id, el);
    }
    return el;
  }
}

/** Label opacity for a reading `ageMs` old, in 4 steps (a style change per step, not per frame). */
function freshness(ageMs: number): number {
  return ageMs < 1000 ? 1 : ageMs < 2500 ? 0.85 : ageMs < 4000 ? 0.7 : 0.55;
}

function place(el: HTMLElement, box: Box, frameWidth: number, frameHeight: number, mirror: boolean): void {
  const { x, y, width, height } = box;
  const left = mirror ? frameWidth - x - width : x;
  el.style.left = `${(100 * left) / frameWidth}%`;
  el.style.top = `${(100 * y) / frameHeight}%`;
  el.style.width = `${(100 * width) / frameWidth}%`;
  el.style.height = `${(100 * height) / frameHeight}%`;
}

function createFaceElement(id: number): HTMLElement {
  const el = document.createElement('div');
  el.className = 'face';
  el.dataset.track = String(id);
  return el;
}

function createTag(): HTMLElement {
  const tag = document.createElement('div');
  tag.className = 'face-tag';
  const label = document.createElement('span');
  label.className = 'face-label';
  const pct = document.createElement('span');
  pct.className = 'face-pct';
  tag.append(label, pct);
  return tag;
}

function createBars(): HTMLElement {
  const bars = document.createElement('div');
  bars.className = 'face-bars';
  for (const e of EMOTIONS) {
    const bar = document.createElement('i');
    bar.style.background = EMOTION_COLORS[e];
    bars.append(bar);
  }
  return bars;
}

/**
 * Draw `image` with its faces onto a canvas at full resolution (what the downloads contain).
 * Line widths and fonts scale with the image so a 4000 px photo and a 640 px frame both read well.
 */
export function drawAnnotated(
  canvas: HTMLCanvasElement,
  image: CanvasImageSource & { width: number; height: number },
  faces: readonly OverlayFace[],
  options: { aggregateOnly: boolean },
): void {
  const { width, height } = image;
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.drawImage(image, 0, 0, width, height);
  const unit = Math.max(1, Math.min(width, height) / 400);
  for (const [i, face] of faces.entries()) {
    const { x, y, width: w, height: h } = face.box;
    const color = options.aggregateOnly ? '#e2e8f0' : EMOTION_COLORS[face.dominant];
    ctx.lineWidth = 2 * unit;
    ctx.strokeStyle = color;
    ctx.strokeRect(x, y, w, h);
    if (options.aggregateOnly) continue;
    const font = Math.max(11, Math.min(w * 0.22, 16 * unit));
    ctx.font = `600 ${font}px system-ui, sans-serif`;
    const text = `${i + 1} ${face.dominant} ${Math.round(100 * face.emotions[face.dominant])}%`;
    const textW = ctx.measureText(text).width + font * 0.6;
    const tagY = y - font * 1.4 >= 0 ? y - font * 1.4 : y;
    ctx.fillStyle = color;
    ctx.fillRect(x - ctx.lineWidth / 2, tagY, textW, font * 1.4);
    ctx.fillStyle = '#0b1020';
    ctx.textBaseline = 'middle';
    ctx.fillText(text, x + font * 0.3, tagY + font * 0.72);
    // The 7 probabilities as a bar strip under the box.
    const stripH = Math.max(6, h * 0.18);
    const barW = w / EMOTIONS.length;
    ctx.fillStyle = 'rgba(11,16,32,0.75)';
    ctx.fillRect(x, y + h + unit, w, stripH);
    EMOTIONS.forEach((e, k) => {
      const bh = stripH * face.emotions[e];
      ctx.fillStyle = EMOTION_COLORS[e];
      ctx.fillRect(x + k * barW + barW * 0.1, y + h + unit + stripH - bh, barW * 0.8, bh);
    });
  }
}
