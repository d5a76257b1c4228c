/**
 * The timeline panel: samples into the page's Timeline (src/aggregate/timeline.ts) and its chart, the series and
 * window selects, the CSV/JSON exports and Clear. The page (main.ts) decides when a sample is taken (every second of
 * the live view, every second of a video being analysed); this file owns the panel's DOM and events only.
 */
import { groupMood } from '../aggregate/mood.js';
import type { FaceSample, Timeline } from '../aggregate/timeline.js';
import { DEFAULT_SMOOTHING } from '../track/tracker.js';
import type { TimelineChart } from './chart.js';
import { downloadBlob } from './results.js';

export interface TimelineElements {
  series: HTMLSelectElement;
  window: HTMLSelectElement;
  exportCsv: HTMLButtonElement;
  exportJson: HTMLButtonElement;
  clear: HTMLButtonElement;
}

export class TimelinePanel {
  private sessionStart = performance.now();

  /** `liveModel` is the model named in the JSON export: the timeline follows the live view and video files. */
  constructor(private readonly el: TimelineElements, private readonly timeline: Timeline, private readonly chart: TimelineChart, liveModel: string) {
    el.series.addEventListener('change', () => {
      chart.series = el.series.value === 'group' ? 'group' : Number(el.series.value);
      chart.update(timeline);
    });
    el.window.addEventListener('change', () => {
      chart.windowSeconds = Number(el.window.value);
      chart.update(timeline);
    });
    const stamp = (): string => timeline.startedAt.toISOString().replace(/[:.]/g, '-').slice(0, 19);
    el.exportCsv.addEventListener('click', () => {
      downloadBlob(new Blob([timeline.toCsv()], { type: 'text/csv' }), `emolens-timeline-${stamp()}.csv`);
    });
    el.exportJson.addEventListener('click', () => {
      const json = timeline.toJson({ model: liveModel, smoothing: { ...DEFAULT_SMOOTHING } });
      downloadBlob(new Blob([json], { type: 'application/json' }), `emolens-timeline-${stamp()}.json`);
    });
    el.clear.addEventListener('click', () => this.clear());
  }

  /** Milliseconds since the panel was set up or last cleared: the live view's sample times. */
  get sessionMs(): number {
    return performance.now() - this.sessionStart;
  }

  /** One sample: the group mood of `faces`, and each face unless aggregate-only (then none is recorded). */
  add(tMs: number, faces: readonly FaceSample[], aggregateOnly: boolean): void {
    this.timeline.add({
      tMs,
      group: groupMood(faces),
      faces: aggregateOnly ? [] : faces.map((f) => ({ id: f.id, emotions: { ...f.emotions }, dominant: f.dominant })),
    });
    this.refreshSeriesOptions();
    this.chart.update(this.timeline);
    for (const b of [this.el.exportCsv, this.el.exportJson, this.el.clear]) b.disabled = false;
  }

  /** Forget every sample and every face series; the session restarts now. */
  clear(): void {
    this.timeline.clear();
    this.sessionStart = performance.now();
    for (const o of [...this.el.series.options]) if (o.value !== 'group') o.remove();
    this.chart.series = 'group';
    this.chart.update(this.timeline);
  }

  /** Aggregate-only mode shows the group series alone, with the series select locked. */
  setAggregateOnly(on: boolean): void {
    if (on) {
      this.el.series.value = 'group';
      this.chart.series = 'group';
      this.chart.update(this.timeline);
    }
    this.el.series.disabled = on;
  }

  /** A "Face #id" option for every face id in the samples that has none yet. */
  private refreshSeriesOptions(): void {
    const have = new Set([...this.el.series.options].map((o) => o.value));
    for (const id of this.timeline.faceIds()) {
      if (have.has(String(id))) continue;
      const option = document.createElement('option');
      option.value = String(id);
      option.textContent = `Face #${id}`;
      this.el.series.append(option);
    }
  }
}
