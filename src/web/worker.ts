/**
 * The analysis Web Worker: runs the SAME pipeline core as the CLI (src/analyzer.ts) on the browser env
 * (src/env/browser.ts: onnxruntime-web), both taken from the browser entry (src/browser.ts), off the page's main thread
 * so the page never freezes. Frames come in as ImageBitmaps (transferred, not copied) and never leave the browser;
 * only results go back to the page. This file owns the message protocol and the request queue only.
 *
 * Two emotion models, one detector: snapshots and images (`analyze`) are read by the full model, live frames
 * (`detect` then `classify`) by the live model, a second EmotionStage over the same detections (or the full model
 * itself when the config names one model for both, or the live one fails to load).
 */
import {
  browserEnv, createAnalyzerCore, createEmotionStage, cropToImageTransform, supportsGradCam, validateEmotionSidecar,
  type Analyzer, type BrowserEnv, type BrowserRuntime, type DetectorSidecar, type EmotionStage, type FaceResult, type ModelUrls, type RgbaImage,
  type SessionOptions,
} from '../browser.js';
import { StreamDetector } from '../track/frames.js';
import type { DetectedFace } from '../types.js';
import type { BackendInfo, FaceSaliency, WorkerRequest, WorkerResponse } from './protocol.js';

interface WorkerScope {
  postMessage(message: WorkerResponse): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<WorkerRequest>) => void): void;
}
const scope = self as unknown as WorkerScope;

let analyzer: Analyzer | undefined;
// The live view's emotion model: `analyzer` itself when one model does both.
let live: EmotionStage | undefined;
// Set by `init`; decodes every frame through one reused canvas.
let env: BrowserEnv | undefined;
// Requests run one at a time, in arrival order (live frames, snapshots and uploads share one analyzer).
let queue: Promise<void> = Promise.resolve();
// The last live frame's pixels, between its `detect` and its `classify` (one frame: the live loop waits for both).
let liveFrame: { id: number; image: RgbaImage } | undefined;
// Track, then detect, for the stream now being analysed (a camera session or a video file); a new id starts over.
let stream: { id: number; onePass: boolean; detector: StreamDetector } | undefined;
/**
 * With the live view's one-pass detection (one 256 px input for the whole frame), following costs one 160 px
 * close-up per face: it pays for up to two faces; a larger group is detected in full every frame.
 */
const ONE_PASS_MAX_FOLLOWED = 2;

scope.addEventListener('message', (event) => {
  const request = event.data;
  // handle() reports its own errors; the catch keeps one unexpected throw from stopping every later request.
  queue = queue.then(() => handle(request)).catch((err: unknown) => {
    scope.postMessage({ type: 'error', id: 'id' in request ? request.id : undefined, phase: 'analyze', message: messageOf(err) });
  });
});

async function handle(request: WorkerRequest): Promise<void> {
  if (request.type === 'init') {
    await init(request);
    return;
  }
  try {
    if (!analyzer || !live || !env) throw new Error('the analyzer is not loaded');
    const started = performance.now();
    if (request.type === 'analyze') {
      const image = await env.decodeImage(request.frame);
      const result = await analyzer.analyze(image, request.options);
      const ms = performance.now() - started;
      const saliency = await saliencyOf(analyzer, image, result.faces);
      scope.postMessage({ type: 'result', id: request.id, result, model: analyzer.emotionModel.name, ms, saliency });
    } else if (request.type === 'detect') {
      liveFrame = undefined;
      const image = await env.decodeImage(request.frame);
      let found: { faces: DetectedFace[]; detection: 'full' | 'follow' };
      if (request.stream) {
        // A new stream, or "Small faces" switched mid-session (one pass <-> views): start over with a full detection.
        const onePass = request.options?.detector?.views?.length === 0;
        if (stream?.id !== request.stream.id || stream.onePass !== onePass) {
          stream = { id: request.stream.id, onePass, detector: new StreamDetector(analyzer, { maxFollowed: onePass ? ONE_PASS_MAX_FOLLOWED : undefined }) };
        }
        found = await stream.detector.detect(request.stream.tMs, image, request.options);
      } else {
        found = { faces: await analyzer.detect(image, request.options), detection: 'full' };
      }
      liveFrame = { id: request.id, image };
      scope.postMessage({ type: 'faces', id: request.id, width: image.width, height: image.height, faces: found.faces, ms: performance.now() - started, detection: found.detection });
    } else {
      if (liveFrame?.id !== request.frameId) throw new Error(`frame ${request.frameId} is no longer held for classification`);
      const emotions = await live.classifyFaces(liveFrame.image, request.faces);
      scope.postMessage({ type: 'emotions', id: request.id, emotions, model: live.emotionModel.name, ms: performance.now() - started });
    }
  } catch (err) {
    if (request.type !== 'classify') request.frame.close();
    scope.postMessage({ type: 'error', id: request.id, phase: 'analyze', message: messageOf(err) });
  }
}

