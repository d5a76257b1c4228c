/**
 * `npm run bench:video`: how fast and how lean `analyzeVideo` runs at default settings. Prints numbers; asserts
 * nothing (docs/video.md records what it printed, with the machine).
 *
 *   speed:  a 24 s 1280x720 25 fps clip with six moving faces, generated from the sample photos
 *           (test/helpers/clips.ts; cached in the temp folder) → wall time, frames, real-time factor, peak RSS.
 *   --long: a 2-hour 320x180 clip (a 60 s clip looped by stream copy, so it is made in seconds), analysed at
 *           --long-fps (default 0.2) → RSS sampled along the way, to show memory stays flat.
 *
 * Options: --clip <file> (bench another video), --long, --long-fps <n>, --until <s>, --threads <n>.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createAnalyzer } from '../src/node.js';
import { analyzeVideo, videoTools, describeBinary } from '../src/video/index.js';
import { benchClipSpec, makeClip, SAMPLE_FACES } from '../test/helpers/clips.js';

const { values } = parseArgs({
  options: {
    clip: { type: 'string' },
    long: { type: 'boolean', default: false },
    'long-fps': { type: 'string', default: '0.2' },
    until: { type: 'string' },
    threads: { type: 'string' },
  },
});

const cache = join(tmpdir(), 'emolens-bench-video');
mkdirSync(cache, { recursive: true });
const tools = videoTools();
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;

async function ensureClip(): Promise<string> {
  if (values.clip) return values.clip;
  const out = join(cache, 'six-faces-720p25-24s.mp4');
  if (!existsSync(out)) {
    process.stderr.write(`generating ${out} …\n`);
    await makeClip(benchClipSpec(out), cache);
  }
  return out;
}

async function ensureLongClip(): Promise<string> {
  const out = join(cache, 'faces-180p-2h.mp4');
  if (existsSync(out)) return out;
  const short = join(cache, 'faces-180p-60s.mp4');
  if (!existsSync(short)) {
    process.stderr.write(`generating ${short} …\n`);
    await makeClip({
      out: short, width: 320, height: 180, fps: 5, durationS: 60, audio: false,
      faces: SAMPLE_FACES.slice(0, 3).map((_, k) => ({ face: k, size: 96, x: `${10 + k * 105}+8*sin(t+${k})`, y: '40' })),
    }, cache);
  }
  process.stderr.write(`looping it to ${out} …\n`);
  const r = spawnSync(tools.ffmpeg.path, ['-v', 'error', '-y', '-stream_loop', '119', '-i', short, '-c', 'copy', out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return out;
}

const threads = values.threads ? Number(values.threads) : undefined;
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}; load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log(describeBinary(tools.ffmpeg, 'ffmpeg'));
let t0 = performance.now();
const analyzer = await createAnalyzer({ threads });
console.log(`models loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s (not counted below)`);

const file = values.long ? await ensureLongClip() : await ensureClip();
const video = await analyzeVideo(file, {
  analyzer, tools,
  fps: values.long ? Number(values['long-fps']) : undefined,
  durationS: values.until ? Number(values.until) : undefined,
});
console.log(`${file}: ${video.info.width}x${video.info.height}, ${video.info.fps} fps, ${video.info.duration.toFixed(1)} s; analysing at ${video.settings.fps} fps, budget ${video.settings.budgetMs} ms/frame`);

t0 = performance.now();
const cpu0 = process.cpuUsage();
let frames = 0;
let faces = 0;
let classified = 0;
const rssSamples: Array<[number, number]> = [];
for await (const frame of video) {
  frames++;
  faces += frame.faces.length;
  classified += frame.classified;
  if (frames % Math.max(1, Math.round(video.settings.fps * (values.long ? 600 : 4))) === 0) rssSamples.push([frame.t, process.memoryUsage.rss()]);
}
const wallS = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const summary = video.summary();
await analyzer.dispose();
console.log(`frames analysed: ${frames} (${(faces / frames).toFixed(1)} faces/frame, ${(classified / frames).toFixed(1)} classified/frame), tracks: ${summary.tracks.length}`);
console.log(`wall: ${wallS.toFixed(2)} s for ${summary.analysedS.toFixed(1)} s of video → ${(summary.analysedS / wallS).toFixed(2)}× real time`);
console.log(`node CPU: ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s (ffmpeg's decoding runs in its own process, not counted)`);
console.log(`RSS along the way (video s: MB): ${rssSamples.map(([t, r]) => `${t.toFixed(0)}: ${(r / 2 ** 20).toFixed(0)}`).join(', ')}`);
console.log(`peak RSS: ${mb(process.resourceUsage().maxRSS * 1024)}`);
