/**
 * The analysis Web Worker: runs the SAME pipeline core as the CLI (src/analyzer.ts) on onnxruntime-web, off the
 * page's main thread so the page never freezes. Frames come in as ImageBitmaps (transferred, not copied) and
 * never leave the browser; only results go back to the page.
 */
import { createAnalyzerCore, type Analyzer, type DetectorSidecar } from '../analyzer.js';
import type { OrtModule } from '../engine/index.js';
import { validateEmotionSidecar } from '../classify/index.js';
import type { RgbaImage } from '../types.js';
import type { BackendInfo, ModelUrls, WorkerRequest, WorkerResponse } from './protocol.js';

interface WorkerScope {
  postMessage(message: WorkerResponse): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<WorkerRequest>) => void): void;
  crossOriginIsolated?: boolean;
  navigator: Navigator;
}
const scope = self as unknown as WorkerScope;

let analyzer: Analyzer | undefined;
let canvas: OffscreenCanvas | undefined;
let context: OffscreenCanvasRenderingContext2D | undefined;
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
    if (!analyzer) throw new Error('the analyzer is not loaded');
    const started = performance.now();
    if (request.type === 'analyze') {
      const result = await analyzer.analyze(pixels(request.frame), request.options);
      scope.postMessage({ type: 'result', id: request.id, result, ms: performance.now() - started });
    } else if (request.type === 'detect') {
      liveFrame = undefined;
      const image = pixels(request.frame);
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

/** ImageBitmap → RGBA pixels via one reused OffscreenCanvas. */
function pixels(frame: ImageBitmap): { data: Uint8ClampedArray; width: number; height: number } {
  const { width, height } = frame;
  if (!canvas || !context) {
    canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new Error('this browser has no 2D canvas in workers');
    context = ctx;
  }
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  context.drawImage(frame, 0, 0);
  frame.close();
  return { data: context.getImageData(0, 0, width, height).data, width, height };
}

async function init(request: Extract<WorkerRequest, { type: 'init' }>): Promise<void> {
  const started = performance.now();
  let ort: typeof import('onnxruntime-web');
  const useWebGpu = request.preferWebGpu && (await hasWebGpu());
  try {
    scope.postMessage({ type: 'progress', message: 'Loading the ONNX runtime…' });
    // Two builds: the WebGPU one (JSEP) is twice the download, so only browsers with a GPU adapter fetch it.
    ort = useWebGpu ? await import('onnxruntime-web') : await import('onnxruntime-web/wasm');
    // Every runtime file comes from emolens itself (dist/web/ort/), never from a CDN.
    ort.env.wasm.wasmPaths = request.wasmPaths;
    // We are already off the main thread; ORT's own proxy worker would only add a copy.
    ort.env.wasm.proxy = false;
    ort.env.wasm.numThreads = wasmThreads(request.threads);
  } catch (err) {
    scope.postMessage({ type: 'error', phase: 'runtime', message: `the ONNX runtime failed to load: ${messageOf(err)}` });
    return;
  }
  try {
    scope.postMessage({ type: 'progress', message: 'Loading the models…' });
    const [detector, emotion] = await Promise.all([fetchModel(request.models.detector), fetchModel(request.models.emotion)]);
    const emotionSidecar = validateEmotionSidecar(emotion.sidecar, request.models.emotion.sidecar);
    const executionProviders = useWebGpu ? ['webgpu', 'wasm'] : ['wasm'];
    analyzer = await createAnalyzerCore({
      ort: ort as unknown as OrtModule,
      detector: { bytes: detector.bytes, sidecar: detector.sidecar as DetectorSidecar },
      emotion: { bytes: emotion.bytes, sidecar: emotionSidecar },
      sessionOptions: { executionProviders },
    });
    const threads = ort.env.wasm.numThreads ?? 1;
    const backend: BackendInfo = {
      executionProvider: useWebGpu ? 'webgpu' : 'wasm',
      threads: typeof threads === 'number' && threads > 0 ? threads : 1,
      simd: ort.env.wasm.simd !== false,
      emotionModel: emotionSidecar.name,
      emotionAccuracy: emotionSidecar.metrics?.val?.accuracy,
    };
    scope.postMessage({ type: 'ready', backend, loadMs: performance.now() - started });
  } catch (err) {
    scope.postMessage({ type: 'error', phase: 'model', message: messageOf(err) });
  }
}

/**
 * wasm threads need SharedArrayBuffer, i.e. a cross-origin isolated page (the server sends COOP/COEP). Then half the
 * cores, at most 4 (ORT's own default). One per core reads ~30% more faces per second on an idle 2-core machine, but
 * more threads than FREE cores is far slower (ORT's pool waits for its slowest thread: a 25-face frame took 7.1 s
 * instead of 0.2 s), and `hardwareConcurrency` counts cores, not free ones — a video call beside the page is the usual
 * case. `?threads=N` on the page's URL overrides it (docs/web.md, Performance).
 */
function wasmThreads(requested: number | undefined): number {
  if (!scope.crossOriginIsolated) return 1;
  if (requested !== undefined && Number.isInteger(requested) && requested > 0) return Math.min(requested, 16);
  return Math.min(4, Math.max(1, Math.floor((scope.navigator.hardwareConcurrency || 1) / 2)));
}

async function fetchModel(urls: ModelUrls): Promise<{ bytes: Uint8Array; sidecar: unknown }> {
  const [onnx, json] = await Promise.all([fetchOk(urls.onnx), fetchOk(urls.sidecar)]);
  let sidecar: unknown;
  try {
    sidecar = await json.json();
  } catch {
    throw new Error(`${urls.sidecar} is not valid JSON`);
  }
  const bytes = new Uint8Array(await onnx.arrayBuffer());
  // A Git LFS pointer instead of the weights is the commonest broken checkout; name it.
  if (bytes.length < 1024 && new TextDecoder().decode(bytes.subarray(0, 40)).startsWith('version https://git-lfs')) {
    throw new Error(`${urls.onnx} is a Git LFS pointer, not the model (run git lfs pull)`);
  }
  return { bytes, sidecar };
}

async function fetchOk(url: string): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new Error(`${url}: ${messageOf(err)}`);
  }
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`.trim());
  return response;
}

async function hasWebGpu(): Promise<boolean> {
  const gpu = (scope.navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
