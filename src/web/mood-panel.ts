/** The group-mood panel: face count, valence and expressiveness meters, dominant-emotion shares, mean probabilities. */
import { EMOTIONS, type Emotion } from '../labels.js';
import type { GroupMood } from '../aggregate/mood.js';
import { EMOTION_COLORS } from '../report/palette.js';

export class MoodPanel {
  private readonly shareRows = new Map<Emotion, { bar: HTMLElement; value: HTMLElement }>();
  private readonly meanRows = new Map<Emotion, { bar: HTMLElement; value: HTMLElement }>();

  constructor(private readonly root: HTMLElement) {
    buildBars(root.querySelector('#shares')!, this.shareRows);
    buildBars(root.querySelector('#means')!, this.meanRows);
  }

  update(mood: GroupMood): void {
    const count = this.root.querySelector<HTMLElement>('#group-count')!;
    count.dataset.count = String(mood.faces);
    count.innerHTML = '';
    const b = document.createElement('b');
    b.textContent = String(mood.faces);
    count.append(b, mood.faces === 1 ? ' face' : ' faces');

    for (const e of EMOTIONS) {
      const share = this.shareRows.get(e)!;
      share.bar.style.width = `${100 * mood.shares[e]}%`;
      share.value.textContent = mood.faces ? `${mood.counts[e]} · ${Math.round(100 * mood.shares[e])}%` : '—';
      const mean = this.meanRows.get(e)!;
      const p = mood.mean?.[e] ?? 0;
      mean.bar.style.width = `${100 * p}%`;
      mean.value.textContent = mood.mean ? `${Math.round(100 * p)}%` : '—';
    }

    const valence = this.root.querySelector<HTMLElement>('#valence-value')!;
    const valenceBar = this.root.querySelector<HTMLElement>('#valence-bar')!;
    if (mood.valence === null) {
      valence.textContent = '—';
      valenceBar.style.left = '50%';
      valenceBar.style.width = '0';
    } else {
      const v = Math.max(-1, Math.min(1, mood.valence));
      valence.textContent = `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(2)}`;
      valenceBar.style.left = `${50 + Math.min(0, v) * 50}%`;
      valenceBar.style.width = `${Math.abs(v) * 50}%`;
      valenceBar.classList.toggle('negative', v < 0);
    }
    const engagement = this.root.querySelector<HTMLElement>('#engagement-value')!;
    const engagementBar = this.root.querySelector<HTMLElement>('#engagement-bar')!;
    engagement.textContent = mood.engagement === null ? '—' : `${Math.round(100 * mood.engagement)}%`;
    engagementBar.style.width = `${100 * (mood.engagement ?? 0)}%`;
  }
}

function buildBars(list: HTMLElement, rows: Map<Emotion, { bar: HTMLElement; value: HTMLElement }>): void {
  for (const e of EMOTIONS) {
    const li = document.createElement('li');
    li.dataset.emotion = e;
    const name = document.createElement('span');
    name.className = 'bar-name';
    name.textContent = e;
    const track = document.createElement('span');
    track.className = 'bar-track';
    const bar = document.createElement('i');
    bar.style.background = EMOTION_COLORS[e];
    track.append(bar);
    const value = document.createElement('span');
    value.className = 'bar-value';
    value.textContent = '—';
    li.append(name, track, value);
    list.append(li);
    rows.set(e, { bar, value });
  }
}
