/**
 * The `emolens video --report` page (src/report/video-html.ts, thumbnails.ts, src/aggregate/series.ts) on a clip generated
 * here (test/helpers/clips.ts: a face moving the whole time, one shown from 1.0 to 2.2 s): one chart per track,
 * a JPEG thumbnail per track as a data: URL (none with --no-thumbnails), the settings, valid embedded data, one
 * report per input in a batch, a report for a run cut short (truncated file, Ctrl+C), the bounded series, and in
 * headless Chromium: no console errors and every chart drawn.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { EMOTIONS } from '../src/labels.js';
import { readVideoReportAssets } from '../src/report/load-assets.js';
import { renderVideoReport, videoReportData, type VideoReportSettings } from '../src/report/video-html.js';
import type { VideoDocument } from '../src/result/video.js';
import { BoundedSeries, MAX_REPORT_POINTS, VideoReportSeries } from '../src/aggregate/series.js';
import { launchChromium } from './fixtures/browser.js';
import { makeClip } from './helpers/clips.js';
import { interruptCli } from './helpers/cli.js';
import { ROOT, tempDir, testEmotionModel } from './helpers/fixtures.js';
import { BROWSER, requires } from './helpers/prerequisites.js';

const model = testEmotionModel().path;
const dir = tempDir('emolens-video-report-');
const clip = join(dir, 'two-faces.mp4');
const report = join(dir, 'report.html');
let json: VideoDocument;

/** The CLI from source (no build needed), with the test model. */
function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), 'video', ...args, '--model', model], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The JSON the page embeds for its charts. */
function embedded(html: string): { emotions: string[]; colors: Record<string, string>; tracks: Array<{ id: number; t: number[]; emotions: Record<string, number[]> }>; mood: { t: number[]; valence: Array<number | null>; engagement: Array<number | null>; faces: number[] } } {
  const m = /<script id="report-data" type="application\/json">(.*?)<\/script>/s.exec(html);
  assert.ok(m, 'the page embeds its data');
  return JSON.parse(m[1]);
}

const thumbnailsIn = (html: string): string[] => [...html.matchAll(/<img class="thumb" src="(data:image\/jpeg;base64,[A-Za-z0-9+/=]+)"/g)].map((m) => m[1]);

before(async () => {
  await makeClip({
    out: clip, width: 480, height: 270, fps: 10, durationS: 3,
    faces: [
      { face: 2, size: 140, x: '20+60*t', y: '40' },
      { face: 0, size: 120, x: '320', y: '100', from: 1, to: 2.2 },
    ],
  }, dir);
  const { code, stdout, stderr } = cli([clip, '--json', '--budget-ms', 'all', '--report', report]);
  assert.equal(code, 0, stderr);
  json = JSON.parse(stdout);
});

