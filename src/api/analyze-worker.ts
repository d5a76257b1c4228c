/**
 * Entry of one inference worker thread (started by pool.ts): loads the models once through the public Node analyzer
 * and runs one task per message — an encoded image, or a video file (a job's private temp file) analysed with
 * `analyzeVideo` and written by src/video/run.ts into exactly the document `emolens video --json` prints. ONNX
 * Runtime's run() blocks the thread that calls it, so it runs here and never on the server's event loop. Owns no
 * queueing: the pool sends a task only to an idle worker.
 *
 * Messages in:  { id, kind: 'image', bytes, explain? } (bytes transferred, not copied; with explain, each face also
 *               gets the saliency map `emolens explain --json` gives it) | { id, kind: 'image', path } (an image
 *               file the worker reads itself: `emolens analyze --workers`) | { id, kind: 'video', path, name }
 *               | { type: 'stop' }: finish the task in hand (a video stops at its next frame), release the models
 *               and let the thread end — terminating a thread while ONNX Runtime runs in it aborts the process.
 * Messages out: { type: 'ready', model } once, then per task { id, result } or { id, error: { code, message } },
 *               preceded for a video by { id, progress: { done, total } } as frames are analysed;
 *               { type: 'failed', error } if the models cannot be loaded.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { EmolensError } from '../errors.js';
import type { ExplainOptions } from '../explain/index.js';
import { createAnalyzer, type CreateAnalyzerOptions, type NodeAnalyzer } from '../node.js';
import { analyzeVideo } from '../video/index.js';
import { runVideo } from '../video/run.js';
import { errorJson } from '../result/error.js';

/** The `emolens video` settings a video job runs with (defaults: the CLI's). */
export interface VideoJobSettings {
  /** Frames analysed per second (default the CLI's, 5). */
  fps?: number;
  /** Classification ms per frame (default 250 / fps); Infinity: every face every frame (`--budget-ms all`). */
  budgetMs?: number;
  /** Refuse longer videos (default src/video's 4 h). */
  maxDurationS?: number;
  /** Refuse videos with more pixels per frame (default src/video's 7680x4320). */
  maxPixels?: number;
}

export interface WorkerInit { analyzer: CreateAnalyzerOptions; video?: VideoJobSettings }
export type WorkerTask =
  | { id: number; kind: 'image'; bytes: Uint8Array; explain?: Pick<ExplainOptions, 'method' | 'emotion'> }
  | { id: number; kind: 'image'; path: string }
  | { id: number; kind: 'video'; path: string; name: string };
export type WorkerMessage = WorkerTask | { type: 'stop' };
export interface ModelInfo { name: string; labels: string[]; inputSize: number; valAccuracy?: number; valMacroF1?: number }

const port = parentPort;
if (!port) throw new Error('analyze-worker.ts runs as a worker thread (started by src/api/pool.ts)');

/** Progress messages at most this often: a fast video would otherwise send one per frame to Redis and every SSE client. */
const PROGRESS_EVERY_MS = 200;

/** Set by { type: 'stop' }: a running video ends at its next frame. */
let stopping = false;

/** Errors on the wire to the pool: untyped ones say what they were (the server logs them; clients get no details). */
const toWire = (err: unknown) => errorJson(err, (e) => ({ code: 'INTERNAL', message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }));

/**
 * The video at `path` → the `emolens video <name> --json` document, written by the CLI's own runner
 * (src/video/run.ts) with the CLI's settings, so the two cannot drift apart. A stream that breaks off fails
 * the task with its typed error (the CLI would close its document with an "error" entry instead).
 */
async function videoDocument(analyzer: NodeAnalyzer, init: WorkerInit, task: Extract<WorkerTask, { kind: 'video' }>): Promise<unknown> {
  const settings = init.video ?? {};
  // The detector options the CLI passes (`--min-score`, `--max-faces`); tiles stay off as in `emolens video`.
  const { minFaceScore, maxFaces } = init.analyzer;
  const video = await analyzeVideo(task.path, {
    analyzer, minFaceScore, maxFaces, fps: settings.fps, budgetMs: settings.budgetMs, maxDurationS: settings.maxDurationS, maxPixels: settings.maxPixels,
  });
  // The CLI's progress bar total: the frames the probed duration holds at the analysis rate.
  const total = Math.max(1, Math.round(video.info.duration * video.settings.fps));
  let sentAt = 0;
  port!.postMessage({ id: task.id, progress: { done: 0, total } });
  let text = '';
  const run = await runVideo(video, {
    name: task.name,
    json: (chunk) => { text += chunk; },
    onFrame: (_frame, done) => {
      if (stopping) throw new EmolensError('SHUTTING_DOWN', 'the server is shutting down');
      const now = Date.now();
      if (now - sentAt >= PROGRESS_EVERY_MS) {
        sentAt = now;
        port!.postMessage({ id: task.id, progress: { done, total: Math.max(total, done) } });
      }
    },
  });
  if (run.error !== undefined) throw run.error;
  port!.postMessage({ id: task.id, progress: { done: run.frames, total: run.frames } });
  return JSON.parse(text) as unknown;
}

try {
  const init = workerData as WorkerInit;
  const analyzer = await createAnalyzer(init.analyzer);
  const sidecar = analyzer.emotionModel;
  const model: ModelInfo = {
    name: sidecar.name,
    labels: sidecar.labels,
    inputSize: sidecar.input.height,
    valAccuracy: sidecar.metrics.val?.accuracy,
    valMacroF1: sidecar.metrics.val?.macroF1,
  };
  let inFlight: Promise<unknown> = Promise.resolve();
  port.on('message', (message: WorkerMessage) => {
    if ('type' in message) {
      stopping = true;
      void inFlight.finally(async () => {
        await analyzer.dispose();
        port.close();  // nothing keeps the thread alive now: it exits on its own
      });
      return;
    }
    const task = message;
    const work: Promise<unknown> = task.kind === 'video' ? videoDocument(analyzer, init, task)
      : 'path' in task ? analyzer.analyze(task.path)
        : task.explain ? analyzer.explainWithImage(task.bytes, task.explain).then(({ image: _image, crops: _crops, ...result }) => result)
          : analyzer.analyze(task.bytes);
    inFlight = work.catch(() => undefined);
    work.then(
      (result) => port.postMessage({ id: task.id, result }),
      (err: unknown) => {
        const error = toWire(err);
        // The video's errors name the file they read: the client's name for it, never the server's temp path.
        if (task.kind === 'video') error.message = error.message.split(task.path).join(task.name);
        port.postMessage({ id: task.id, error });
      },
    );
  });
  port.postMessage({ type: 'ready', model });
} catch (err) {
  port.postMessage({ type: 'failed', error: toWire(err) });
}
