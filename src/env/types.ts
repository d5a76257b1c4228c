/**
 * The one seam between the pipeline and the platform it runs on. The core (src/analyzer.ts and everything under it)
 * never reads files, fetches, decodes images or picks an ONNX Runtime build: an `EmolensEnv` does, and there are two
 * (src/env/node.ts: onnxruntime-node, the file system, sharp; src/env/browser.ts: onnxruntime-web, fetch,
 * OffscreenCanvas). This file is types only, so both sides can import it.
 */
import type { OrtModule } from '../engine/index.js';
import type { RgbaImage } from '../types.js';

/** What a model's sidecar declares in `task`; model lookups list only the models of the role asked for. */
export type ModelTask = 'emotion' | 'face-detection' | 'face-landmarks';

/** One model as the env read it: the ONNX bytes and the parsed (not yet validated) JSON sidecar. */
export interface ModelFiles<S = unknown> {
  /** The .onnx file's bytes. */
  bytes: Uint8Array;
  /** The parsed sidecar JSON next to it. */
  sidecar: S;
  /** Where the .onnx came from: an absolute file path (Node) or the URL (browser); used in error messages. */
  path: string;
}

/**
 * A platform: where the runtime, the models and the pixels come from.
 * `ModelRef` names a model the platform's way (Node: a bundled name or an .onnx path; browser: the two URLs);
 * `ImageSource` is what it decodes (Node: a path, a buffer or RGBA pixels; browser: an ImageBitmap).
 */
export interface EmolensEnv<ModelRef, ImageSource> {
  readonly platform: 'node' | 'browser';
  /** The ONNX Runtime module (loaded on first use, so importing emolens stays cheap). */
  loadRuntime(): Promise<OrtModule>;
  /** The model's bytes + parsed sidecar; throws the typed errors of src/errors.ts (Node) or an Error naming the URL. */
  loadModel(ref: ModelRef, task: ModelTask): Promise<ModelFiles>;
  /** Decoded RGBA pixels, the input of `Analyzer.analyze` / `detect`. */
  decodeImage(input: ImageSource): Promise<RgbaImage>;
}
