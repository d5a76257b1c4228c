/**
 * Video files in the web app (docs/web.md "Video files"), in Debian's headless Chromium: a clip generated with
 * ffmpeg (two faces from the sample photos, VP8/WebM, which Chromium decodes without proprietary codecs) is set on
 * the page's file input, analysed in the page frame by frame, then scrubbed and exported; a file the browser
 * cannot decode gets the "cannot decode" notice. Waits on page state, never on fixed sleeps.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { EMOTIONS } from '../src/labels.js';
import { VIDEO_CSV_HEADER } from '../src/result/video.js';
import { ANALYSIS_FPS } from '../src/web/video-file.js';
import { download, launchChromium, serveModelArgs, startServe, type ServeProcess } from './fixtures/browser.js';
import { makeClip } from './helpers/clips.js';
import { tempDir } from './helpers/fixtures.js';
import { BROWSER, FFMPEG, requires } from './helpers/prerequisites.js';

const DURATION_S = 3;

describe('web app: a video file, analysed in headless Chromium', requires(...BROWSER, FFMPEG), () => {
  // Video files go through the live view's path, so the live model reads them.
  const models = serveModelArgs();
  let serve: ServeProcess;
  let browser: Browser;
  let page: Page;
  let work: string;
  let clip: string;

  before(async () => {
    work = tempDir('emolens-web-video-');
    // Two faces (happy, fear) drifting slowly side by side.
    clip = await makeClip({
      out: join(work, 'two-faces.webm'), width: 640, height: 360, fps: 25, durationS: DURATION_S, codec: 'vp8',
      faces: [{ face: 2, size: 240, x: '30+10*t', y: '60' }, { face: 4, size: 240, x: '360-10*t', y: '60' }],
    }, work);
    serve = await startServe(models.args);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
    await page.goto(serve.url);
    await page.waitForSelector('#backend[data-state="ready"]', { timeout: 90_000 });
  });
  after(async () => {
    await browser?.close();
    await serve?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('analysed frame by frame at the analysis rate, with stable ids, a timeline and the group panel', async () => {
    await page.setInputFiles('#file-input', clip);
    await page.waitForSelector('#video-status[data-state="done"]', { timeout: 120_000 });
    const frames = Number(await page.getAttribute('#video-status', 'data-frames'));
    assert.ok(Math.abs(frames - DURATION_S * ANALYSIS_FPS) <= 1, `${frames} frames analysed for ${DURATION_S} s at ${ANALYSIS_FPS} fps`);
    // The playhead goes back to 0 s, whose first frame may have only one face read yet (the budget's first frame).
    assert.ok(Number(await page.getAttribute('#group-count', 'data-count')) >= 1);
    assert.equal(await page.locator('#video-bar').isVisible(), true);
    // The timeline got one sample per second of video.
    await page.waitForSelector('#export-json:not([disabled])', { timeout: 5_000 });
    const timelineDownload = await download(page, () => page.click('#export-json'));
    const timeline = JSON.parse(readFileSync(timelineDownload, 'utf8'));
    assert.equal(timeline.model, models.live);
    assert.deepEqual(timeline.samples.map((s: { t: number }) => s.t), [0, 1, 2]);
    assert.ok(timeline.samples.slice(1).every((s: { group: { faces: number } }) => s.group.faces === 2));
  });

  test('seekable: scrubbing back draws the stored faces of that frame', async () => {
    await page.evaluate(() => { (document.querySelector('#video') as HTMLVideoElement).currentTime = 1.1; });
    await page.waitForFunction(() => document.querySelector('#video-status')?.getAttribute('data-shown-t') === '1', null, { timeout: 10_000 });
    await page.waitForFunction(() => document.querySelectorAll('.face:not(.pending) .face-label').length === 2, null, { timeout: 10_000 });
    const labels = await page.locator('.face .face-label').allTextContents();
    for (const label of labels) assert.ok((EMOTIONS as readonly string[]).includes(label), `label ${label}`);
    const ids = (await page.locator('.face').evaluateAll((els) => els.map((el) => el.getAttribute('data-track')))).map(Number).sort();
    assert.equal(ids.length, 2);
    assert.ok(ids.every((id) => id > 0), `track ids ${ids.join(', ')}`);
    assert.equal(Number(await page.getAttribute('#group-count', 'data-count')), 2, 'the group panel follows the playhead');
  });

  test('JSON and CSV exports are emolens video --json / --csv documents (+ the model)', async () => {
    const jsonDownload = await download(page, () => page.click('#video-export-json'));
    const json = JSON.parse(readFileSync(jsonDownload, 'utf8'));
    assert.deepEqual(Object.keys(json), ['file', 'width', 'height', 'fps', 'duration', 'model', 'frames', 'tracks']);
    assert.equal(json.file, 'two-faces.webm');
    assert.equal(json.model, models.live, 'the model that read the faces');
    assert.deepEqual([json.width, json.height, json.fps], [640, 360, ANALYSIS_FPS]);
    assert.ok(Math.abs(json.duration - DURATION_S) < 0.1, `duration ${json.duration}`);
    assert.equal(json.frames.length, Number(await page.getAttribute('#video-status', 'data-frames')));
    json.frames.forEach((frame: { t: number }, k: number) => assert.ok(Math.abs(frame.t - k / ANALYSIS_FPS) < 1e-3, `frame ${k} at t=${frame.t}`));
    for (const frame of json.frames) {
      for (const face of frame.faces) {
        assert.deepEqual(Object.keys(face), ['id', 'box', 'emotions', 'dominant']);
        assert.deepEqual(Object.keys(face.box), ['x', 'y', 'width', 'height']);
        assert.deepEqual(Object.keys(face.emotions), [...EMOTIONS]);
        assert.ok(face.box.width > 60 && face.box.x >= -1 && face.box.x + face.box.width <= 641, JSON.stringify(face.box));
      }
    }
    // Stable ids: the same two tracks from (nearly) the first frame to the last.
    assert.equal(json.tracks.length, 2, `tracks ${JSON.stringify(json.tracks.map((t: { id: number }) => t.id))}`);
    const ids = json.tracks.map((t: { id: number }) => t.id);
    for (const frame of json.frames.slice(2)) assert.deepEqual(frame.faces.map((f: { id: number }) => f.id), ids);
    for (const track of json.tracks) {
      assert.deepEqual(Object.keys(track), ['id', 'from', 'to', 'dominant', 'meanEmotions']);
      assert.ok(track.from <= 0.2 && track.to >= DURATION_S - 0.4, `track ${track.id}: ${track.from}–${track.to} s`);
    }
    const csvDownload = await download(page, () => page.click('#video-export-csv'));
    const lines = readFileSync(csvDownload, 'utf8').trim().split('\n');
    assert.equal(lines[0], VIDEO_CSV_HEADER);
    const faceRows = json.frames.reduce((n: number, f: { faces: unknown[] }) => n + f.faces.length, 0);
    assert.equal(lines.length - 1, faceRows);
    assert.match(lines[1], /^two-faces\.webm,0,\d+,/);
  });

  test('a file the browser cannot decode: "This browser cannot decode that video"', async () => {
    const broken = join(work, 'broken.webm');
    writeFileSync(broken, Buffer.concat([Buffer.from([0x1a, 0x45, 0xdf, 0xa3]), Buffer.alloc(4096, 7)]));
    await page.setInputFiles('#file-input', broken);
    const notice = page.locator('.notice[data-code="video-unreadable"]');
    await notice.waitFor({ timeout: 30_000 });
    assert.match(await notice.textContent() ?? '', /cannot decode.*broken\.webm/);
    assert.equal(await page.getAttribute('#video-status', 'data-state'), 'failed');
  });
});
