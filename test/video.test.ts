/**
 * Video analysis (src/video/, `emolens video`) on clips generated here with ffmpeg from the sample photos
 * (test/helpers/clips.ts): a face that moves across the frame the whole time and one that appears at 1.0 s and
 * leaves at 2.2 s. Pins stable ids, timestamps on the analysis grid, the JSON/CSV contract, per-second resampling,
 * bad input (one stderr line each, the rest of the batch goes on, frames done are kept), Ctrl+C and the annotated copy.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { EMOTIONS } from '../src/labels.js';
import { analyzeVideo, type VideoFrameResult } from '../src/video/index.js';
import { makeClip } from './helpers/clips.js';
import { interruptCli } from './helpers/cli.js';
import { ROOT, SAMPLE_PHOTOS, tempDir, testEmotionModel } from './helpers/fixtures.js';

const model = testEmotionModel().path;
const dir = tempDir('emolens-video-');
const clip = join(dir, 'two-faces.mp4');
const ffmpeg = 'ffmpeg';

/** The CLI from source (no build needed), with the test model. */
function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), 'video', ...args, '--model', model], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
  await makeClip({
    out: clip, width: 480, height: 270, fps: 10, durationS: 3, audio: true,
    faces: [
      { face: 2, size: 140, x: '20+60*t', y: '40' },
      { face: 0, size: 120, x: '320', y: '100', from: 1, to: 2.2 },
    ],
  }, dir);
});

describe('analyzeVideo', () => {
  it('tracks a moving face with one id and a face that comes and goes with another; t on the 5 fps grid', async () => {
    const video = await analyzeVideo(clip, { model, budgetMs: Infinity });
    assert.equal(video.info.width, 480);
    assert.equal(video.info.height, 270);
    assert.equal(video.info.hasAudio, true);
    assert.equal(video.settings.fps, 5);
    const frames: VideoFrameResult[] = [];
    for await (const frame of video) frames.push(frame);
    assert.equal(frames.length, 15);
    frames.forEach((f, k) => assert.ok(Math.abs(f.t - k / 5) < 1e-9, `frame ${k} at ${f.t}`));
    // Face 1 is in every frame and moves right ~60 px/s; face 2 only while shown (plus the tracker's 300 ms grace).
    const moving = frames.map((f) => f.faces.find((face) => face.id === 1));
    assert.ok(moving.every(Boolean), 'the moving face keeps id 1 in every frame');
    assert.ok(moving[14]!.box.x - moving[0]!.box.x > 120, 'and its box follows it');
    const second = frames.filter((f) => f.faces.some((face) => face.id === 2)).map((f) => f.t);
    assert.ok(second.length >= 6 && second[0] >= 1 && second[0] <= 1.2 && second[second.length - 1] <= 2.6, `face 2 at ${second.join(',')}`);
    assert.ok(frames.every((f) => f.faces.every((face) => face.id <= 2)), 'no id is handed out twice');
    const summary = video.summary();
    assert.equal(summary.complete, true);
    assert.deepEqual(summary.tracks.map((t) => t.id), [1, 2]);
    assert.equal(summary.tracks[0].from, 0);
    assert.ok(Math.abs(summary.tracks[0].to - 2.8) < 1e-9);
    for (const t of summary.tracks) assert.ok(Math.abs(EMOTIONS.reduce((s, e) => s + t.meanEmotions[e], 0) - 1) < 1e-3);
  });
});

