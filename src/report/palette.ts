/**
 * The one emotion palette: boxes, bars, legends and charts in annotated CLI images, the terminal table, the web
 * overlay, result cards, the group panel and the timeline chart all colour an emotion the same way.
 * Browser-safe (no imports beyond the labels). These are the web app's colours (Tailwind 400/500): dark label
 * text (#0b1020, the page's ink) reads on every one of them, and the page's theme is built around them.
 */
import type { Emotion } from '../labels.js';

export const EMOTION_COLORS: Readonly<Record<Emotion, string>> = {
  angry: '#ef4444',
  disgust: '#22c55e',
  fear: '#a855f7',
  happy: '#facc15',
  neutral: '#94a3b8',
  sad: '#3b82f6',
  surprise: '#f97316',
};
