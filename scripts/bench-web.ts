/**
 * Web app benchmark (a script, not a test): live FPS, ms/frame and face readings per second in headless Chromium
 * for 1 and 25 faces at 640x480 and 1280x720 and 9 faces at 640x480 (issue 20's scenes), fed through the fake camera, and the first-load size of the app
 * (every byte the page downloads until the models are ready).
 *
 *   npm run build:web && node --import tsx scripts/bench-web.ts [--seconds 10] [--warmup 4] [--runs 3] [--small-faces]
 *       [--models-dir DIR --model NAME]   (default: models/emolens-fer, else a generated test model)
 *       [--live-model NAME[,NAME…]]       (the live view's model, as `emolens serve --live-model`; default: serve's
 *                                          own, emolens-fast. Several: every scenario with each, then the FPS gain
 *                                          of the first over each other, e.g. --live-model emolens-fast,emolens-fer)
 *       [--threads N]                     (wasm threads, as the page's ?threads=N; default: the page's own choice)
 *       [--skip-first-load] [--only 25@640x480,1@1280x720]
 *
 * The live view detects every frame but classifies only a budget of faces per frame (src/track/budget.ts), so with
 * 25 faces "readings/s" (faces classified per second) says how often each face's emotions are refreshed.
 *
 * Each scenario runs `runs` times in a fresh browser; the median is printed with the range (a shared machine is noisy).
 *
 * The 25-face frames are 5x5 galleries tiled from the sample photos' faces (the video-call case). Numbers depend
 * on the machine and its load; say which when you quote them.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Browser } from 'playwright-core';
import { createAnalyzer } from '../src/node.js';
import type { Box } from '../src/types.js';
import { hasChromium, launchChromium, serveModelArgs, startServe } from '../test/fixtures/browser.js';
import { faceGrid, hasFfmpeg, SAMPLE_PHOTOS, stillVideo } from '../test/fixtures/fake-camera.js';
import { ROOT, tempDir, testEmotionModel } from '../test/helpers/fixtures.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '4' },
    runs: { type: 'string', default: '3' },
    'models-dir': { type: 'string' },
    model: { type: 'string' },
    'live-model': { type: 'string' },
    'small-faces': { type: 'boolean', default: false },
    threads: { type: 'string' },
    'skip-first-load': { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
// --only "25@640x480,1@1280x720": just these scenarios.
const only = args.only?.split(',').map((s) => s.trim());
const query = args.threads ? `?threads=${Number(args.threads)}` : '';
const seconds = Number(args.seconds);
const warmupSeconds = Number(args.warmup);
const runs = Math.max(1, Number(args.runs));

if (!hasChromium() || !hasFfmpeg()) {
  console.error('error: needs /usr/bin/chromium and ffmpeg (apt-get install -y chromium ffmpeg)');
  process.exit(1);
}
if (!existsSync(join(ROOT, 'dist/web/index.html'))) {
  console.error('error: dist/web is not built (npm run build:web)');
  process.exit(1);
}

const work = tempDir('emolens-bench-web-');
const crops = await sampleFaceCrops();
console.log(`machine: ${cpus().length} CPU cores (${cpus()[0]?.model ?? 'unknown'}), load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}`);
const models = args['models-dir'] || args.model
  ? { args: [...(args['models-dir'] ? ['--models-dir', args['models-dir']] : []), ...(args.model ? ['--model', args.model] : [])] }
  : serveModelArgs();
console.log(`emotion model: ${args.model ?? (testEmotionModel().real ? 'emolens-fer' : 'generated test model (models/emolens-fer.onnx not there yet)')}${args['models-dir'] ? ` in ${args['models-dir']}` : ''}`);
// undefined: serve's own default live model (or the fixture's, for generated test models).
const liveModels: Array<string | undefined> = args['live-model']?.split(',').map((s) => s.trim()) ?? [undefined];

const SCENARIOS = ([[1, 640, 480], [1, 1280, 720], [9, 640, 480], [25, 640, 480], [25, 1280, 720]] as const)
  .filter(([faces, width, height]) => !only || only.includes(`${faces}@${width}x${height}`));
const scenarioName = ([faces, width, height]: (typeof SCENARIOS)[number]): string => `${faces} face${faces > 1 ? 's' : ''} @ ${width}x${height}`;
// Median FPS per live model (as the page named it) per scenario, for the gain table.
const medianFps = new Map<string, Map<string, number>>();
try {
  const videos = new Map<(typeof SCENARIOS)[number], string>();
  for (const scenario of SCENARIOS) {
    const [faces, width, height] = scenario;
    const side = Math.round(Math.sqrt(faces));
    const frame = await faceGrid(crops, { width, height, cols: side, rows: side });
    videos.set(scenario, await stillVideo(frame, join(work, `f${faces}-${width}.y4m`), { width, height, seconds: 2, fps: 30 }));
  }
  for (const [m, liveModel] of liveModels.entries()) {
    const serve = await startServe([...models.args, ...(liveModel ? ['--live-model', liveModel] : [])]);
    try {
      if (m === 0 && !args['skip-first-load']) await firstLoad(serve.url);
      console.log(`\nlive analysis, live model ${liveModel ?? '(serve\'s default)'} (fake camera, ${warmupSeconds} s warm-up, ${seconds} s measured, median of ${runs} runs [min-max]; detector tiles ${args['small-faces'] ? 'auto (Small faces on)' : 'off (live default)'})`);
      console.log('scenario              faces found   FPS              ms/frame (worker)   readings/s            detect ms/frame   classify ms/face  live model / backend');
      for (const scenario of SCENARIOS) {
        const [faces, width] = scenario;
        const results: LiveResult[] = [];
        for (let run = 0; run < runs; run++) {
          const shot = m === 0 && run === 0 && faces === 25 && width === 1280 ? join(ROOT, 'test-artifacts', 'bench-web-25-faces.png') : undefined;
          results.push(await live(serve.url, videos.get(scenario)!, shot));
        }
        const median = (pick: (r: LiveResult) => number): number => results.map(pick).sort((a, b) => a - b)[Math.floor(results.length / 2)];
        const stat = (pick: (r: LiveResult) => number, digits: number): string => {
          const v = results.map(pick).sort((a, b) => a - b);
          return `${median(pick).toFixed(digits)} [${v[0].toFixed(digits)}-${v[v.length - 1].toFixed(digits)}]`;
        };
        const found = Math.round(median((r) => r.faces));
        const model = results[0].model;
        if (!medianFps.has(model)) medianFps.set(model, new Map());
        medianFps.get(model)!.set(scenarioName(scenario), median((r) => r.fps));
        console.log(`${scenarioName(scenario).padEnd(22)}${`${found}/${faces}`.padStart(11)}   ${stat((r) => r.fps, 1).padEnd(17)}${stat((r) => r.ms, 0).padEnd(20)}${stat((r) => r.readings, 1).padEnd(22)}${stat((r) => r.detectMs, 0).padEnd(18)}${stat((r) => r.msPerFace, 0).padEnd(18)}${model} / ${results[0].backend}`);
      }
    } finally {
      await serve.stop();
    }
  }
  printGain();
} finally {
  rmSync(work, { recursive: true, force: true }); // ~150 MB of .y4m
}

/** With two or more live models: the first one's median FPS over each other's, per scenario. */
function printGain(): void {
  const [first, ...others] = [...medianFps.keys()];
  if (!first || others.length === 0) return;
  console.log(`\nlive FPS gain of ${first} (its median FPS ÷ the other model's)`);
  console.log(`scenario              ${others.map((o) => `vs ${o}`.padEnd(20)).join('')}`.trimEnd());
  for (const scenario of SCENARIOS) {
    const name = scenarioName(scenario);
    const ours = medianFps.get(first)!.get(name)!;
    console.log(`${name.padEnd(22)}${others.map((o) => `${(ours / medianFps.get(o)!.get(name)!).toFixed(2)}x`.padEnd(20)).join('')}`.trimEnd());
  }
}

