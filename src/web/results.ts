/**
 * Result cards for snapshots and dropped images: the annotated image, a per-face table, the group read-out, and
 * downloads of the annotated PNG and the JSON. Everything is built in the page; downloads are local blob URLs.
 */
import { groupMood, type GroupMood } from '../aggregate/mood.js';
import { EMOTIONS } from '../labels.js';
import { EMOTION_COLORS } from '../report/palette.js';
import { roundUnit } from '../result/format.js';
import { emotionsJson, faceJson } from '../result/image.js';
import type { AnalysisResult } from '../types.js';
import { drawAnnotated } from './overlay.js';
import type { FaceSaliency } from './protocol.js';
import { drawSaliency } from './saliency-overlay.js';

export interface ResultCardInput {
  /** e.g. "snapshot 14:03:22" or the file name. */
  name: string;
  source: 'camera' | 'screen' | 'upload';
  image: CanvasImageSource & { width: number; height: number };
  result: AnalysisResult;
  ms: number;
  aggregateOnly: boolean;
  model?: string;
  /** One map per face (Grad-CAM) for the "why?" toggles; absent when the model has no Grad-CAM outputs. */
  saliency?: FaceSaliency[];
}

/**
 * The JSON a card downloads. `faces` are exactly what `emolens analyze --json` writes (src/result/image.ts: same
 * keys, same rounding), in the order of the #n labels. Per-face data is left out entirely in aggregate-only mode.
 */
export function resultJson(input: Omit<ResultCardInput, 'image'>, capturedAt = new Date()): Record<string, unknown> {
  const mood = groupMood(input.result.faces);
  return {
    format: 'emolens-snapshot/1',
    name: input.name,
    source: input.source,
    capturedAt: capturedAt.toISOString(),
    model: input.model,
    width: input.result.width,
    height: input.result.height,
    aggregateOnly: input.aggregateOnly,
    smoothing: 'none (one frame)',
    group: summarize(mood),
    ...(input.aggregateOnly ? {} : { faces: faceJson(input.result) }),
  };
}

function summarize(mood: GroupMood): Record<string, unknown> {
  return {
    faces: mood.faces,
    counts: mood.counts,
    mean: mood.mean && emotionsJson(mood.mean),
    dominant: mood.dominant,
    valence: mood.valence === null ? null : roundUnit(mood.valence),
    engagement: mood.engagement === null ? null : roundUnit(mood.engagement),
  };
}

export function downloadBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Safe file stem from a display name. */
export function fileStem(name: string): string {
  return name.replace(/\.[a-z0-9]+$/i, '').replace(/[^a-z0-9._-]+/gi, '-').replace(/^-+|-+$/g, '').slice(0, 80) || 'emolens';
}

export function renderResultCard(list: HTMLElement, input: ResultCardInput): HTMLElement {
  const faces = input.result.faces;
  const card = document.createElement('article');
  card.className = 'result-card';
  card.dataset.faces = String(faces.length);
  card.dataset.source = input.source;

  const head = document.createElement('header');
  const title = document.createElement('h3');
  title.textContent = input.name;
  const meta = document.createElement('span');
  meta.className = 'muted';
  meta.textContent = `${faces.length} ${faces.length === 1 ? 'face' : 'faces'} · ${input.result.width}×${input.result.height} · ${Math.round(input.ms)} ms`;
  const close = button('×', 'quiet close', () => card.remove());
  close.title = 'Remove';
  head.append(title, meta, close);

  const canvas = document.createElement('canvas');
  canvas.className = 'annotated';
  // Faces whose "why?" is on: their maps are drawn over the annotated image, which is redrawn on every toggle.
  const shown = new Set<number>();
  const draw = () => {
    drawAnnotated(canvas, input.image, faces.map((f, i) => ({ ...f, id: i })), { aggregateOnly: input.aggregateOnly });
    for (const i of shown) if (input.saliency?.[i]) drawSaliency(canvas, input.saliency[i]);
    canvas.dataset.why = [...shown].sort((a, b) => a - b).map((i) => i + 1).join(',');
  };
  draw();
  const toggle = (i: number, on: boolean) => {
    if (on) shown.add(i);
    else shown.delete(i);
    draw();
  };

  const body = document.createElement('div');
  body.className = 'result-body';
  body.append(canvas, input.aggregateOnly || faces.length === 0 ? groupSummary(groupMood(faces)) : faceTable(input.result, input.saliency, toggle));

  const stem = fileStem(input.name);
  const actions = document.createElement('div');
  actions.className = 'actions';
  actions.append(
    button('Download image', 'download-image', () => {
      canvas.toBlob((blob) => blob && downloadBlob(blob, `${stem}-emolens.png`), 'image/png');
    }),
    button('Download JSON', 'download-json', () => {
      const json = JSON.stringify(resultJson(input), null, 2);
      downloadBlob(new Blob([json], { type: 'application/json' }), `${stem}-emolens.json`);
    }),
  );
  card.append(head, body, actions);
  list.prepend(card);
  return card;
}

