/**
 * The browser entry (`emolens/browser` → src/browser.ts, dist/browser.js) stays browser-only: (a) its whole import
 * graph, in the sources and in the built dist/, has no onnxruntime-node, no sharp and no Node built-in; (b) Debian's
 * headless Chromium loads dist/browser.js as an ES module from a localhost page (an import map points the bare
 * `onnxruntime-web` specifiers at the package's files) and finds the API, loads the runtime and fetches a model
 * through `browserEnv()`.
 *
 * (b) needs /usr/bin/chromium and a built dist/ (`npm test` builds first); without them it skips, except with
 * CI=true, where it runs and fails.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { builtinModules } from 'node:module';
import { dirname, extname, join, relative, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CHROMIUM } from './fixtures/fake-camera.js';
import { ROOT, tempDir } from './helpers/fixtures.js';

const SOURCE_ENTRY = join(ROOT, 'src', 'browser.ts');
const BUILT_ENTRY = join(ROOT, 'dist', 'browser.js');
/** The only packages the browser entry may import (both resolve to browser builds). */
const ALLOWED_PACKAGES = new Set(['onnxruntime-web', 'onnxruntime-web/wasm', 'onnxruntime-common']);
const NODE_BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
const IN_CI = process.env.CI === 'true';

/** Every specifier a module names: static imports/exports (type-only included), side-effect and dynamic imports. */
function specifiersOf(code: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  // Comments may quote imports (module headers do); they are not part of the graph.
  const stripped = code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"])\/\/.*$/gm, '$1');
  for (const pattern of patterns) for (const match of stripped.matchAll(pattern)) found.push(match[1]);
  return found;
}

/** Walk the graph from `entry`; returns each bare (package or built-in) specifier with the file that imports it. */
function externalImports(entry: string): { specifier: string; from: string }[] {
  const external: { specifier: string; from: string }[] = [];
  const seen = new Set<string>();
  const pending = [entry];
  while (pending.length) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const specifier of specifiersOf(readFileSync(file, 'utf8'))) {
      if (!specifier.startsWith('.')) {
        external.push({ specifier, from: relative(ROOT, file) });
        continue;
      }
      let target = resolve(dirname(file), specifier);
      // The TS sources import `./x.js`, which is ./x.ts until compiled.
      if (extname(file) === '.ts' && target.endsWith('.js')) target = `${target.slice(0, -3)}.ts`;
      assert.ok(existsSync(target), `${relative(ROOT, file)} imports ${specifier}, which does not exist`);
      pending.push(target);
    }
  }
  assert.ok(seen.size > 5, `the walk from ${relative(ROOT, entry)} found only ${seen.size} modules`);
  return external;
}

function assertBrowserOnly(entry: string): void {
  const forbidden = externalImports(entry).filter(({ specifier }) => NODE_BUILTINS.has(specifier) || !ALLOWED_PACKAGES.has(specifier));
  assert.deepEqual(forbidden, [], `the browser entry must not import these (Node-only or undeclared for the browser)`);
}

describe('browser entry: import graph', () => {
  test('src/browser.ts reaches no onnxruntime-node, sharp or Node built-in', () => {
    assertBrowserOnly(SOURCE_ENTRY);
  });

  test('dist/browser.js (what emolens/browser resolves to) reaches none either', { skip: !IN_CI && !existsSync(BUILT_ENTRY) && 'dist/browser.js is not built (npm run build)' }, () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { import: string; types: string }> };
    assert.equal(resolve(ROOT, pkg.exports['./browser'].import), BUILT_ENTRY);
    assert.ok(existsSync(resolve(ROOT, pkg.exports['./browser'].types)), 'the ./browser export has its .d.ts');
    assertBrowserOnly(BUILT_ENTRY);
  });

  test('the walk catches a Node-only import (the check can fail)', () => {
    assert.deepEqual(
      specifiersOf(`import sharp from 'sharp';\nimport { readFile } from "node:fs";\nconst o = await import('onnxruntime-node');\nexport * from './x.js';`),
      ['sharp', 'node:fs', './x.js', 'onnxruntime-node'],
    );
    assert.throws(() => assertBrowserOnly(join(ROOT, 'src', 'index.ts')), /must not import/);
  });
});