describe('emolens video --report', () => {
  it('writes one page: a chart and a JPEG thumbnail per track, the settings, the metadata, valid embedded data', async () => {
    const html = readFileSync(report, 'utf8');
    assert.match(html, /^<!doctype html>/);
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=/, 'self-contained: nothing fetched');
    assert.equal(json.tracks.length, 2);
    const data = embedded(html);
    assert.deepEqual(data.tracks.map((t) => t.id), json.tracks.map((t) => t.id));
    assert.deepEqual(data.emotions, [...EMOTIONS]);
    assert.equal(data.colors.happy, '#facc15', 'colours from src/report/palette.ts');
    // One canvas per track, one for the group.
    const canvases = [...html.matchAll(/<canvas class="track-canvas" data-track="(\d+)"/g)].map((m) => Number(m[1]));
    assert.deepEqual(canvases, [1, 2]);
    assert.match(html, /<canvas id="moodChart"/);
    // Every analysed frame is a point (15 frames at 5 fps); each track's points match its frames in the JSON.
    assert.equal(data.mood.t.length, json.frames.length);
    for (const track of data.tracks) {
      const frames = json.frames.filter((f) => f.faces.some((face) => face.id === track.id));
      assert.equal(track.t.length, frames.length);
      for (const e of EMOTIONS) assert.equal(track.emotions[e].length, frames.length);
      const first = frames[0].faces.find((face) => face.id === track.id)!;
      assert.ok(Math.abs(track.emotions.happy[0] - first.emotions.happy) < 2e-4);
    }
    assert.ok(data.mood.valence.every((v) => v === null || (v >= -1 && v <= 1)));
    assert.ok(Math.max(...data.mood.faces) === 2);
    // Thumbnails: JPEG data URLs, one per track, small.
    const thumbs = thumbnailsIn(html);
    assert.equal(thumbs.length, 2);
    for (const url of thumbs) {
      const meta = await sharp(Buffer.from(url.split(',')[1], 'base64')).metadata();
      assert.equal(meta.format, 'jpeg');
      assert.ok(meta.width! <= 112 && meta.height! <= 112 && meta.width! >= 40, `${meta.width}x${meta.height}`);
    }
    assert.match(html, /Privacy:/);
    // Settings and metadata.
    const sidecar = JSON.parse(readFileSync(model.replace(/\.onnx$/, '.json'), 'utf8')) as { name: string; sha256: string };
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    assert.ok(html.includes(sidecar.sha256), 'model sha256');
    assert.ok(html.includes(`<dt>emotion model</dt><dd>${sidecar.name}</dd>`));
    assert.match(html, /<dt>analysis rate<\/dt><dd>5 frames per second<\/dd>/);
    assert.match(html, /<dt>classification budget<\/dt><dd>all faces, every frame<\/dd>/);
    assert.match(html, /<dt>face detector<\/dt><dd>blazeface, tiles off/);
    assert.match(html, /<dt>decoder<\/dt><dd><code>ffmpeg: /);
    assert.ok(html.includes(`<dt>emolens</dt><dd>${version}</dd>`));
    assert.match(html, /<dt>frame size<\/dt><dd>480 × 270 px/);
    assert.match(html, /<dt>codec<\/dt><dd>h264<\/dd>/);
    assert.doesNotMatch(html, /Run cut short/);
  });

  it('the page from the JSON document (videoReportData) holds the same series as the streamed one', () => {
    const settings: VideoReportSettings = {
      fps: 5, everyFrame: false, budgetMs: Infinity, model: { name: 'm', sha256: 'abc' }, detector: { model: 'blazeface' }, ffmpeg: 'ffmpeg: system', emolensVersion: '0.0.0',
    };
    const html = renderVideoReport(videoReportData(json, { settings }), readVideoReportAssets());
    const fromDoc = embedded(html);
    const streamed = embedded(readFileSync(report, 'utf8'));
    assert.deepEqual(fromDoc.tracks.map((t) => t.t), streamed.tracks.map((t) => t.t));
    for (const [k, track] of fromDoc.tracks.entries()) {
      for (const e of EMOTIONS) track.emotions[e].forEach((p, i) => assert.ok(Math.abs(p - streamed.tracks[k].emotions[e][i]) < 2e-4));
    }
    assert.equal(thumbnailsIn(html).length, 0, 'no thumbnails given, none embedded');
    assert.match(html, /Thumbnails were left out/);
  });

  it('several inputs: one page each (out-<name>.html); --no-thumbnails embeds none; a truncated file gets a page for what decoded', () => {
    const copy = join(dir, 'copy.mp4');
    const cut = join(dir, 'cut.mp4');
    copyFileSync(clip, copy);
    writeFileSync(cut, readFileSync(clip).subarray(0, Math.floor(statSync(clip).size / 2)));
    const out = join(dir, 'batch.html');
    const { code, stderr } = cli([copy, cut, '--report', out, '--no-thumbnails', '--budget-ms', 'all']);
    assert.equal(code, 1, stderr);
    const whole = readFileSync(join(dir, 'batch-copy.html'), 'utf8');
    assert.equal(thumbnailsIn(whole).length, 0);
    assert.doesNotMatch(whole, /data:image\//);
    assert.match(whole, /<dt>thumbnails<\/dt><dd>off \(--no-thumbnails\)<\/dd>/);
    assert.equal([...whole.matchAll(/class="track-canvas"/g)].length, 2);
    const partial = readFileSync(join(dir, 'batch-cut.html'), 'utf8');
    assert.match(partial, /Run cut short/);
    assert.match(partial, /truncated: decoded/);
    const data = embedded(partial);
    assert.ok(data.mood.t.length > 0 && data.mood.t.length < 15, `${data.mood.t.length} frames`);
  });

  it('Ctrl+C writes the page for what was done', async () => {
    const out = join(dir, 'interrupted.html');
    const { code, stdout, stderr } = await interruptCli(['video', clip, '--json', '--report', out, '--budget-ms', 'all', '--model', model], /"t":0\.2,/);
    assert.equal(code, 130, stderr);
    assert.ok(existsSync(out), 'report written');
    const html = readFileSync(out, 'utf8');
    assert.match(html, /Run cut short/);
    assert.match(html, /INTERRUPTED/);
    assert.equal(embedded(html).mood.t.length, JSON.parse(stdout).frames.length);
  });
});

