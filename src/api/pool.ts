/**
 * A fixed pool of inference worker threads (analyze-worker.ts) with one bounded FIFO queue in front of it.
 * Why threads: onnxruntime-node's run() blocks the calling thread, so on the server's event loop every request
 * (and /v1/health) would wait behind every inference. Why bounded: past the point where a request would wait longer
 * than `maxQueueWaitMs`, answering 503 + Retry-After at once is better for everybody than a queue whose latency
 * grows without limit. ONNX Runtime's intra-op threads are split between the workers (cores / workers, at least 1)
 * so the pool never runs more compute threads than there are cores.
 *
 * Requests' images go ahead of jobs' work: a job's images (one job may use every worker, jobs.ts) never make a
 * request wait behind queued job work, nor count in a request's wait estimate; and while requests keep coming, jobs
 * leave one worker free for them (with two or more workers), so a job of 25-megapixel photos cannot starve them.
 *
 * A video (a job's temp file) is one task too: it holds its worker for the whole video and reports progress as it
 * goes. At most `maxVideoTasks` run at once, so with two or more workers one stays free for single images; a
 * worker busy with a video does not count in the wait estimate (with none free, bounded requests get 503).
 *
 * Owns: spawning, respawning a crashed worker, admission, timeouts. Not HTTP (server.ts), not jobs (jobs.ts).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { EmolensError, UsageError } from '../errors.js';
import type { ExplainOptions } from '../explain/index.js';
import type { CreateAnalyzerOptions } from '../node.js';
import type { ErrorJson } from '../result/error.js';
import type { AnalysisResult } from '../types.js';
import type { ModelInfo, VideoJobSettings, WorkerInit, WorkerTask } from './analyze-worker.js';
import { ApiError, checkImageSignature, OverloadedError } from './errors.js';

export interface PoolOptions {
  /** Worker threads (default: the number of cores). */
  workers?: number;
  /** Analyzer options for every worker; `threads` defaults to cores / workers (at least 1). */
  analyzer?: CreateAnalyzerOptions;
  /** Tasks waiting beyond which bounded submissions are refused (default 64). */
  maxQueue?: number;
  /** Expected queue wait beyond which bounded submissions are refused (default 500 ms; the API server passes 250). */
  maxQueueWaitMs?: number;
  /** Videos analysed at once (default: half the workers, at least 1); more wait in the queue. */
  maxVideoTasks?: number;
  /** The `emolens video` settings of video tasks (default: the CLI's). */
  video?: VideoJobSettings;
}

export interface SubmitOptions {
  /** false: never refused for a full queue (jobs, which are bounded by their own queue). Default true. */
  bounded?: boolean;
  /** Give up (503 TIMEOUT) if no answer within this many ms, queue time included. */
  timeoutMs?: number;
  /** Also a saliency map per face (`emolens explain`): Grad-CAM or occlusion, of the dominant or a given emotion. */
  explain?: Pick<ExplainOptions, 'method' | 'emotion'>;
}

export interface PoolStats { workers: number; busy: number; queued: number; meanMs: number }

/** Progress of a video task: frames analysed / frames the video is expected to have at the analysis rate. */
export interface VideoProgress { done: number; total: number }

interface Task {
  id: number;
  /** What the worker is sent (image bytes go by transfer). */
  message: WorkerTask;
  onProgress?(progress: VideoProgress): void;
  resolve(result: unknown): void;
  reject(err: Error): void;
  /** A request's image (bounded: it may be refused, and goes ahead of jobs' images) or a job's. */
  bounded: boolean;
  state: 'queued' | 'running' | 'done';
  startedAt: number;
  timer?: NodeJS.Timeout;
}

interface Slot { worker: Worker; ready: boolean; task?: Task }

type FromWorker =
  | { type: 'ready'; model: ModelInfo }
  | { type: 'failed'; error: ErrorJson }
  | { id: number; progress: VideoProgress }
  | { id: number; result: unknown }
  | { id: number; error: ErrorJson };

