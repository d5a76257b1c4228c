/**
 * The page's handle on the analysis worker: start it, load the models, send frames, get results back.
 * Frames are transferred to the worker (zero-copy); nothing here touches the network except loading the models
 * from this same server.
 */
import type { AnalyzeOptions } from '../analyzer.js';
import type { EmotionProbabilities } from '../labels.js';
import type { AnalysisResult, DetectedFace } from '../types.js';
import type { BackendInfo, FaceSaliency, ServerConfig, WorkerErrorPhase, WorkerRequest, WorkerResponse } from './protocol.js';

export class AnalyzerLoadError extends Error {
  constructor(readonly phase: WorkerErrorPhase, message: string) {
    super(message);
  }
}

export interface FrameAnalysis {
  result: AnalysisResult;
  /** The emotion model that read the faces (the full model). */
  model: string;
  /** Per face, the map behind its label (Grad-CAM), when the model supports it. */
  saliency?: FaceSaliency[];
  /** Time the worker spent on this frame (pixels + detect + align + classify). */
  ms: number;
}

/** A live frame's faces (no emotions yet); `frameId` names the frame for `classify()`. */
export interface FrameDetection {
  frameId: number;
  width: number;
  height: number;
  faces: DetectedFace[];
  /** Time the worker spent (pixels + detect). */
  ms: number;
  /** Whether the full detector ran, or the previous frame's faces were followed (a stream's frames only). */
  detection: 'full' | 'follow';
}

export interface FaceClassification {
  emotions: EmotionProbabilities[];
  /** The emotion model that read them (the live model). */
  model: string;
  /** Time the worker spent (align + classify). */
  ms: number;
}

type Reply = Extract<WorkerResponse, { type: 'result' | 'faces' | 'emotions' }>;

export class AnalyzerClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (reply: Reply) => void; reject: (e: Error) => void }>();

  private constructor(private readonly worker: Worker, readonly backend: BackendInfo, readonly loadMs: number) {
    worker.addEventListener('message', (event: MessageEvent<WorkerResponse>) => this.onMessage(event.data));
    // A crashed worker (e.g. out of memory) must not leave callers waiting forever.
    worker.addEventListener('error', (event) => {
      const error = new Error(`the analysis worker stopped: ${event.message || 'unknown error'}`);
      for (const waiter of this.pending.values()) waiter.reject(error);
      this.pending.clear();
    });
  }

  /** Start the worker and load the models; rejects with AnalyzerLoadError (phase 'runtime' or 'model'). */
  static async start(onProgress: (message: string) => void = () => {}): Promise<AnalyzerClient> {
    const config = await loadConfig();
    const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'emolens-analyzer' });
    const ready = await new Promise<{ backend: BackendInfo; loadMs: number }>((resolve, reject) => {
      const onMessage = (event: MessageEvent<WorkerResponse>): void => {
        const msg = event.data;
        if (msg.type === 'progress') onProgress(msg.message);
        else if (msg.type === 'ready') done(() => resolve(msg));
        else if (msg.type === 'error') done(() => reject(new AnalyzerLoadError(msg.phase, msg.message)));
      };
      const onError = (event: ErrorEvent): void => {
        done(() => reject(new AnalyzerLoadError('runtime', `the analysis worker failed to start: ${event.message || 'unknown error'}`)));
      };
      const done = (settle: () => void): void => {
        worker.removeEventListener('message', onMessage);
        worker.removeEventListener('error', onError);
        settle();
      };
      worker.addEventListener('message', onMessage);
      worker.addEventListener('error', onError);
      const request: WorkerRequest = {
        type: 'init',
        models: {
          detector: absolute(config.models.detector),
          emotion: absolute(config.models.emotion),
          live: absolute(config.models.live),
        },
        liveFallback: config.liveFallback,
        wasmPaths: new URL('ort/', document.baseURI).href,
        preferWebGpu: true,
        threads: threadsParameter(),
      };
      worker.postMessage(request);
    }).catch((err: unknown) => {
      worker.terminate();
      throw err;
    });
    return new AnalyzerClient(worker, ready.backend, ready.loadMs);
  }

  /** Analyse one frame, every face. The bitmap is transferred: it is unusable here afterwards. */
  async analyze(frame: ImageBitmap, options?: AnalyzeOptions): Promise<FrameAnalysis> {
    const reply = await this.send({ type: 'analyze', id: this.nextId++, frame, options }, [frame]);
    if (reply.type !== 'result') throw new Error(`unexpected ${reply.type} reply`);
    return { result: reply.result, model: reply.model, ms: reply.ms, saliency: reply.saliency };
  }

  /**
   * Live frames, step 1: find the faces. The worker keeps the frame until the next `detect`. With `stream`, frames
   * of one stream follow their faces between full detections (see the protocol).
   */
  async detect(frame: ImageBitmap, options?: AnalyzeOptions, stream?: { id: number; tMs: number }): Promise<FrameDetection> {
    const id = this.nextId++;
    const reply = await this.send({ type: 'detect', id, frame, options, ...(stream ? { stream } : {}) }, [frame]);
    if (reply.type !== 'faces') throw new Error(`unexpected ${reply.type} reply`);
    return { frameId: id, width: reply.width, height: reply.height, faces: reply.faces, ms: reply.ms, detection: reply.detection };
  }

  /** Live frames, step 2: emotions of `faces` (some of what `detect` found in frame `frameId`), in their order, by the live model. */
  async classify(frameId: number, faces: DetectedFace[]): Promise<FaceClassification> {
    const reply = await this.send({ type: 'classify', id: this.nextId++, frameId, faces });
    if (reply.type !== 'emotions') throw new Error(`unexpected ${reply.type} reply`);
    return { emotions: reply.emotions, model: reply.model, ms: reply.ms };
  }

  private send(request: Exclude<WorkerRequest, { type: 'init' }>, transfer: Transferable[] = []): Promise<Reply> {
    return new Promise((resolve, reject) => {
      this.pending.set(request.id, { resolve, reject });
      this.worker.postMessage(request, transfer);
    });
  }

  private onMessage(msg: WorkerResponse): void {
    if (msg.type === 'progress' || msg.type === 'ready') return;
    if (msg.id === undefined) return;
    const waiter = this.pending.get(msg.id);
    if (!waiter) return;
    this.pending.delete(msg.id);
    if (msg.type === 'error') waiter.reject(new Error(msg.message));
    else waiter.resolve(msg);
  }
}

/** `?threads=N` on the page's URL: wasm threads to ask for (to compare settings; see docs/web.md). */
function threadsParameter(): number | undefined {
  const value = Number(new URLSearchParams(location.search).get('threads') ?? '');
  return Number.isInteger(value) && value > 0 ? value : undefined;
}

async function loadConfig(): Promise<ServerConfig> {
  const url = new URL('config.json', document.baseURI).href;
  let response: Response;
  try {
    response = await fetch(url, { cache: 'no-store' });
  } catch (err) {
    throw new AnalyzerLoadError('model', `cannot reach the emolens server (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!response.ok) throw new AnalyzerLoadError('model', `${url}: HTTP ${response.status}`);
  return (await response.json()) as ServerConfig;
}

function absolute(urls: { onnx: string; sidecar: string }): { onnx: string; sidecar: string } {
  return { onnx: new URL(urls.onnx, document.baseURI).href, sidecar: new URL(urls.sidecar, document.baseURI).href };
}
