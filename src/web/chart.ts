/** The timeline chart (chart.js): the emotion mix over the last minutes, as stacked areas summing to 100%. */
import {
  Chart, Filler, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip,
} from 'chart.js';
import { EMOTIONS } from '../labels.js';
import { EMOTION_COLORS } from '../report/palette.js';
import type { Timeline } from '../aggregate/timeline.js';

Chart.register(LineController, LineElement, PointElement, LinearScale, Filler, Legend, Tooltip);

/** 'group' or a face id. */
export type Series = 'group' | number;

export class TimelineChart {
  private readonly chart: Chart<'line', Array<{ x: number; y: number | null }>>;
  series: Series = 'group';
  windowSeconds = 300;

  constructor(canvas: HTMLCanvasElement) {
    this.chart = new Chart(canvas, {
      type: 'line',
      data: {
        datasets: EMOTIONS.map((e) => ({
          label: e,
          data: [],
          borderColor: EMOTION_COLORS[e],
          backgroundColor: `${EMOTION_COLORS[e]}b3`,
          borderWidth: 1,
          pointRadius: 0,
          fill: true,
          tension: 0.25,
          spanGaps: false,
        })),
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: 'index', intersect: false },
        scales: {
          x: {
            type: 'linear',
            ticks: { color: '#94a3b8', maxTicksLimit: 8, callback: (v) => clock(Number(v)) },
            grid: { color: 'rgba(148,163,184,0.12)' },
          },
          y: {
            stacked: true,
            min: 0,
            max: 1,
            ticks: { color: '#94a3b8', callback: (v) => `${Math.round(Number(v) * 100)}%`, stepSize: 0.25 },
            grid: { color: 'rgba(148,163,184,0.12)' },
          },
        },
        plugins: {
          legend: { position: 'bottom', labels: { color: '#cbd5e1', boxWidth: 12, boxHeight: 12 } },
          tooltip: {
            callbacks: {
              title: (items) => (items[0] ? clock(items[0].parsed.x ?? 0) : ''),
              label: (item) => `${item.dataset.label}: ${Math.round(100 * (item.parsed.y ?? 0))}%`,
            },
          },
        },
      },
    });
  }

  /** Redraw from the timeline for the current series and window. */
  update(timeline: Timeline): void {
    const samples = timeline.samples;
    const last = samples.length ? samples[samples.length - 1].tMs / 1000 : 0;
    const from = last - this.windowSeconds;
    const visible = samples.filter((s) => s.tMs / 1000 >= from);
    this.chart.data.datasets.forEach((dataset, k) => {
      const e = EMOTIONS[k];
      dataset.data = visible.map((s) => {
        const p = this.series === 'group' ? s.group.mean : s.faces.find((f) => f.id === this.series)?.emotions;
        return { x: s.tMs / 1000, y: p ? p[e] : null };
      });
    });
    const x = this.chart.options.scales!.x!;
    x.min = Math.max(0, from);
    x.max = Math.max(last, 10);
    this.chart.update('none');
  }
}

function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