describe('analyzeVideo: track, then detect (issue 20)', () => {
  const entering = join(dir, 'entering.mp4');
  before(async () => {
    // one face throughout, a second entering at 1.3 s: between two full detections (0, 0.4, 0.8, 1.2, 1.6, …)
    await makeClip({
      out: entering, width: 480, height: 270, fps: 10, durationS: 3, audio: false,
      faces: [
        { face: 2, size: 140, x: '20+40*t', y: '40' },
        { face: 0, size: 120, x: '320', y: '100', from: 1.3 },
      ],
    }, dir);
  });

  async function frames(detectEveryMs: number) {
    const video = await analyzeVideo(entering, { model, budgetMs: Infinity, detectEveryMs });
    const out: VideoFrameResult[] = [];
    for await (const frame of video) out.push(frame);
    return { out, summary: video.summary() };
  }

  it('follows faces between full detections, finds the entering face within detectEveryMs, with the same ids as detecting every frame', async () => {
    const tracked = await frames(400);
    const every = await frames(0);
    assert.equal(tracked.summary.settings.detectEveryMs, 400);
    assert.ok(every.out.every((f) => f.detection === 'full'));
    const full = tracked.out.filter((f) => f.detection === 'full').map((f) => f.t);
    assert.ok(full.length < tracked.out.length * 0.6, `full detections at ${full.join(',')} of ${tracked.out.length} frames`);
    for (let k = 1; k < full.length; k++) assert.ok(full[k] - full[k - 1] <= 0.4 + 1e-9, `full detections ${full[k - 1]} and ${full[k]} more than 0.4 s apart`);
    assert.deepEqual(tracked.summary.tracks.map((t) => t.id), [1, 2]);
    assert.deepEqual(every.summary.tracks.map((t) => t.id), [1, 2]);
    const [t1, t2] = tracked.summary.tracks;
    assert.equal(t1.from, 0);
    assert.ok(t2.from >= 1.3 && t2.from <= 1.3 + 0.4 + 1e-9, `the entering face got its track at ${t2.from} s`);
    assert.ok(every.summary.tracks[1].from <= 1.4 + 1e-9);
    // the followed face is the same face: boxes within a few px of the full detector's, same frames
    for (const [k, f] of tracked.out.entries()) {
      const a = f.faces.find((x) => x.id === 1)!;
      const b = every.out[k].faces.find((x) => x.id === 1)!;
      assert.ok(Math.abs(a.box.x - b.box.x) < 12 && Math.abs(a.box.width - b.box.width) < 20, `frame ${k}: ${JSON.stringify(a.box)} vs ${JSON.stringify(b.box)}`);
    }
    assert.equal(t1.dominant, every.summary.tracks[0].dominant);
  });
});

