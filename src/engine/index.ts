/**
 * The one ONNX Runtime wrapper. Nothing else in emolens imports onnxruntime: Node passes in
 * `onnxruntime-node`, the browser passes in `onnxruntime-web`; both expose onnxruntime-common's API.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { InvalidModelError } from '../errors.js';

/** The slice of an onnxruntime module that emolens uses (satisfied by onnxruntime-node and -web). */
export interface OrtModule {
  InferenceSession: { create(model: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => Tensor;
}

export interface SessionOptions {
  /** Intra-op threads (Node) — default: ORT's choice. */
  threads?: number;
  /** Execution providers in order of preference, e.g. ['webgpu', 'wasm'] in the browser. */
  executionProviders?: string[];
}

/** A loaded model: float32 in, named float32 outputs out. */
export class OnnxModel {
  private constructor(
    private readonly ort: OrtModule,
    private readonly session: InferenceSession,
  ) {}

  static async load(ort: OrtModule, bytes: Uint8Array, options: SessionOptions = {}): Promise<OnnxModel> {
    // No spinning: ORT's intra-op threads otherwise busy-wait after every run, taking the cores that the JS between
    // runs (letterboxing, decoding, NMS), ffmpeg and the other workers need. Measured on 2 cores: docs/video.md.
    const opts: InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', extra: { session: { intra_op: { allow_spinning: '0' } } } };
    if (options.threads) opts.intraOpNumThreads = options.threads;
    if (options.executionProviders) opts.executionProviders = options.executionProviders;
    const session = await ort.InferenceSession.create(bytes, opts);
    return new OnnxModel(ort, session);
  }

  /**
   * `load`, for a model file a user chose: ONNX Runtime refusing the bytes becomes one InvalidModelError line naming
   * `source` (a model or file name), as every model role (classify, detect, landmarks) reports it.
   */
  static async loadModel(ort: OrtModule, bytes: Uint8Array, source: string, options: SessionOptions = {}): Promise<OnnxModel> {
    try {
      return await OnnxModel.load(ort, bytes, options);
    } catch (err) {
      throw new InvalidModelError(source, `not an ONNX model ONNX Runtime can load (${firstErrorLine(err)})`);
    }
  }

  get inputNames(): readonly string[] { return this.session.inputNames; }
  get outputNames(): readonly string[] { return this.session.outputNames; }

  /** Run with one float32 input; returns the outputs named in `fetch` (default: every output) as { data, dims }. */
  async run(input: Float32Array, dims: readonly number[], fetch?: readonly string[]): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>> {
    const feeds = { [this.session.inputNames[0]]: new this.ort.Tensor('float32', input, dims) };
    const names = fetch ?? this.session.outputNames;
    const results = fetch ? await this.session.run(feeds, names) : await this.session.run(feeds);
    const out: Record<string, { data: Float32Array; dims: readonly number[] }> = {};
    for (const name of names) {
      out[name] = { data: results[name].data as Float32Array, dims: results[name].dims };
    }
    return out;
  }

  async dispose(): Promise<void> { await this.session.release(); }
}

/** The first line of an error's message (ONNX Runtime's are long), at most 200 characters. */
export function firstErrorLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0].trim().slice(0, 200);
}
