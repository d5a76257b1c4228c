/**
 * The web app (`emolens serve`): the page's own pure pieces (tracking, mood and timeline: test/track.test.ts; here
 * failure messages), the static server's safety, which models /config.json names (the full one for images, the
 * live one for the live view, the fallback when the live one is missing), and — in Debian's headless Chromium with a
 * fake camera playing a sample photo — the live view (read by the live model), group panel, snapshot download
 * (read by the full model), uploads and the failure notices.
 *
 * Browser tests skip with a message when /usr/bin/chromium, ffmpeg or the built app (dist/web) is missing; with
 * CI=true they fail instead (test/helpers/prerequisites.ts). They wait on page state, never on fixed sleeps.
 * Screenshots are kept in test-artifacts/ (web-live.png, web-group.png).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import { EMOTIONS } from '../src/labels.js';
import { startWebServer, type RunningWebServer } from '../src/serve/server.js';
import { missingCapability, mediaErrorNotice } from '../src/web/messages.js';
import { DEFAULT_LIVE_MODEL } from '../src/env/models.js';
import { download, hasChromium, launchChromium, serveModelArgs, startServe, tinyModels, within, type ServeProcess } from './fixtures/browser.js';
import { CHROMIUM, hasFfmpeg, SAMPLE_PHOTOS, stillVideo } from './fixtures/fake-camera.js';
import { ROOT, tempDir } from './helpers/fixtures.js';
import { BROWSER, FFMPEG, requires } from './helpers/prerequisites.js';

const ARTIFACTS = join(ROOT, 'test-artifacts');

describe('failure messages', () => {
  test('camera errors map to a clear notice', () => {
    const err = (name: string) => Object.assign(new Error('x'), { name });
    assert.equal(mediaErrorNotice(err('NotAllowedError'), 'camera').code, 'camera-denied');
    assert.equal(mediaErrorNotice(err('NotFoundError'), 'camera').code, 'no-camera');
    assert.equal(mediaErrorNotice(err('OverconstrainedError'), 'camera').code, 'no-camera');
    assert.equal(mediaErrorNotice(err('NotReadableError'), 'camera').code, 'camera-busy');
    assert.equal(mediaErrorNotice(err('NotAllowedError'), 'screen').code, 'screen-denied');
  });

  test('browsers without WebAssembly SIMD are told so', () => {
    const noSimd = { validate: () => false } as unknown as typeof WebAssembly;
    assert.equal(missingCapability({ WebAssembly: noSimd, Worker: class {}, OffscreenCanvas: class {} })?.code, 'no-simd');
    assert.equal(missingCapability({})?.code, 'no-webassembly');
    // Node's V8 has SIMD: the probe module must validate.
    assert.equal(missingCapability({ WebAssembly, Worker: class {}, OffscreenCanvas: class {} }), null);
  });
});

describe('static server', () => {
  let server: RunningWebServer;
  let dir: string;

  before(async () => {
    dir = tempDir('emolens-serve-');
    const web = join(dir, 'web');
    const models = join(dir, 'models');
    mkdirSync(join(web, 'assets'), { recursive: true });
    mkdirSync(join(web, 'ort'), { recursive: true });
    mkdirSync(models);
    writeFileSync(join(web, 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(join(web, 'assets', 'app-abc.js'), 'console.log(1)');
    writeFileSync(join(web, 'ort', 'x.wasm'), Buffer.from([0, 97, 115, 109, 1, 0, 0, 0]));
    writeFileSync(join(web, 'ort', 'x.wasm.gz'), Buffer.from('not really gzip'));
    writeFileSync(join(web, '.secret.json'), '{}');
    writeFileSync(join(dir, 'outside.json'), '{"secret":true}');
    symlinkSync(join(dir, 'outside.json'), join(web, 'link.json'));
    writeFileSync(join(models, 'm.onnx'), Buffer.alloc(16));
    writeFileSync(join(models, 'm.json'), '{}');
    writeFileSync(join(models, 'notes.txt'), 'hi');
    server = await startWebServer({ port: 0, webRoot: web, modelsDir: models, emotionModel: 'm' });
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Raw request: the path goes on the wire exactly as given (no client-side normalisation of ../). */
  const get = (path: string, method = 'GET', headers: Record<string, string> = {}) =>
    new Promise<{ status: number; type?: string; encoding?: string; body: string; headers: Record<string, unknown> }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.port, path, method, headers }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], encoding: res.headers['content-encoding'], body, headers: res.headers }));
      });
      req.on('error', reject);
      req.end();
    });

  test('binds loopback by default and serves the app, config and models with the right types', async () => {
    assert.equal(server.host, '127.0.0.1');
    const index = await get('/');
    assert.equal(index.status, 200);
    assert.match(index.type!, /^text\/html/);
    assert.equal(index.headers['cross-origin-embedder-policy'], 'require-corp');
    assert.match(String(index.headers['content-security-policy']), /connect-src 'self'/);
    assert.match((await get('/assets/app-abc.js')).type!, /^text\/javascript/);
    const wasm = await get('/ort/x.wasm');
    assert.equal(wasm.type, 'application/wasm');
    assert.equal(wasm.encoding, undefined);
    assert.equal((await get('/ort/x.wasm', 'GET', { 'accept-encoding': 'gzip, br' })).encoding, 'gzip');
    assert.equal((await get('/models/m.onnx')).type, 'application/octet-stream');
    const config = JSON.parse((await get('/config.json')).body);
    assert.equal(config.models.emotion.onnx, 'models/m.onnx');
    assert.equal(config.models.detector.onnx, 'models/blazeface.onnx');
    assert.deepEqual(config.models.live, config.models.emotion, 'without a live model, one model does both');
    assert.equal(config.liveFallback, undefined);
  });

  test('config.json names the live model beside the full one; a bad live model name is refused', async () => {
    const live = await startWebServer({ port: 0, webRoot: join(dir, 'web'), modelsDir: join(dir, 'models'), emotionModel: 'm', liveModel: 'fast' });
    try {
      const res = await fetch(new URL('config.json', live.url));
      const config = await res.json() as { models: Record<string, { onnx: string; sidecar: string }> };
      assert.deepEqual(config.models.emotion, { onnx: 'models/m.onnx', sidecar: 'models/m.json' });
      assert.deepEqual(config.models.live, { onnx: 'models/fast.onnx', sidecar: 'models/fast.json' });
    } finally {
      await live.close();
    }
    await assert.rejects(
      startWebServer({ port: 0, webRoot: join(dir, 'web'), modelsDir: join(dir, 'models'), liveModel: '../m' }),
      (err: Error) => /invalid model name: "\.\.\/m"/.test(err.message),
    );
  });

  test('refuses traversal, dotfiles, symlinks out, unknown types and non-GET methods', async () => {
    for (const path of [
      '/../outside.json', '/%2e%2e/outside.json', '/assets/..%2f..%2foutside.json', '/models/../outside.json',
      '/models/..%2foutside.json', '/.secret.json', '/link.json', '/models/notes.txt', '/ort/x.wasm.gz',
      '/assets/', '/nope.html', '/%00.html', '/assets\\..\\..\\outside.json',
    ]) {
      const res = await get(path);
      assert.equal(res.status === 404 || res.status === 400, true, `${path} → ${res.status}`);
      assert.doesNotMatch(res.body, /secret/);
    }
    assert.equal((await get('/', 'POST')).status, 405);
    assert.equal((await get('/', 'PUT')).status, 405);
    assert.equal((await get(`/${'a'.repeat(3000)}`)).status, 414);
  });

  test('a busy port is a one-line usage error', async () => {
    await assert.rejects(
      startWebServer({ port: server.port, webRoot: join(dir, 'web'), modelsDir: join(dir, 'models') }),
      (err: Error) => /port \d+ is already in use/.test(err.message),
    );
  });
});

