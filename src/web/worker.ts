/**
 * The analysis Web Worker: runs the SAME pipeline core as the CLI (src/analyzer.ts) on the browser env
 * (src/env/browser.ts: onnxruntime-web), both taken from the browser entry (src/browser.ts), off the page's main thread
 * so the page never freezes. Frames come in as ImageBitmaps (transferred, not copied) and never leave the browser;
 * only results go back to the page. This file owns the message protocol and the request queue only.
 */
import {
  browserEnv, createAnalyzerCore, cropToImageTransform, supportsGradCam, validateEmotionSidecar,
  type Analyzer, type BrowserEnv, type BrowserRuntime, type DetectorSidecar, type FaceResult, type RgbaImage,
} from '../browser.js';
import type { BackendInfo, FaceSaliency, WorkerRequest, WorkerResponse } from './protocol.js';

interface WorkerScope {
  postMessage(message: WorkerResponse): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<WorkerRequest>) => void): void;
}
const scope = self as unknown as WorkerScope;

let analyzer: Analyzer | undefined;
// Set by `init`; decodes every frame through one reused canvas.
let env: BrowserEnv | undefined;
// Requests run one at a time, in arrival order (live frames, snapshots and uploads share one analyzer).
let queue: Promise<void> = Promise.resolve();
// The last live frame's pixels, between its `detect` and its `classify` (one frame: the live loop waits for both).
let liveFrame: { id: number; image: RgbaImage } | undefined;

scope.addEventListener('message', (event) => {
  const request = event.data;
  queue = queue.then(() => handle(request));
});

async function handle(request: WorkerRequest): Promise<void> {
  if (request.type === 'init') {
    await init(request);
    return;
  }
  try {
    if (!analyzer || !env) throw new Error('the analyzer is not loaded');
    const started = performance.now();
    if (request.type === 'analyze') {
      const image = await env.decodeImage(request.frame);
      const result = await analyzer.analyze(image, request.options);
      const ms = performance.now() - started;
      scope.postMessage({ type: 'result', id: request.id, result, ms, saliency: await saliencyOf(analyzer, image, result.faces) });
    } else if (request.type === 'detect') {
      liveFrame = undefined;
      const image = await env.decodeImage(request.frame);
      const faces = await analyzer.detect(image, request.options);
      liveFrame = { id: request.id, image };
      scope.postMessage({ type: 'faces', id: request.id, width: image.width, height: image.height, faces, ms: performance.now() - started });
    } else {
      if (liveFrame?.id !== request.frameId) throw new Error(`frame ${request.frameId} is no longer held for classification`);
      const emotions = await analyzer.classifyFaces(liveFrame.image, request.faces);
      scope.postMessage({ type: 'emotions', id: request.id, emotions, ms: performance.now() - started });
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
    const [detector, emotion] = await Promise.all([
      initEnv.loadModel(request.models.detector, 'face-detection'),
      initEnv.loadModel(request.models.emotion, 'emotion'),
    ]);
    const emotionSidecar = validateEmotionSidecar(emotion.sidecar, request.models.emotion.sidecar);
    analyzer = await createAnalyzerCore({
      ort: runtime.ort,
      detector: { bytes: detector.bytes, sidecar: detector.sidecar as DetectorSidecar },
      emotion: { bytes: emotion.bytes, sidecar: emotionSidecar },
      sessionOptions: { executionProviders: runtime.executionProviders },
    });
    env = initEnv;
    const backend: BackendInfo = {
      executionProvider: runtime.executionProvider,
      threads: runtime.threads,
      simd: runtime.simd,
      emotionModel: emotionSidecar.name,
      emotionAccuracy: emotionSidecar.metrics?.val?.accuracy,
    };
    scope.postMessage({ type: 'ready', backend, loadMs: performance.now() - started });
  } catch (err) {
    scope.postMessage({ type: 'error', phase: 'model', message: messageOf(err) });
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
