/**
 * The browser side of the environment seam (src/env/types.ts): onnxruntime-web (its WebGPU or its CPU-only build),
 * models fetched by URL, frames decoded through an OffscreenCanvas. Runs in a page or a Web Worker (the web app uses
 * it in src/web/worker.ts). Must import nothing Node-only: test/browser-entry.test.ts walks its imports.
 */
import type { OrtModule } from '../engine/index.js';
import type { RgbaImage } from '../types.js';
import type { ModelUrls } from './models.js';
import type { EmolensEnv, ModelFiles } from './types.js';

export { DEFAULT_DETECTOR_MODEL, DEFAULT_EMOTION_MODEL, modelUrls, type ModelUrls } from './models.js';

export interface BrowserRuntimeOptions {
  /** Use the WebGPU build when the browser has a GPU adapter (default false: the CPU-only wasm build). */
  preferWebGpu?: boolean;
  /** Where onnxruntime-web fetches its .mjs/.wasm files (emolens serves them itself, never from a CDN). */
  wasmPaths?: string;
  /** wasm threads asked for (`?threads=N` on the web app's URL); default: half the cores, at most 4. */
  threads?: number;
}

/** The runtime a browser env loaded, and what it ended up running on. */
export interface BrowserRuntime {
  ort: OrtModule;
  /** 'webgpu' when the WebGPU build loaded (it falls back to wasm per operator), else 'wasm'. */
  executionProvider: 'webgpu' | 'wasm';
  /** The execution providers to create sessions with (AnalyzerModels.sessionOptions.executionProviders). */
  executionProviders: string[];
  /** wasm threads ORT uses (1 without cross-origin isolation); read after the first session is created. */
  readonly threads: number;
  /** Whether ORT runs its SIMD wasm. */
  readonly simd: boolean;
}

export interface BrowserEnv extends EmolensEnv<ModelUrls, ImageBitmap> {
  readonly platform: 'browser';
  /** Like loadRuntime, and says which build and how many threads. */
  loadRuntimeInfo(): Promise<BrowserRuntime>;
}

interface BrowserScope {
  crossOriginIsolated?: boolean;
  navigator: Navigator;
}

/**
 * The browser environment. The runtime is imported on first `loadRuntime()` and kept; decoding reuses one canvas.
 * @example
 * const env = browserEnv({ wasmPaths: '/ort/' });
 * const ort = await env.loadRuntime();
 * const emotion = await env.loadModel(modelUrls('emolens-fer'), 'emotion');
 */
export function browserEnv(options: BrowserRuntimeOptions = {}): BrowserEnv {
  let runtime: Promise<BrowserRuntime> | undefined;
  const decoder = frameDecoder();
  const loadRuntimeInfo = (): Promise<BrowserRuntime> => (runtime ??= loadBrowserRuntime(options));
  return {
    platform: 'browser',
    loadRuntimeInfo,
    loadRuntime: async () => (await loadRuntimeInfo()).ort,
    loadModel: (urls) => fetchModel(urls),
    decodeImage: async (frame) => decoder(frame),
  };
}

/** onnxruntime-web, configured: the build, where its files come from, no proxy worker, the thread count. */
export async function loadBrowserRuntime(options: BrowserRuntimeOptions = {}): Promise<BrowserRuntime> {
  const useWebGpu = options.preferWebGpu === true && (await hasWebGpu());
  // Two builds: the WebGPU one (JSEP) is twice the download, so only browsers with a GPU adapter fetch it.
  const ort = useWebGpu ? await import('onnxruntime-web') : await import('onnxruntime-web/wasm');
  // Every runtime file comes from emolens itself (dist/web/ort/), never from a CDN.
  if (options.wasmPaths !== undefined) ort.env.wasm.wasmPaths = options.wasmPaths;
  // We are already off the main thread; ORT's own proxy worker would only add a copy.
  ort.env.wasm.proxy = false;
  ort.env.wasm.numThreads = wasmThreads(options.threads);
  const typed: OrtModule = ort;
  return {
    ort: typed,
    executionProvider: useWebGpu ? 'webgpu' : 'wasm',
    executionProviders: useWebGpu ? ['webgpu', 'wasm'] : ['wasm'],
    // Getters: ORT settles its wasm flags when the first session is created, so read them when asked.
    get threads() {
      const threads = ort.env.wasm.numThreads ?? 1;
      return typeof threads === 'number' && threads > 0 ? threads : 1;
    },
    get simd() { return ort.env.wasm.simd !== false; },
  };
}

function scope(): BrowserScope {
  return globalThis as unknown as BrowserScope;
}

/**
 * wasm threads need SharedArrayBuffer, i.e. a cross-origin isolated page (the server sends COOP/COEP). Then half the
 * cores, at most 4 (ORT's own default). One per core reads ~30% more faces per second on an idle 2-core machine, but
 * more threads than FREE cores is far slower (ORT's pool waits for its slowest thread: a 25-face frame took 7.1 s
 * instead of 0.2 s), and `hardwareConcurrency` counts cores, not free ones — a video call beside the page is the usual
 * case. `?threads=N` on the page's URL overrides it (docs/web.md, Performance).
 */
function wasmThreads(requested: number | undefined): number {
  if (!scope().crossOriginIsolated) return 1;
  if (requested !== undefined && Number.isInteger(requested) && requested > 0) return Math.min(requested, 16);
  return Math.min(4, Math.max(1, Math.floor((scope().navigator.hardwareConcurrency || 1) / 2)));
}

async function hasWebGpu(): Promise<boolean> {
  const gpu = (scope().navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

/** A model's .onnx bytes and parsed sidecar, fetched; errors name the URL that failed. */
export async function fetchModel(urls: ModelUrls): Promise<ModelFiles> {
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
  return { bytes, sidecar, path: urls.onnx };
}

async function fetchOk(url: string): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new Error(`${url}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`.trim());
  return response;
}

/**
 * ImageBitmap → RGBA pixels via one reused OffscreenCanvas (live video sends one frame after another of the same
 * size). The bitmap is closed once read, as its pixels are no longer needed.
 */
export function frameDecoder(): (frame: ImageBitmap) => RgbaImage {
  let canvas: OffscreenCanvas | undefined;
  let context: OffscreenCanvasRenderingContext2D | undefined;
  return (frame) => {
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
  };
}