describe('emolens video', () => {
  it('--json meets the contract: file, width, height, fps, duration, frames[{t, faces[{id, box, emotions, dominant}]}], tracks', () => {
    const annotated = join(dir, 'annotated.mp4');
    const { code, stdout, stderr } = cli([clip, '--json', '--budget-ms', 'all', '--annotate', annotated]);
    assert.equal(code, 0, stderr);
    const doc = JSON.parse(stdout);
    // The annotated copy is a video ffprobe reads, one frame per analysed frame, with the source's audio.
    const probe = JSON.parse(spawnSync('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_streams', annotated], { encoding: 'utf8' }).stdout);
    const streams = probe.streams as Array<{ codec_type: string; codec_name: string; width?: number; nb_frames?: string }>;
    assert.deepEqual(streams.map((s) => `${s.codec_type}:${s.codec_name}`), ['video:h264', 'audio:aac']);
    assert.equal(streams[0].width, 480);
    assert.equal(Number(streams[0].nb_frames), 15);
    assert.deepEqual(Object.keys(doc), ['file', 'width', 'height', 'fps', 'duration', 'frames', 'tracks']);
    assert.equal(doc.fps, 5);
    assert.ok(Math.abs(doc.duration - 3) < 0.1);
    assert.equal(doc.frames.length, 15);
    const face = doc.frames[5].faces[0];
    assert.deepEqual(Object.keys(face), ['id', 'box', 'emotions', 'dominant']);
    assert.deepEqual(Object.keys(face.box), ['x', 'y', 'width', 'height']);
    assert.deepEqual(Object.keys(face.emotions), [...EMOTIONS]);
    assert.deepEqual(Object.keys(doc.tracks[0]), ['id', 'from', 'to', 'dominant', 'meanEmotions']);
    assert.deepEqual(doc.tracks.map((t: { id: number }) => t.id), [1, 2]);
  });

  it('--one-pass: one whole-frame detector pass per frame finds the same two faces on this clip', () => {
    const { code, stdout, stderr } = cli([clip, '--json', '--budget-ms', 'all', '--one-pass']);
    assert.equal(code, 0, stderr);
    const doc = JSON.parse(stdout);
    assert.equal(doc.frames.length, 15);
    assert.deepEqual(doc.tracks.map((t: { id: number }) => t.id), [1, 2]);
  });

  it('--csv --per-second: one row per (second, face), whole-second t', () => {
    const { code, stdout, stderr } = cli([clip, '--csv', '--per-second', '--budget-ms', 'all']);
    assert.equal(code, 0, stderr);
    const lines = stdout.trim().split('\n');
    assert.equal(lines[0], ['file', 't', 'face', 'x', 'y', 'width', 'height', 'dominant', ...EMOTIONS].join(','));
    const rows = lines.slice(1).map((l) => l.split(','));
    assert.ok(rows.every((r) => r.length === 15 && r[0] === clip));
    assert.deepEqual([...new Set(rows.map((r) => r[1]))], ['0', '1', '2']);
    assert.deepEqual(rows.filter((r) => r[1] === '0').map((r) => r[2]), ['1']);
    assert.deepEqual(rows.filter((r) => r[1] === '1').map((r) => r[2]), ['1', '2']);
  });

  it('bad input: one line each on stderr, exit 1, the rest of the batch goes on, a truncated file keeps its frames', () => {
    const bad = {
      text: join(dir, 'text.mp4'), empty: join(dir, 'empty.mp4'), audio: join(dir, 'tone.m4a'), still: join(dir, 'photo.mp4'), truncated: join(dir, 'cut.mp4'),
    };
    writeFileSync(bad.text, 'not a video\n');
    writeFileSync(bad.empty, '');
    copyFileSync(SAMPLE_PHOTOS[0], bad.still);
    assert.equal(spawnSync(ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=d=1', '-c:a', 'aac', bad.audio]).status, 0);
    writeFileSync(bad.truncated, readFileSync(clip).subarray(0, Math.floor(statSync(clip).size / 2)));
    const out = join(dir, 'out');
    const { code, stderr } = cli([bad.text, bad.empty, bad.audio, bad.still, bad.truncated, join(dir, 'missing.mp4'), clip, '--out', out, '--budget-ms', 'all']);
    assert.equal(code, 1);
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 6, stderr);
    assert.match(lines[0], /text\.mp4: not a video/);
    assert.match(lines[1], /empty\.mp4: empty file/);
    assert.match(lines[2], /tone\.m4a: audio only/);
    assert.match(lines[3], /photo\.mp4: is a still image/);
    assert.match(lines[4], /cut\.mp4: truncated: decoded [\d.]+ s of 3\.0 s/);
    assert.match(lines[5], /file not found/);
    const cut = JSON.parse(readFileSync(join(out, 'cut.json'), 'utf8'));
    assert.ok(cut.frames.length > 0 && cut.frames.length < 15, `${cut.frames.length} frames kept`);
    assert.equal(cut.error.code, 'INVALID_VIDEO');
    assert.equal(JSON.parse(readFileSync(join(out, 'two-faces.json'), 'utf8')).frames.length, 15);
    const limits = cli([clip, '--max-duration', '2']);
    assert.equal(limits.code, 1);
    assert.match(limits.stderr.trim(), /^error: .*longer than the limit of 2\.0 s \(--max-duration\)$/);
  });

  it('Ctrl+C writes the frames done as valid JSON and exits 130', async () => {
    const { code, stdout, stderr } = await interruptCli(['video', clip, '--json', '--every-frame', '--model', model], /"t":0\.2,/);
    assert.equal(code, 130, stderr);
    const doc = JSON.parse(stdout);
    assert.ok(doc.frames.length >= 3 && doc.frames.length < 30, `${doc.frames.length} frames`);
    assert.equal(doc.error.code, 'INTERRUPTED');
    assert.match(stderr, /interrupted/);
  });
});