const MIME: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.onnx': 'application/octet-stream',
  '.map': 'application/json',
};
const ORT_DIST = join(ROOT, 'node_modules', 'onnxruntime-web', 'dist');

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>emolens/browser</title>
<link rel="icon" href="data:,">
<script type="importmap">
{ "imports": { "onnxruntime-web": "/ort/ort.min.mjs", "onnxruntime-web/wasm": "/ort/ort.wasm.min.mjs" } }
</script>
<p>emolens/browser entry test</p>`;

/** localhost only: / (the page), /dist/* (the built package), /ort/* (onnxruntime-web's files), /models/*. */
function startStaticServer(): Promise<{ server: Server; url: string }> {
  const roots: Record<string, string> = { dist: join(ROOT, 'dist'), ort: ORT_DIST, models: join(ROOT, 'models') };
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?', 1)[0]);
    if (path === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(PAGE);
      return;
    }
    const [, top, ...rest] = path.split('/');
    const base = roots[top];
    const file = base && resolve(base, rest.join('/'));
    if (!file || !file.startsWith(`${base}/`) || !existsSync(file) || !MIME[extname(file)]) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': MIME[extname(file)] });
    res.end(readFileSync(file));
  });
  return new Promise((done) => server.listen(0, '127.0.0.1', () => {
    done({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` });
  }));
}

const browserSkip = IN_CI ? false
  : !existsSync(CHROMIUM) ? `${CHROMIUM} is not installed`
    : !existsSync(BUILT_ENTRY) ? 'dist/browser.js is not built (npm run build)'
      : false;

describe('browser entry: in Chromium', { skip: browserSkip }, () => {
  let server: Server;
  let url: string;
  let userDataDir: string;
  let context: import('playwright-core').BrowserContext;

  before(async () => {
    ({ server, url } = await startStaticServer());
    userDataDir = tempDir('emolens-browser-entry-');
    const { chromium } = await import('playwright-core');
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
  });

  after(async () => {
    await context?.close();
    await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  test('dist/browser.js loads as an ES module and exports the core, the labels and the browser env', async () => {
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (message) => { if (message.type() === 'error') pageErrors.push(message.text()); });
    await page.goto(url);
    const seen = await page.evaluate(async () => {
      const entry = '/dist/browser.js';
      const mod = await import(entry);
      const env = mod.browserEnv({ wasmPaths: '/ort/' });
      const ort = await env.loadRuntime();
      const detector = await env.loadModel(mod.modelUrls(mod.DEFAULT_DETECTOR_MODEL, '/models/'), 'face-detection');
      return {
        createAnalyzerCore: typeof mod.createAnalyzerCore,
        emotions: mod.EMOTIONS,
        errors: typeof mod.InvalidImageError,
        validateEmotionSidecar: typeof mod.validateEmotionSidecar,
        platform: env.platform,
        runtime: typeof ort.InferenceSession?.create === 'function' && typeof ort.Tensor === 'function',
        detectorBytes: detector.bytes.length,
        detectorTask: (detector.sidecar as { task?: string }).task,
      };
    });
    assert.deepEqual(pageErrors, []);
    assert.equal(seen.createAnalyzerCore, 'function');
    assert.deepEqual(seen.emotions, ['angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise']);
    assert.equal(seen.errors, 'function');
    assert.equal(seen.validateEmotionSidecar, 'function');
    assert.equal(seen.platform, 'browser');
    assert.equal(seen.runtime, true, 'browserEnv().loadRuntime() gives onnxruntime-web');
    assert.ok(seen.detectorBytes > 1000, 'the detector was fetched');
    assert.equal(seen.detectorTask, 'face-detection');
    await page.close();
  });
});