/** tsx runs src/*.ts (tests, scripts); dist/ has the compiled .js: the worker entry has the same extension as this file. */
const WORKER_URL = new URL(`./analyze-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

/** An exponentially weighted mean of service times (0: none yet), so it follows the machine's current speed. */
const followMean = (mean: number, ms: number): number => (mean === 0 ? ms : mean * 0.8 + ms * 0.2);

/** How long after a request jobs keep one worker free for the next (with two or more workers). */
const REQUEST_RESERVE_MS = 1000;

function startWorker(init: WorkerInit): Worker {
  if (!WORKER_URL.pathname.endsWith('.ts')) return new Worker(WORKER_URL, { workerData: init });
  // From src/ under tsx (tests, scripts): on Node 20 a worker thread does not inherit tsx's loader, so the thread
  // registers it before importing its .ts entry.
  const code = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}); })`;
  return new Worker(code, { eval: true, workerData: init });
}

export class WorkerPool {
  readonly size: number;
  /** The emotion model the workers loaded (for GET /v1/models). */
  model!: ModelInfo;
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private readonly init: WorkerInit;
  private readonly maxQueue: number;
  private readonly maxQueueWaitMs: number;
  private readonly maxVideoTasks: number;
  private nextId = 1;
  private meanMs = 0;
  /** The same for jobs' images (their photos may be 25 megapixels): how long a worker on one stays busy. */
  private meanJobMs = 0;
  private closing = false;
  /** When a request last asked for an image (bounded): while requests come, jobs leave one worker free for them. */
  private lastRequestAt = -Infinity;
  private reserveTimer?: NodeJS.Timeout;

  private constructor(options: PoolOptions) {
    const cores = availableParallelism();
    this.size = options.workers ?? cores;
    if (!(Number.isInteger(this.size) && this.size >= 1)) throw new UsageError(`workers must be a positive integer, got ${this.size}`);
    const threads = options.analyzer?.threads ?? Math.max(1, Math.floor(cores / this.size));
    this.init = { analyzer: { ...options.analyzer, threads }, video: options.video };
    this.maxQueue = options.maxQueue ?? 64;
    this.maxQueueWaitMs = options.maxQueueWaitMs ?? 500;
    this.maxVideoTasks = options.maxVideoTasks ?? Math.max(1, Math.floor(this.size / 2));
  }

