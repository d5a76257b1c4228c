/**
 * Entry of one inference worker thread (started by pool.ts): loads the models once through the public Node analyzer
 * and analyses one encoded image per message. ONNX Runtime's run() blocks the thread that calls it, so it runs here
 * and never on the server's event loop. Owns no queueing: the pool sends a task only to an idle worker.
 *
 * Messages in:  { id, bytes }  (bytes transferred, not copied)
 * Messages out: { type: 'ready', model } once, then { id, result } or { id, error: { code, message } } per task;
 *               { type: 'failed', error } if the models cannot be loaded.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { EmolensError } from '../errors.js';
import { createAnalyzer, type CreateAnalyzerOptions } from '../node.js';

export interface WorkerInit { analyzer: CreateAnalyzerOptions }
export interface WorkerTask { id: number; bytes: Uint8Array }
export interface ModelInfo { name: string; labels: string[]; inputSize: number; valAccuracy?: number; valMacroF1?: number }

const port = parentPort;
if (!port) throw new Error('analyze-worker.ts runs as a worker thread (started by src/api/pool.ts)');

const toWire = (err: unknown) => err instanceof EmolensError
  ? { code: err.code, message: err.message }
  : { code: 'INTERNAL', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };

try {
  const analyzer = await createAnalyzer((workerData as WorkerInit).analyzer);
  const sidecar = analyzer.emotionModel;
  const model: ModelInfo = {
    name: sidecar.name,
    labels: sidecar.labels,
    inputSize: sidecar.input.height,
    valAccuracy: sidecar.metrics.val?.accuracy,
    valMacroF1: sidecar.metrics.val?.macroF1,
  };
  port.on('message', (task: WorkerTask) => {
    analyzer.analyze(task.bytes).then(
      (result) => port.postMessage({ id: task.id, result }),
      (err: unknown) => port.postMessage({ id: task.id, error: toWire(err) }),
    );
  });
  port.postMessage({ type: 'ready', model });
} catch (err) {
  port.postMessage({ type: 'failed', error: toWire(err) });
}