describe('report series', () => {
  it('downsamples a long run to at most MAX_REPORT_POINTS per series, keeping means and the time span', () => {
    const series = new VideoReportSeries();
    const frames = 2 * 3600 * 5; // 2 h at 5 fps
    const happy = (k: number) => (k % 2 ? 0.8 : 0.4);
    for (let k = 0; k < frames; k++) {
      const emotions = { angry: 0, disgust: 0, fear: 0, happy: happy(k), neutral: 1 - happy(k), sad: 0, surprise: 0 };
      series.add({ t: k / 5, faces: k % 10 < 2 ? [] : [{ id: 1, emotions, dominant: 'happy' as const }] });
    }
    const data = series.data();
    assert.equal(data.frames, frames);
    assert.ok(data.tracks[0].t.length <= MAX_REPORT_POINTS && data.tracks[0].t.length > MAX_REPORT_POINTS / 2, `${data.tracks[0].t.length} points`);
    assert.ok(data.mood.t.length <= MAX_REPORT_POINTS && data.mood.t.length > MAX_REPORT_POINTS / 2);
    assert.ok(data.mood.t[0] < 5 && data.mood.t[data.mood.t.length - 1] > frames / 5 - 5, 'the whole run is covered');
    for (const p of data.tracks[0].emotions.happy) assert.ok(Math.abs(p - 0.6) < 0.01, `mean kept: ${p}`);
    // Valence is the mean over frames with faces (frames without any do not pull it towards 0).
    for (const v of data.mood.valence) assert.ok(v !== null && Math.abs(v - 0.6) < 0.01);
  });

  it('a frame without faces is a gap (null), not 0; short series are not merged', () => {
    const s = new BoundedSeries(2, 4);
    s.add(0, [1, null]);
    s.add(1, [3, 5]);
    assert.deepEqual(s.list(), [{ t: 0, values: [1, null] }, { t: 1, values: [3, 5] }]);
    for (let k = 2; k < 9; k++) s.add(k, [k, k]);
    const points = s.list();
    assert.ok(points.length <= 4);
    assert.equal(s.frames, 9);
  });
});

describe('the report in Chromium', requires(...BROWSER), () => {
  it('opens without console errors and draws every chart', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('request', (r) => { if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) errors.push(`fetched ${r.url()}`); });
      await page.goto(pathToFileURL(report).href);
      const charts = await page.evaluate(() => {
        const g = globalThis as unknown as { Chart: { getChart(c: unknown): { data: { datasets: Array<{ data: unknown[] }> } } | undefined }; document: { querySelectorAll(s: string): ArrayLike<{ width: number; height: number; getContext(k: string): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } }> } };
        return Array.from(g.document.querySelectorAll('canvas')).map((c) => {
          const chart = g.Chart.getChart(c);
          const pixels = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let painted = 0;
          for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
          return { drawn: Boolean(chart), datasets: chart?.data.datasets.length ?? 0, points: chart?.data.datasets[0]?.data.length ?? 0, painted, width: c.width };
        });
      });
      assert.deepEqual(errors, []);
      assert.equal(charts.length, 3, 'group mood + one per track');
      assert.deepEqual(charts.map((c) => c.datasets), [3, 7, 7]);
      for (const c of charts) assert.ok(c.drawn && c.points > 0 && c.width > 100 && c.painted > 500, JSON.stringify(c));
      const images = await page.evaluate(() => Array.from((globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ naturalWidth: number }> } }).document.querySelectorAll('img.thumb')).map((i) => i.naturalWidth));
      assert.equal(images.length, 2);
      assert.ok(images.every((w) => w > 0), 'thumbnails decode');
    } finally {
      await browser.close();
    }
  });
});