describe('emolens serve --live-model', () => {
  let models: string;
  before(() => {
    models = tinyModels(['tiny', 'tiny-live']);
  });
  const configOf = async (serve: ServeProcess) => (await (await fetch(new URL('config.json', serve.url))).json()) as {
    models: Record<'detector' | 'emotion' | 'live', { onnx: string }>;
    liveFallback?: string;
  };

  test('names both models in /config.json and on its start-up lines', async () => {
    const serve = await startServe(['--models-dir', models, '--model', 'tiny', '--live-model', 'tiny-live']);
    try {
      const config = await configOf(serve);
      assert.equal(config.models.emotion.onnx, 'models/tiny.onnx');
      assert.equal(config.models.live.onnx, 'models/tiny-live.onnx');
      assert.equal(config.liveFallback, undefined);
      assert.match(serve.output(), /^live view: tiny-live; snapshots and images: tiny$/m);
    } finally {
      await serve.stop();
    }
  });

  test('"same" (or the --model name) loads one model for both', async () => {
    for (const live of ['same', 'tiny']) {
      const serve = await startServe(['--models-dir', models, '--model', 'tiny', '--live-model', live]);
      try {
        const config = await configOf(serve);
        assert.deepEqual(config.models.live, config.models.emotion, live);
        assert.equal(config.liveFallback, undefined);
      } finally {
        await serve.stop();
      }
    }
  });

  test(`a missing default live model (${DEFAULT_LIVE_MODEL}) falls back to --model's with a warning line, not a failure`, async () => {
    const serve = await startServe(['--models-dir', models, '--model', 'tiny']);
    try {
      const config = await configOf(serve);
      assert.deepEqual(config.models.live, config.models.emotion);
      assert.match(config.liveFallback ?? '', new RegExp(`the live model ${DEFAULT_LIVE_MODEL} is not in .*no ${DEFAULT_LIVE_MODEL}\\.onnx`));
      // The warning is on stderr, the URL line (which startServe waits for) on stdout: either may come first.
      const warning = new RegExp(`^warning: the live model ${DEFAULT_LIVE_MODEL} is not in .*; the live view uses tiny \\(slower\\)$`, 'm');
      for (const end = Date.now() + 5000; !warning.test(serve.output()) && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
      assert.match(serve.output(), warning);
      assert.doesNotMatch(serve.output(), /\n\s+at /, 'no stack trace');
    } finally {
      await serve.stop();
    }
  });

  test('a live model named on the command line must exist: one error line, exit 1', async () => {
    await assert.rejects(
      startServe(['--models-dir', models, '--model', 'tiny', '--live-model', 'no-such-model']),
      (err: Error) => /exited with 1:\nerror: model not found: no-such-model \(looked for [^\n]*\)\n?$/.test(err.message),
    );
  });
});

// ---- in the browser ---------------------------------------------------------------------------------------------

// Chromium and dist/web (and ffmpeg for the fake camera): skipped with one line when missing, a failed run when
// missing under CI=true.
const withFakeCamera = requires(...BROWSER, FFMPEG);
const inChromium = requires(...BROWSER);

/**
 * Resolves once the live overlay has settled on the current frames: at least `minFaces` boxes, none of them still
 * pending (found but not read yet), every one labelled, and at least `frames` frames analysed in all.
 */
function liveOverlaySettled(page: Page, minFaces: number, frames: number, timeout = 60_000): Promise<unknown> {
  return page.waitForFunction(({ minFaces, frames }) => {
    const boxes = [...document.querySelectorAll('.face')];
    const analysed = Number(document.querySelector('#stat-fps')?.getAttribute('data-frames'));
    return analysed >= frames && boxes.length >= minFaces
      && boxes.every((el) => !el.classList.contains('pending') && el.querySelector('.face-label')?.textContent);
  }, { minFaces, frames }, { timeout });
}

/** What the live page shows now, for failure messages (at most 5 s: a hung renderer must not hang the message). */
function pageState(page: Page): Promise<string> {
  const state = page.evaluate(() => JSON.stringify({
    frames: document.querySelector('#stat-fps')?.getAttribute('data-frames'),
    fps: document.querySelector('#stat-fps')?.getAttribute('data-value'),
    faces: document.querySelectorAll('.face').length,
    anonymous: document.querySelectorAll('.face.anon').length,
    pending: document.querySelectorAll('.face.pending').length,
    labels: document.querySelectorAll('.face-label').length,
    view: document.body.dataset.view,
    aggregateOnly: document.querySelector<HTMLInputElement>('#aggregate-only')?.checked,
    cards: document.querySelectorAll('.result-card').length,
    notices: [...document.querySelectorAll('.notice')].map((n) => n.getAttribute('data-code')),
  })).catch((err: Error) => `unavailable (${err.message.split('\n')[0]})`);
  return within(state, 5000, 'unavailable (no answer in 5 s)');
}

/** Runs one step of a browser test; a failure names the step and what the page showed at that moment. */
async function step<T>(page: Page, what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message.split('\n')[0]}; page: ${await pageState(page)}`, { cause: err });
  }
}

/** The individual view (per-face labels), whatever an earlier test left. */
async function individualView(page: Page): Promise<void> {
  if (await page.getAttribute('body', 'data-view') !== 'individual') await page.click('.segmented input[value="individual"] + span');
  assert.equal(await page.isChecked('#aggregate-only'), false);
}

describe('web app in headless Chromium (fake camera)', withFakeCamera, () => {
  // The full model reads snapshots and images, the live model the live view (the same one where it has not landed).
  const models = serveModelArgs();
  let serve: ServeProcess;
  let browser: Browser;
  let page: Page;
  let work: string;

  before(async () => {
    work = tempDir('emolens-web-');
    mkdirSync(ARTIFACTS, { recursive: true });
    // sample6: four faces in a row; 1280x720 like a webcam.
    const video = await stillVideo(SAMPLE_PHOTOS[5], join(work, 'camera.y4m'), { width: 1280, height: 720, seconds: 2, fps: 15 });
    serve = await startServe(models.args);
    browser = await launchChromium({ fakeVideo: video });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
    await page.goto(serve.url);
    await page.waitForSelector('#backend[data-state="ready"]', { timeout: 90_000 });
  });
  after(async () => {
    await browser?.close();
    await serve?.stop();
    if (work) rmSync(work, { recursive: true, force: true }); // the .y4m is ~40 MB
  });

  test('live view: every face gets a box and a label; the group panel counts them', { timeout: 150_000 }, async () => {
    await page.click('#start-camera');
    // Wait until the tracks have settled (a few frames in) and every box carries its label.
    await liveOverlaySettled(page, 3, 5);
    // Labels and boxes from one look at the DOM: the overlay is redrawn every frame.
    const { labels, boxes } = await page.evaluate(() => ({
      labels: [...document.querySelectorAll('.face .face-label')].map((el) => el.textContent ?? ''),
      boxes: document.querySelectorAll('.face:not(.pending)').length,
    }));
    assert.ok(labels.length >= 3 && labels.length <= 5, `expected the 4 faces of sample6, got ${labels.length} labels`);
    assert.equal(boxes, labels.length);
    for (const label of labels) assert.ok((EMOTIONS as readonly string[]).includes(label), `label ${label}`);
    assert.equal(await page.locator('.face-bars').first().locator('i').count(), 7);
    // Every face has a recent reading: 4 faces fit the per-frame budget or are read in turn within a second or two.
    const ages = (await page.locator('.face:not(.pending)').evaluateAll((els) => els.map((el) => el.getAttribute('data-reading-age-ms')))).map(Number);
    assert.ok(ages.every((ms) => ms >= 0 && ms < 5000), `reading ages ${ages.join(', ')} ms`);
    await page.waitForFunction(() => Number(document.querySelector('#group-count')!.getAttribute('data-count')) >= 3, null, { timeout: 10_000 });
    const counted = Number(await page.getAttribute('#group-count', 'data-count'));
    assert.ok(Math.abs(counted - labels.length) <= 1, `group panel counts ${counted}, overlay shows ${labels.length}`);
    await page.waitForFunction(() => Number(document.querySelector('#stat-fps')!.getAttribute('data-value')) > 0, null, { timeout: 10_000 });
    assert.ok(Number(await page.getAttribute('#stat-ms', 'data-value')) > 0, 'ms/frame is shown');
    // The worker names the model of every live reading; the page shows it under the video.
    assert.equal(await page.textContent('#stat-model'), models.live);
    const line = await page.textContent('#model-line') ?? '';
    if (models.live === models.full) assert.match(line, new RegExp(`^Emotion model ${models.full}\\b`));
    else assert.match(line, new RegExp(`^Live view: emotion model ${models.live}\\b.* · snapshots and images: ${models.full}\\b`));
    if (models.real) assert.match(line, /FER2013 validation accuracy \d+\.\d%/);
    await page.screenshot({ path: join(ARTIFACTS, 'web-live.png'), fullPage: true });
  });

  test('snapshot: per-face result card, annotated image and JSON downloads', { timeout: 150_000 }, async () => {
    await page.click('#snapshot');
    const card = page.locator('.result-card[data-source="camera"]').first();
    await card.waitFor({ timeout: 30_000 });
    const jsonDownload = await download(page, () => card.locator('.download-json').click());
    const json = JSON.parse(readFileSync(jsonDownload, 'utf8'));
    assert.equal(json.format, 'emolens-snapshot/1');
    assert.equal(json.model, models.full, 'snapshots are read by the full model');
    assert.deepEqual([json.width, json.height], [1280, 720]);
    assert.ok(json.faces.length >= 3, `snapshot found ${json.faces.length} faces`);
    assert.equal(json.group.faces, json.faces.length);
    for (const face of json.faces) {
      const sum = EMOTIONS.reduce((s, e) => s + face.emotions[e], 0);
      assert.ok(Math.abs(sum - 1) < 1e-3, `probabilities sum to ${sum}`);
      assert.ok((EMOTIONS as readonly string[]).includes(face.dominant));
      assert.ok(face.box.width > 20 && face.box.x >= 0 && face.box.x + face.box.width <= 1280 + 1);
    }
    assert.equal(Number(await card.getAttribute('data-faces')), json.faces.length);
    const pngDownload = await download(page, () => card.locator('.download-image').click());
    const png = readFileSync(pngDownload);
    const meta = await sharp(png).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['png', 1280, 720]);
  });

  test('timeline export: JSON of the session with group samples', { timeout: 150_000 }, async () => {
    await page.waitForSelector('#export-json:not([disabled])', { timeout: 10_000 });
    const timeline = await download(page, () => page.click('#export-json'));
    const json = JSON.parse(readFileSync(timeline, 'utf8'));
    assert.equal(json.format, 'emolens-timeline/1');
    assert.equal(json.model, models.live, 'the timeline holds the live view\'s readings');
    assert.ok(json.samples.length >= 1);
    assert.ok(json.samples.some((s: { group: { faces: number } }) => s.group.faces >= 3));
    const csv = await download(page, () => page.click('#export-csv'));
    assert.match(readFileSync(csv, 'utf8'), /^time_s,series,faces,angry/);
  });

  test('group view: aggregate-only is on and no per-face label is shown', { timeout: 150_000 }, async () => {
    const framesBefore = Number(await page.getAttribute('#stat-fps', 'data-frames'));
    await step(page, 'switching to the group view', () => page.click('.segmented input[value="group"] + span'));
    try {
      assert.equal(await page.isChecked('#aggregate-only'), true);
      // Frames analysed after the switch are drawn aggregate-only too: anonymous boxes, not just the one redraw.
      await step(page, 'waiting for two frames with anonymous boxes', () => page.waitForFunction((n) =>
        Number(document.querySelector('#stat-fps')!.getAttribute('data-frames')) >= n + 2
        && document.querySelectorAll('.face.anon').length >= 3, framesBefore, { timeout: 30_000 }));
      assert.equal(await page.locator('.face-label').count(), 0);
      // The overlay is redrawn every frame and the group panel four times a second: under load a frame can lose a
      // face for a moment, so both are waited for rather than read once.
      await step(page, 'waiting for the group panel to count the faces', () => page.waitForFunction(() =>
        document.querySelectorAll('.face.anon').length >= 3
        && Number(document.querySelector('#group-count')!.getAttribute('data-count')) >= 3, null, { timeout: 10_000 }));
      const cardsBefore = await page.locator('.result-card').count();
      await step(page, 'taking a snapshot', () => page.click('#snapshot'));
      await step(page, 'waiting for the snapshot card', () => page.waitForFunction((n) =>
        document.querySelectorAll('.result-card').length > n, cardsBefore, { timeout: 30_000 }));
      const card = page.locator('.result-card').first();
      const saved = await step(page, 'downloading the snapshot JSON', () =>
        download(page, () => card.locator('.download-json').click()));
      const json = JSON.parse(readFileSync(saved, 'utf8'));
      assert.equal(json.aggregateOnly, true);
      assert.equal(json.faces, undefined, 'aggregate-only snapshots carry no per-face data');
      assert.ok(json.group.faces >= 3);
      await step(page, 'taking a screenshot', () => page.screenshot({ path: join(ARTIFACTS, 'web-group.png'), fullPage: true }));
    } finally {
      await individualView(page); // the next tests read per-face cards
    }
  });

  test('upload: dropped photos are analysed in the page; a faceless image says so', { timeout: 150_000 }, async () => {
    const blank = join(work, 'blank.png');
    await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 90, g: 120, b: 140 } } }).png().toFile(blank);
    await page.setInputFiles('#file-input', [SAMPLE_PHOTOS[0], blank]);
    const photoCard = page.locator('.result-card[data-source="upload"]', { hasText: 'sample1.jpg' });
    await photoCard.waitFor({ timeout: 60_000 });
    assert.ok(Number(await photoCard.getAttribute('data-faces')) >= 3, 'sample1 has three faces');
    const upload = await download(page, () => photoCard.locator('.download-json').click());
    assert.equal(JSON.parse(readFileSync(upload, 'utf8')).model, models.full, 'images are read by the full model');
    await page.waitForSelector('.notice[data-code="no-face-in-image"]', { timeout: 30_000 });
    assert.match(await page.textContent('.notice[data-code="no-face-in-image"]') ?? '', /No face found.*blank\.png/);

    // A real drop event (files dragged from the desktop) on the page.
    const jpeg = (await sharp(SAMPLE_PHOTOS[2]).resize(960).jpeg().toBuffer()).toString('base64');
    await page.evaluate((b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const data = new DataTransfer();
      data.items.add(new File([bytes], 'dropped.jpg', { type: 'image/jpeg' }));
      document.querySelector('#dropzone')!.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
    }, jpeg);
    const dropped = page.locator('.result-card[data-source="upload"]', { hasText: 'dropped.jpg' });
    await dropped.waitFor({ timeout: 60_000 });
    assert.ok(Number(await dropped.getAttribute('data-faces')) >= 2, 'sample3 has three faces');
  });

  test('"why?" draws a face\'s Grad-CAM map over it in the card, and off again', { timeout: 150_000 }, async () => {
    const card = page.locator('.result-card[data-source="upload"]', { hasText: 'sample1.jpg' });
    const canvas = card.locator('canvas.annotated');
    const pixels = () => canvas.evaluate((c: HTMLCanvasElement) => c.toDataURL());
    const before = await pixels();
    await individualView(page);
    const why = card.locator('.why-toggle').first();
    assert.equal(await card.locator('.why-toggle').count(), Number(await card.getAttribute('data-faces')), 'one toggle per face');
    await why.click();
    assert.equal(await why.getAttribute('aria-pressed'), 'true');
    assert.equal(await canvas.getAttribute('data-why'), '1');
    assert.notEqual(await pixels(), before, 'the map is drawn');
    await card.screenshot({ path: join(ARTIFACTS, 'web-why.png') });
    await why.click();
    assert.equal(await canvas.getAttribute('data-why'), '');
    assert.equal(await pixels(), before, 'and removed');
  });

  test('the page says frames stay local and links the model card', async () => {
    assert.match(await page.textContent('#privacy') ?? '', /never leave this browser/);
    const footer = await page.textContent('footer') ?? '';
    assert.match(footer, /EU AI Act/);
    const href = await page.getAttribute('footer a[href*="model-card"]', 'href');
    const res = await page.request.get(new URL(href!, serve.url).href);
    assert.equal(res.status(), 200);
  });
});

describe('web app failure notices in headless Chromium', inChromium, () => {
  test('a broken model file: "The models failed to load"', async () => {
    const dir = tempDir('emolens-broken-models-');
    for (const ext of ['onnx', 'json']) writeFileSync(join(dir, `blazeface.${ext}`), readFileSync(join(ROOT, 'models', `blazeface.${ext}`)));
    writeFileSync(join(dir, 'broken.onnx'), 'version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n');
    writeFileSync(join(dir, 'broken.json'), JSON.stringify({ format: 'emolens-model/1' }));
    const serve = await startServe(['--models-dir', dir, '--model', 'broken']);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(serve.url);
      const notice = page.locator('.notice[data-code="model-failed"]');
      await notice.waitFor({ timeout: 60_000 });
      assert.match(await notice.textContent() ?? '', /models failed to load/i);
      assert.equal(await page.getAttribute('#backend', 'data-state'), 'failed');
    } finally {
      await browser.close();
      await serve.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('no live model, or a broken one: the page works with the full model and says so', async () => {
    const dir = tinyModels(['tiny']);
    writeFileSync(join(dir, 'broken-live.onnx'), 'version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n');
    writeFileSync(join(dir, 'broken-live.json'), '{}');
    const browser = await launchChromium();
    try {
      for (const [args, reason] of [
        [[], new RegExp(`the live model ${DEFAULT_LIVE_MODEL} is not in`)],
        [['--live-model', 'broken-live'], /models\/broken-live\.onnx did not load/],
      ] as const) {
        const serve = await startServe(['--models-dir', dir, '--model', 'tiny', ...args]);
        try {
          const page = await browser.newPage();
          await page.goto(serve.url);
          await page.waitForSelector('#backend[data-state="ready"]', { timeout: 90_000 });
          const notice = page.locator('.notice[data-code="live-model-fallback"]');
          await notice.waitFor({ timeout: 10_000 });
          const text = await notice.textContent() ?? '';
          assert.match(text, /live view uses the full emotion model/i);
          assert.match(text, reason);
          assert.match(text, /live frames are read by tiny/);
          assert.match(await page.textContent('#model-line') ?? '', /^Emotion model tiny\b/);
          await page.close();
        } finally {
          await serve.stop();
        }
      }
    } finally {
      await browser.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('camera permission denied, and no camera at all', async () => {
    const serve = await startServe(serveModelArgs().args);
    // No --use-fake-ui-for-media-stream: headless Chromium dismisses the permission prompt.
    const denied = await launchChromium({ fakeDevice: true, fakeUi: false });
    const noCamera = await launchChromium({ fakeUi: true });
    try {
      for (const [browser, code] of [[denied, 'camera-denied'], [noCamera, 'no-camera']] as const) {
        const page = await browser.newPage();
        await page.goto(serve.url);
        await page.waitForSelector('#backend[data-state="ready"]', { timeout: 90_000 });
        await page.click('#start-camera');
        await page.waitForSelector(`.notice[data-code="${code}"]`, { timeout: 20_000 });
        assert.equal(await page.getAttribute('#stage', 'data-state'), 'idle');
      }
    } finally {
      await denied.close();
      await noCamera.close();
      await serve.stop();
    }
  });

  test('a camera that shows no face: "No face found" after a few seconds', async () => {
    const serve = await startServe(serveModelArgs().args);
    const browser = await launchChromium({ fakeDevice: true, fakeUi: true }); // Chromium's test pattern
    try {
      const page = await browser.newPage();
      await page.goto(serve.url);
      await page.waitForSelector('#backend[data-state="ready"]', { timeout: 90_000 });
      await page.click('#start-camera');
      await page.waitForSelector('.notice[data-code="no-face"]', { timeout: 30_000 });
      assert.equal(await page.getAttribute('#stage', 'data-state'), 'running');
    } finally {
      await browser.close();
      await serve.stop();
    }
  });
});
