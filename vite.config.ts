/**
 * Builds the web app (src/web) into dist/web for `emolens serve`. Everything the page loads at run time comes
 * from dist/web or models/ — no CDN: onnxruntime-web's .mjs/.wasm runtime files are copied to dist/web/ort/
 * (the worker points ort.env.wasm.wasmPaths there), the model card to dist/web/model-card.md, and every text or
 * wasm file gets a .gz twin that the server sends to browsers accepting gzip.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { defineConfig, defaultClientConditions, type Plugin } from 'vite';

const root = dirname(new URL(import.meta.url).pathname);
const outDir = resolve(root, 'dist/web');
const ortDist = dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));

/** The runtime files the two ORT builds we import fetch: ort.wasm.min.mjs (CPU) and ort.min.mjs (WebGPU via JSEP). */
const ORT_FILES = [
  'ort-wasm-simd-threaded.mjs',
  'ort-wasm-simd-threaded.wasm',
  'ort-wasm-simd-threaded.jsep.mjs',
  'ort-wasm-simd-threaded.jsep.wasm',
];

function emolensAssets(): Plugin {
  return {
    name: 'emolens-assets',
    apply: 'build',
    closeBundle() {
      mkdirSync(join(outDir, 'ort'), { recursive: true });
      for (const file of ORT_FILES) copyFileSync(join(ortDist, file), join(outDir, 'ort', file));
      const card = resolve(root, 'docs/model-card.md');
      writeFileSync(join(outDir, 'model-card.md'), existsSync(card)
        ? readFileSync(card)
        : '# emolens model card\n\nThe model card (docs/model-card.md) was not present when this web app was built.\n');
      gzipTree(outDir);
    },
  };
}

function gzipTree(dir: string): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) gzipTree(path);
    else if (/\.(html|js|mjs|css|wasm|json|md|svg)$/.test(name)) {
      const data = readFileSync(path);
      const gz = gzipSync(data, { level: 9 });
      if (gz.length < data.length * 0.9) writeFileSync(`${path}.gz`, gz);
    }
  }
}

export default defineConfig({
  root: resolve(root, 'src/web'),
  base: './',
  publicDir: false,
  logLevel: 'warn',
  resolve: {
    // onnxruntime-web's "extern wasm" builds leave the .mjs/.wasm runtime out of the bundle (we serve them from
    // /ort/); the default builds would inline a 28 MB wasm whichever backend the browser ends up using.
    conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions],
  },
  worker: { format: 'es' },
  build: {
    outDir,
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1024,
    reportCompressedSize: false,
  },
  plugins: [emolensAssets()],
});