/** Faces of the sample photos (boxes from the same analyzer), largest first, for tiling. */
async function sampleFaceCrops(): Promise<Array<{ photo: string; box: Box }>> {
  const analyzer = await createAnalyzer({ model: testEmotionModel().path });
  const out: Array<{ photo: string; box: Box }> = [];
  for (const photo of SAMPLE_PHOTOS) {
    const { faces } = await analyzer.analyze(photo);
    for (const f of faces) if (f.box.width >= 80 && f.score >= 0.7) out.push({ photo, box: f.box });
  }
  await analyzer.dispose();
  if (out.length === 0) throw new Error('no faces found in the sample photos');
  return out.sort((a, b) => b.box.width - a.box.width);
}

async function firstLoad(url: string): Promise<void> {
  const browser = await launchChromium();
  try {
    // A fresh browser has an empty cache. Playwright also reports the worker's requests (runtime, models).
    const context = await browser.newContext();
    const page = await context.newPage();
    const pending: Array<Promise<{ url: string; wire: number; body: number }>> = [];
    context.on('requestfinished', (request) => {
      pending.push((async () => {
        const sizes = await request.sizes();
        const response = await request.response();
        const length = Number((await response?.allHeaders())?.['content-length'] ?? sizes.responseBodySize);
        const body = response ? (await response.body().catch(() => undefined))?.length ?? length : length;
        return { url: request.url(), wire: sizes.responseHeadersSize + sizes.responseBodySize, body };
      })());
    });
    const started = Date.now();
    await page.goto(url);
    await page.waitForSelector('#backend[data-state="ready"]', { timeout: 120_000 });
    const readyMs = Date.now() - started;
    await page.waitForTimeout(500);
    const sizes = await Promise.all(pending);
    const total = sizes.reduce((s, r) => ({ wire: s.wire + r.wire, body: s.body + r.body }), { wire: 0, body: 0 });
    const mb = (n: number): string => `${(n / 1e6).toFixed(2)} MB`;
    console.log(`\nfirst load (cache disabled): ${sizes.length} requests, ${mb(total.wire)} over the wire (gzip), ${mb(total.body)} uncompressed; models ready after ${readyMs} ms`);
    for (const r of sizes.sort((a, b) => b.wire - a.wire).slice(0, 8)) {
      console.log(`  ${mb(r.wire).padStart(9)}  ${new URL(r.url).pathname}`);
    }
  } finally {
    await browser.close();
  }
}

