/**
 * emolens in the browser (`import … from 'emolens/browser'`): the same pipeline core as Node (`createAnalyzerCore`)
 * with the browser env (onnxruntime-web, models fetched by URL, frames decoded on an OffscreenCanvas), labels, types
 * and errors. Imports nothing Node-only — no onnxruntime-node, no sharp, no `node:` module; test/browser-entry.test.ts
 * checks the whole import graph and loads this file in Chromium.
 *
 * @example
 * import { browserEnv, createAnalyzerCore, modelUrls, validateEmotionSidecar } from 'emolens/browser';
 *
 * const env = browserEnv({ wasmPaths: '/ort/' });            // where you serve onnxruntime-web's .wasm files
 * const [detector, emotion] = await Promise.all([
 *   env.loadModel(modelUrls('blazeface'), 'face-detection'),
 *   env.loadModel(modelUrls('emolens-fer'), 'emotion'),
 * ]);
 * const analyzer = await createAnalyzerCore({
 *   ort: await env.loadRuntime(),
 *   detector: { bytes: detector.bytes, sidecar: detector.sidecar as DetectorSidecar },
 *   emotion: { bytes: emotion.bytes, sidecar: validateEmotionSidecar(emotion.sidecar, 'emolens-fer.json') },
 * });
 * const { faces } = await analyzer.analyze(await env.decodeImage(await createImageBitmap(img)));
 */
export * from './core.js';
export type { ModelFiles } from './env/types.js';
export type { OrtModule, SessionOptions } from './engine/index.js';
export {
  browserEnv, fetchModel, frameDecoder, loadBrowserRuntime,
  type BrowserEnv, type BrowserRuntime, type BrowserRuntimeOptions,
} from './env/browser.js';
export {
  DEFAULT_DETECTOR_MODEL, DEFAULT_EMOTION_MODEL, DEFAULT_LANDMARK_MODEL, DEFAULT_LIVE_MODEL, modelUrls, SHIPPED_EMOTION_MODELS, type ModelUrls,
} from './env/models.js';