function faceTable(result: AnalysisResult, saliency: FaceSaliency[] | undefined, toggle: (face: number, on: boolean) => void): HTMLElement {
  const table = document.createElement('table');
  table.className = 'face-table';
  const head = table.createTHead().insertRow();
  for (const h of ['#', 'dominant', 'probabilities', ...(saliency ? [''] : [])]) {
    const th = document.createElement('th');
    th.textContent = h;
    head.append(th);
  }
  const body = table.createTBody();
  result.faces.forEach((f, i) => {
    const row = body.insertRow();
    row.insertCell().textContent = String(i + 1);
    const dom = row.insertCell();
    dom.className = 'dominant';
    dom.style.color = EMOTION_COLORS[f.dominant];
    dom.textContent = `${f.dominant} ${Math.round(100 * f.emotions[f.dominant])}%`;
    const probs = row.insertCell();
    const strip = document.createElement('div');
    strip.className = 'prob-strip';
    for (const e of EMOTIONS) {
      const seg = document.createElement('i');
      seg.style.width = `${100 * f.emotions[e]}%`;
      seg.style.background = EMOTION_COLORS[e];
      seg.title = `${e} ${Math.round(100 * f.emotions[e])}%`;
      strip.append(seg);
    }
    probs.append(strip);
    const map = saliency?.[i];
    if (map) {
      const why = button('why?', 'quiet why-toggle', () => {
        const on = why.getAttribute('aria-pressed') !== 'true';
        why.setAttribute('aria-pressed', String(on));
        toggle(i, on);
      });
      why.setAttribute('aria-pressed', 'false');
      why.title = `Show which parts of face ${i + 1} drove "${map.emotion}" (${map.method === 'gradcam' ? 'Grad-CAM' : map.method}; bright = decisive)`;
      row.insertCell().append(why);
    }
  });
  return table;
}

function groupSummary(mood: GroupMood): HTMLElement {
  const div = document.createElement('div');
  div.className = 'group-summary';
  if (mood.faces === 0) {
    div.textContent = 'No face found in this image.';
    return div;
  }
  const lines = [
    `${mood.faces} faces`,
    `most common: ${EMOTIONS.filter((e) => mood.counts[e] > 0).sort((a, b) => mood.counts[b] - mood.counts[a]).map((e) => `${e} ${mood.counts[e]}`).join(', ')}`,
    `valence ${mood.valence!.toFixed(2)} · expressiveness ${Math.round(100 * mood.engagement!)}%`,
  ];
  for (const line of lines) {
    const p = document.createElement('p');
    p.textContent = line;
    div.append(p);
  }
  return div;
}

function button(text: string, className: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = className;
  b.textContent = text;
  b.addEventListener('click', onClick);
  return b;
}
