/**
 * Track, then detect (issue 20) against detection on every frame, on the bench clip (`npm run bench:video`'s 24 s
 * 1280x720 clip with six moving faces, made from the sample photos) or `--clip <file>`: the same video analysed both
 * ways, alternately, in one process. Prints, per way: full detections and followed faces per frame (exact counts),
 * wall and CPU time; then how the timelines compare: track count and ids, per track first/last second and frames,
 * the largest difference of its mean probabilities, and how often its per-second dominant label agrees.
 * A benchmark: asserts nothing (docs/video.md records what it printed).
 *
 *   node --import tsx scripts/compare-video.ts [--clip file] [--detect-every 400] [--budget-ms all] [--rounds 1]
 */
import { existsSync, mkdirSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EMOTIONS } from '../src/labels.js';
import { createAnalyzer } from '../src/node.js';
import { analyzeVideo, PerSecondResampler, videoTools, type TrackSummary } from '../src/video/index.js';
import { benchClipSpec, makeClip } from '../test/helpers/clips.js';

const { values } = parseArgs({ options: {
  clip: { type: 'string' }, 'detect-every': { type: 'string', default: '400' }, 'budget-ms': { type: 'string' }, rounds: { type: 'string', default: '1' },
} });
const cache = join(tmpdir(), 'emolens-bench-video');
mkdirSync(cache, { recursive: true });
let file = values.clip;
if (!file) {
  file = join(cache, 'six-faces-720p25-24s.mp4');
  if (!existsSync(file)) await makeClip(benchClipSpec(file), cache);
}
const tools = videoTools();
const budgetMs = values['budget-ms'] === undefined ? undefined : values['budget-ms'] === 'all' ? Infinity : Number(values['budget-ms']);
const analyzer = await createAnalyzer();
const counts = { detect: 0, follow: 0, followed: 0 };
const counting = {
  detect: (...a: Parameters<typeof analyzer.detect>) => { counts.detect++; return analyzer.detect(...a); },
  follow: (...a: Parameters<typeof analyzer.follow>) => { counts.follow++; counts.followed += a[1].length; return analyzer.follow(...a); },
  classifyFaces: analyzer.classifyFaces,
};

interface Run { tracks: TrackSummary[]; perSecond: Map<number, Map<number, string>>; frames: number; wallS: number; cpuS: number; detect: number; follow: number; followed: number }
async function run(detectEveryMs: number): Promise<Run> {
  Object.assign(counts, { detect: 0, follow: 0, followed: 0 });
  const video = await analyzeVideo(file!, { analyzer: counting, tools, detectEveryMs, budgetMs });
  const resampler = new PerSecondResampler();
  const perSecond = new Map<number, Map<number, string>>();
  const keep = (m: ReturnType<PerSecondResampler['flush']>) => { if (m) perSecond.set(m.t, new Map(m.faces.map((f) => [f.id, f.dominant]))); };
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let frames = 0;
  for await (const frame of video) { frames++; keep(resampler.push(frame)); }
  keep(resampler.flush());
  const c = process.cpuUsage(c0);
  return { tracks: video.summary().tracks, perSecond, frames, wallS: (performance.now() - t0) / 1000, cpuS: (c.user + c.system) / 1e6, ...counts };
}

const ways = [0, Number(values['detect-every'])];
const runs: Run[][] = [[], []];
for (let r = 0; r < Number(values.rounds); r++) for (const [k, ms] of ways.entries()) runs[k].push(await run(ms));
await analyzer.dispose();

console.log(`${file}; budget ${budgetMs ?? 'default'}; load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
for (const [k, ms] of ways.entries()) {
  const r = runs[k][0];
  const min = (f: (x: Run) => number) => Math.min(...runs[k].map(f)).toFixed(2);
  console.log(`detectEveryMs ${ms}: ${r.frames} frames; full detections ${r.detect} (${(r.detect / r.frames).toFixed(2)} per frame), follow calls ${r.follow}, faces followed ${r.followed} (${(r.followed / r.frames).toFixed(2)} per frame); wall ${min((x) => x.wallS)} s, node CPU ${min((x) => x.cpuS)} s (min of ${runs[k].length})`);
}
const [a, b] = [runs[0][0], runs[1][0]];
console.log(`tracks: ${a.tracks.length} vs ${b.tracks.length}; ids ${a.tracks.map((t) => t.id).join(',')} vs ${b.tracks.map((t) => t.id).join(',')}`);
for (const ta of a.tracks) {
  const tb = b.tracks.find((t) => t.id === ta.id);
  if (!tb) { console.log(`track ${ta.id}: only with detection every frame`); continue; }
  const maxDiff = Math.max(...EMOTIONS.map((e) => Math.abs(ta.meanEmotions[e] - tb.meanEmotions[e])));
  let same = 0;
  let n = 0;
  for (const [s, faces] of a.perSecond) {
    const da = faces.get(ta.id);
    const db = b.perSecond.get(s)?.get(ta.id);
    if (da === undefined && db === undefined) continue;
    n++;
    if (da === db) same++;
  }
  console.log(`track ${ta.id}: ${ta.from}-${ta.to} s, ${ta.frames} frames, ${ta.dominant} vs ${tb.from}-${tb.to} s, ${tb.frames} frames, ${tb.dominant}; max |mean p diff| ${maxDiff.toFixed(4)}; per-second dominant equal ${same}/${n}`);
}
for (const tb of b.tracks) if (!a.tracks.some((t) => t.id === tb.id)) console.log(`track ${tb.id}: only with track-then-detect (${tb.from}-${tb.to} s, ${tb.frames} frames)`);
