/**
 * The session timeline: one sample per second of the group mood (and, unless aggregate-only, of every visible
 * face), kept in memory for export as CSV or JSON. Pure data — the chart lives in src/web/chart.ts.
 */
import { EMOTIONS, type Emotion, type EmotionProbabilities } from '../labels.js';
import { roundUnit, unitRecordJson } from '../result/format.js';
import { engagementOf, valenceOf, type GroupMood } from './mood.js';

export interface FaceSample {
  id: number;
  emotions: EmotionProbabilities;
  dominant: Emotion;
}

export interface TimelineSample {
  /** Milliseconds since the session started. */
  tMs: number;
  group: GroupMood;
  /** Per-face values; empty while aggregate-only mode is on (they are never recorded then). */
  faces: FaceSample[];
}

export interface TimelineMeta {
  startedAt: string;
  model?: string;
  smoothing?: Record<string, number>;
}

/** Two hours at one sample a second. */
export const MAX_SAMPLES = 7200;

export class Timeline {
  readonly samples: TimelineSample[] = [];
  startedAt = new Date();

  constructor(readonly maxSamples = MAX_SAMPLES) {}

  add(sample: TimelineSample): void {
    this.samples.push(sample);
    if (this.samples.length > this.maxSamples) this.samples.splice(0, this.samples.length - this.maxSamples);
  }

  clear(): void {
    this.samples.length = 0;
    this.startedAt = new Date();
  }

  /** Face ids that appear in the samples, ascending. */
  faceIds(): number[] {
    const ids = new Set<number>();
    for (const s of this.samples) for (const f of s.faces) ids.add(f.id);
    return [...ids].sort((a, b) => a - b);
  }

  /** Rows: one per sample for the group ("group"), one per face and sample ("face-<id>"). */
  toCsv(): string {
    const header = ['time_s', 'series', 'faces', ...EMOTIONS, 'dominant', 'valence', 'engagement'];
    const rows = [header.join(',')];
    const num = (v: number | null | undefined, digits = 4): string => (v === null || v === undefined ? '' : v.toFixed(digits));
    for (const s of this.samples) {
      const t = (s.tMs / 1000).toFixed(1);
      const g = s.group;
      rows.push([t, 'group', String(g.faces), ...EMOTIONS.map((e) => num(g.mean?.[e])), g.dominant ?? '', num(g.valence), num(g.engagement)].join(','));
      for (const f of s.faces) {
        const p = f.emotions;
        rows.push([t, `face-${f.id}`, '1', ...EMOTIONS.map((e) => num(p[e])), f.dominant, num(valenceOf(p)), num(engagementOf(p))].join(','));
      }
    }
    return `${rows.join('\n')}\n`;
  }

  toJson(meta: Partial<TimelineMeta> = {}): string {
    // One rounding for every exported figure (src/result/format.ts): 4 decimals, as `analyze --json`.
    return JSON.stringify({
      format: 'emolens-timeline/1',
      startedAt: this.startedAt.toISOString(),
      ...meta,
      labels: EMOTIONS,
      samples: this.samples.map((s) => ({
        t: roundUnit(s.tMs / 1000),
        group: {
          faces: s.group.faces,
          counts: s.group.counts,
          shares: unitRecordJson(s.group.shares),
          mean: s.group.mean && unitRecordJson(s.group.mean),
          dominant: s.group.dominant,
          valence: s.group.valence === null ? null : roundUnit(s.group.valence),
          engagement: s.group.engagement === null ? null : roundUnit(s.group.engagement),
        },
        faces: s.faces.map((f) => ({ id: f.id, dominant: f.dominant, emotions: unitRecordJson(f.emotions) })),
      })),
    }, null, 1);
  }
}