async function init(request: Extract<WorkerRequest, { type: 'init' }>): Promise<void> {
  const started = performance.now();
  const initEnv = browserEnv({ preferWebGpu: request.preferWebGpu, wasmPaths: request.wasmPaths, threads: request.threads });
  let runtime: BrowserRuntime;
  try {
    scope.postMessage({ type: 'progress', message: 'Loading the ONNX runtime…' });
    runtime = await initEnv.loadRuntimeInfo();
  } catch (err) {
    scope.postMessage({ type: 'error', phase: 'runtime', message: `the ONNX runtime failed to load: ${messageOf(err)}` });
    return;
  }
  try {
    scope.postMessage({ type: 'progress', message: 'Loading the models…' });
    const { models } = request;
    const sessionOptions = { executionProviders: runtime.executionProviders };
    // One model for both (same URLs): loaded once, as the analyzer's own.
    const liveLoad = models.live.onnx === models.emotion.onnx ? undefined : loadLiveStage(initEnv, runtime, models.live, sessionOptions);
    const [detector, emotion] = await Promise.all([
      initEnv.loadModel(models.detector, 'face-detection'),
      initEnv.loadModel(models.emotion, 'emotion'),
    ]);
    const emotionSidecar = validateEmotionSidecar(emotion.sidecar, models.emotion.sidecar);
    analyzer = await createAnalyzerCore({
      ort: runtime.ort,
      detector: { bytes: detector.bytes, sidecar: detector.sidecar as DetectorSidecar },
      emotion: { bytes: emotion.bytes, sidecar: emotionSidecar },
      sessionOptions,
    });
    const loadedLive = await liveLoad;
    live = typeof loadedLive === 'object' ? loadedLive : analyzer;
    const liveFallback = typeof loadedLive === 'string' ? loadedLive : request.liveFallback;
    env = initEnv;
    const backend: BackendInfo = {
      executionProvider: runtime.executionProvider,
      threads: runtime.threads,
      simd: runtime.simd,
      emotionModel: emotionSidecar.name,
      emotionAccuracy: emotionSidecar.metrics?.val?.accuracy,
      liveModel: live.emotionModel.name,
      liveAccuracy: live.emotionModel.metrics?.val?.accuracy,
      ...(liveFallback ? { liveFallback } : {}),
    };
    scope.postMessage({ type: 'ready', backend, loadMs: performance.now() - started });
  } catch (err) {
    scope.postMessage({ type: 'error', phase: 'model', message: messageOf(err) });
  }
}

/**
 * The live model as a second emotion stage, or why it failed to load. Never rejects: a broken live model leaves the
 * live view to the full model (with a notice) instead of failing the page.
 */
async function loadLiveStage(env: BrowserEnv, runtime: BrowserRuntime, urls: ModelUrls, sessionOptions: SessionOptions): Promise<EmotionStage | string> {
  try {
    const files = await env.loadModel(urls, 'emotion');
    return await createEmotionStage(runtime.ort, { bytes: files.bytes, sidecar: validateEmotionSidecar(files.sidecar, urls.sidecar) }, { sessionOptions });
  } catch (err) {
    return `${urls.onnx} did not load (${messageOf(err)})`;
  }
}

/**
 * The "why?" maps of a snapshot or upload: Grad-CAM costs about one more classifier pass, so every face gets one
 * when the model supports it. Occlusion (~100 passes a face) is not run here: models without Grad-CAM get none.
 */
async function saliencyOf(analyzer: Analyzer, image: RgbaImage, faces: readonly FaceResult[]): Promise<FaceSaliency[] | undefined> {
  if (faces.length === 0 || !supportsGradCam(analyzer.emotionModel)) return undefined;
  const explained = await analyzer.explainCrops(faces.map((f) => analyzer.alignFace(image, f)), { method: 'gradcam' });
  const geometry = analyzer.emotionModel.preprocess.faceCrop;
  return explained.map((e, i) => ({ ...e.saliency, cropToImage: cropToImageTransform(faces[i].landmarks, geometry) }));
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