  /** Start every worker and wait until each has loaded the models (a model error rejects here, not per request). */
  static async start(options: PoolOptions = {}): Promise<WorkerPool> {
    // sharp is loaded by the main thread before any worker does: libvips must not be first initialised (and later
    // unloaded) by a worker thread that exits.
    await import('sharp');
    // Set here, in the main thread: only its process.env writes reach the C environment ONNX Runtime reads
    // (a worker thread's process.env is a copy). See loadNodeRuntime (src/env/node.ts).
    process.env.ORT_DISABLE_TELEMETRY ??= '1';
    const pool = new WorkerPool(options);
    try {
      await Promise.all(Array.from({ length: pool.size }, () => pool.spawn()));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  private spawn(): Promise<void> {
    return new Promise((resolve, reject) => {
      const slot: Slot = { worker: startWorker(this.init), ready: false };
      this.slots.push(slot);
      slot.worker.on('message', (message: FromWorker) => {
        if ('type' in message) {
          if (message.type === 'ready') {
            this.model = message.model;
            slot.ready = true;
            resolve();
            this.dispatch();
          } else {
            reject(new EmolensError(message.error.code, message.error.message));
          }
          return;
        }
        if ('progress' in message) {
          if (slot.task?.id === message.id) slot.task.onProgress?.(message.progress);
          return;
        }
        const task = slot.task;
        slot.task = undefined;
        if (task && task.id === message.id) this.finish(task, message);
        this.dispatch();
      });
      slot.worker.on('error', (err) => { if (!slot.ready) reject(err); });
      slot.worker.on('exit', (code) => {
        this.slots.splice(this.slots.indexOf(slot), 1);
        if (!slot.ready) reject(new EmolensError('WORKER_FAILED', `inference worker exited with code ${code} while loading the models`));
        if (slot.task) this.settle(slot.task, undefined, new ApiError(500, 'WORKER_CRASHED', `the inference worker analysing this ${slot.task.message.kind} crashed`));
        // A worker that crashed after loading is replaced, so one bad input cannot shrink the pool for good.
        if (slot.ready && !this.closing) this.spawn().catch((err) => process.stderr.write(`emolens api: cannot restart an inference worker: ${(err as Error).message}\n`));
      });
    });
  }

  private finish(task: Task, message: { result: unknown } | { error: ErrorJson }): void {
    const ms = Date.now() - task.startedAt;
    // Mean service time of a request's image (exponentially weighted, so it follows the machine's current speed) for
    // the wait estimate; a video's minutes, or a job's 25-megapixel photos, would make every request look slow.
    if (task.message.kind === 'image' && task.bounded) this.meanMs = followMean(this.meanMs, ms);
    else if (task.message.kind === 'image') this.meanJobMs = followMean(this.meanJobMs, ms);
    if ('result' in message) this.settle(task, message.result);
    else this.settle(task, undefined, new EmolensError(message.error.code, message.error.message));
  }

  private settle(task: Task, result?: unknown, error?: Error): void {
    if (task.state === 'done') return; // timed out already: the late answer is dropped
    task.state = 'done';
    clearTimeout(task.timer);
    if (error) task.reject(error);
    else task.resolve(result!);
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (!slot.ready || slot.task) continue;
      // Requests' images first (FIFO), then jobs' work in order, except that a video waits while `maxVideoTasks`
      // run, and the images behind it go first. A request waits for at most the job tasks already running.
      const videoRoom = this.slots.filter((s) => s.task?.message.kind === 'video').length < this.maxVideoTasks;
      let next = this.queue.findIndex((t) => t.bounded);
      if (next < 0) {
        if (this.keepForRequests()) return;
        next = this.queue.findIndex((t) => t.message.kind === 'image' || videoRoom);
      }
      if (next < 0) return;
      const [task] = this.queue.splice(next, 1);
      task.state = 'running';
      task.startedAt = Date.now();
      slot.task = task;
      const { message } = task;
      slot.worker.postMessage(message, message.kind === 'image' && 'bytes' in message ? [message.bytes.buffer as ArrayBuffer] : []);
    }
  }

  /**
   * Whether the last free worker stays free for requests: with two or more workers, while requests came in the last
   * REQUEST_RESERVE_MS, jobs' work (images of a job, videos) runs on the others. Once requests stop, jobs use every
   * worker again (a timer dispatches then).
   */
  private keepForRequests(): boolean {
    if (this.slots.length < 2 || this.closing) return false;
    const free = this.slots.filter((s) => s.ready && !s.task).length;
    const sinceMs = Date.now() - this.lastRequestAt;
    if (free > 1 || sinceMs >= REQUEST_RESERVE_MS) return false;
    if (!this.reserveTimer && this.queue.length > 0) {
      this.reserveTimer = setTimeout(() => { this.reserveTimer = undefined; this.dispatch(); }, REQUEST_RESERVE_MS - sinceMs + 1).unref();
    }
    return true;
  }

  /** Requests' images waiting for a worker. */
  private queuedRequests(): number {
    return this.queue.filter((t) => t.bounded).length;
  }

  /**
   * Expected wait of a request's image queued now: the requests ahead of it shared by the workers serving requests
   * (idle or on a request). When every worker is on jobs' images, the first to finish one takes it (half a job image
   * on average, then the requests ahead); workers held by videos take none.
   */
  private expectedWaitMs(images = this.queuedRequests()): number {
    const mean = this.meanMs || 100;
    const serving = this.slots.filter((s) => !s.task || s.task.bounded).length;
    if (serving > 0) return ((images + 1) * mean) / serving;
    const onJobImages = this.slots.filter((s) => s.task?.message.kind === 'image').length;
    return onJobImages === 0 ? Infinity : (this.meanJobMs || mean) / 2 + ((images + 1) * mean) / onJobImages;
  }

  /**
   * The 503 a new bounded task would get now (every worker busy and the queue full or its expected wait too long), or
   * undefined. The server asks before reading a request's body, so shedding load costs almost nothing.
   */
  overloaded(): OverloadedError | undefined {
    if (this.slots.some((s) => s.ready && !s.task)) return undefined;
    const queued = this.queuedRequests();
    const waitMs = this.expectedWaitMs(queued);
    if (queued < this.maxQueue && waitMs <= this.maxQueueWaitMs) return undefined;
    // No request waiting, every worker on jobs' images: this one goes next (after at most one of them), not away.
    if (queued === 0 && Number.isFinite(waitMs)) return undefined;
    const why = Number.isFinite(waitMs) ? `${queued} images are waiting` : 'they are analysing videos';
    return new OverloadedError(`server busy: all ${this.slots.length} inference workers are busy and ${why}; retry later`, Number.isFinite(waitMs) ? waitMs / 1000 : 5);
  }

  /**
   * Analyse one encoded image on a worker thread.
   * @throws OverloadedError (503 + Retry-After) when bounded and the queue is full; ApiError 503 TIMEOUT after
   * `timeoutMs`; the analyzer's typed errors (InvalidImageError, ImageTooLargeError, …) as EmolensErrors.
   */
  analyze(bytes: Uint8Array, options: SubmitOptions = {}): Promise<AnalysisResult> {
    if (this.closing) return Promise.reject(new ApiError(503, 'SHUTTING_DOWN', 'the server is shutting down', 1));
    try {
      checkImageSignature(bytes);
    } catch (err) {
      return Promise.reject(err);
    }
    if (options.bounded !== false) {
      this.lastRequestAt = Date.now();
      const overloaded = this.overloaded();
      if (overloaded) return Promise.reject(overloaded);
    }
    // A private copy: the worker receives it by transfer, and Fastify's body buffer may share its memory.
    const copy = new Uint8Array(bytes);
    const { timeoutMs } = options;
    return this.enqueue<AnalysisResult>((id) => ({ id, kind: 'image', bytes: copy, ...(options.explain ? { explain: options.explain } : {}) }), options.bounded !== false, (task) => {
      if (!timeoutMs) return;
      task.timer = setTimeout(() => {
        const queued = this.queue.indexOf(task);
        if (queued >= 0) this.queue.splice(queued, 1);
        this.settle(task, undefined, new ApiError(503, 'TIMEOUT', `no answer within ${timeoutMs} ms; retry later`, Math.max(1, Math.min(60, Math.ceil(this.expectedWaitMs() / 1000)))));
      }, timeoutMs);
    });
  }

  /**
   * Queue a task (its message built for its id) and dispatch; `prepare` sees the task before it is queued (a timer,
   * progress). Resolves with the worker's result.
   */
  private enqueue<T>(message: (id: number) => WorkerTask, bounded: boolean, prepare?: (task: Task) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      const task: Task = { id, message: message(id), bounded, resolve: resolve as (r: unknown) => void, reject, state: 'queued', startedAt: 0 };
      prepare?.(task);
      this.queue.push(task);
      this.dispatch();
    });
  }

  /**
   * Analyse the image file at `path` on a worker thread, which reads and decodes it (`emolens analyze --workers`):
   * errors name the path as the in-process analyzer's do. Never refused for a full queue: the caller bounds what
   * it has in flight.
   */
  analyzeFile(path: string): Promise<AnalysisResult> {
    if (this.closing) return Promise.reject(new ApiError(503, 'SHUTTING_DOWN', 'the pool is closing', 1));
    return this.enqueue<AnalysisResult>((id) => ({ id, kind: 'image', path }), false);
  }

  /**
   * Analyse the video file at `path` on a worker thread (a job's private temp file; the caller deletes it): resolves
   * to exactly the document `emolens video <name> --json` prints. Never refused for a full queue (jobs are bounded
   * by their own queue); waits while `maxVideoTasks` videos run.
   * @throws the video's typed errors (InvalidVideoError, VideoTooLargeError, …) as EmolensErrors; ApiError 503
   *   SHUTTING_DOWN / 500 WORKER_CRASHED.
   */
  analyzeVideo(path: string, name: string, onProgress?: (progress: VideoProgress) => void): Promise<unknown> {
    if (this.closing) return Promise.reject(new ApiError(503, 'SHUTTING_DOWN', 'the server is shutting down', 1));
    return this.enqueue<unknown>((id) => ({ id, kind: 'video', path, name }), false, (task) => { task.onProgress = onProgress; });
  }

  stats(): PoolStats {
    return { workers: this.slots.filter((s) => s.ready).length, busy: this.slots.filter((s) => s.task).length, queued: this.queue.length, meanMs: Math.round(this.meanMs) };
  }

  /**
   * Refuse new work, fail queued tasks, and stop the workers gracefully: each finishes the task in hand (a video stops
   * at its next frame) and releases its models; one still busy after `graceMs` is terminated.
   */
  async close(graceMs = 10_000): Promise<void> {
    this.closing = true;
    clearTimeout(this.reserveTimer);
    for (const task of this.queue.splice(0)) this.settle(task, undefined, new ApiError(503, 'SHUTTING_DOWN', 'the server is shutting down', 1));
    await Promise.all([...this.slots].map(async (s) => {
      const exited = new Promise<void>((resolve) => s.worker.once('exit', () => resolve()));
      s.worker.postMessage({ type: 'stop' });
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), graceMs); });
      if ((await Promise.race([exited, late])) === 'late') await s.worker.terminate();
      clearTimeout(timer);
    }));
  }
}