interface LiveResult { fps: number; ms: number; faces: number; readings: number; detectMs: number; msPerFace: number; backend: string; model: string }

async function live(url: string, video: string, screenshot?: string): Promise<LiveResult> {
  const browser: Browser = await launchChromium({ fakeVideo: video });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(url + query);
    await page.waitForSelector('#backend[data-state="ready"]', { timeout: 120_000 });
    const backend = (await page.textContent('#backend'))?.split('·')[0].trim() ?? '';
    if (args['small-faces']) await page.check('#small-faces');
    await page.click('#start-camera');
    await page.waitForFunction(() => Number(document.querySelector('#stat-fps')?.getAttribute('data-frames') ?? 0) > 0, null, { timeout: 60_000 });
    await page.waitForTimeout(warmupSeconds * 1000);
    const read = () => page.evaluate(() => ({
      frames: Number(document.querySelector('#stat-fps')!.getAttribute('data-frames')),
      msTotal: Number(document.querySelector('#stat-ms')!.getAttribute('data-total')),
      faces: Number(document.querySelector('#stat-faces')!.getAttribute('data-value')),
      readings: Number(document.querySelector('#stat-faces')!.getAttribute('data-readings') ?? 0),
      detectMsTotal: Number(document.querySelector('#stat-ms')!.getAttribute('data-detect-total') ?? 0),
      msPerFace: Number(document.querySelector('#stat-faces')!.getAttribute('data-ms-per-face') || NaN),
      t: performance.now(),
    }));
    const a = await read();
    await page.waitForTimeout(seconds * 1000);
    const b = await read();
    // The model that read the live faces, as the worker reported it (docs/web.md: the live model).
    const model = (await page.textContent('#stat-model'))?.trim() ?? '?';
    if (screenshot) {
      mkdirSync(dirname(screenshot), { recursive: true });
      await page.screenshot({ path: screenshot });
    }
    const frames = b.frames - a.frames;
    return {
      fps: (frames * 1000) / (b.t - a.t),
      ms: frames ? (b.msTotal - a.msTotal) / frames : NaN,
      faces: b.faces,
      readings: ((b.readings - a.readings) * 1000) / (b.t - a.t),
      detectMs: frames ? (b.detectMsTotal - a.detectMsTotal) / frames : NaN,
      msPerFace: b.msPerFace,
      backend,
      model,
    };
  } finally {
    await browser.close();
  }
}
