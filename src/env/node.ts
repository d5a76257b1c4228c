/**
 * The Node side of the environment seam (src/env/types.ts): onnxruntime-node, the models folder and model files on
 * disk, images decoded with sharp (src/image/decode.ts). Every Node entry point (the library's createAnalyzer, the
 * CLI commands, `emolens serve`) gets its runtime and its models from here; nothing else imports onnxruntime-node.
 * Importing this file loads neither onnxruntime-node nor sharp: both are imported on first use.
 *
 * Model loading: a model name or a path → the ONNX bytes + the parsed JSON sidecar. One loader for every model role
 * (emotion classifier, face detector). Bare names resolve to `<package root>/models/<name>.onnx`. Validating what the
 * sidecar *says* is the job of the role's browser-safe loader (EmotionClassifier.load, FaceDetector.load); this file
 * only guarantees the files exist, are ONNX, and the sidecar is JSON.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EmotionModelSidecar } from '../classify/contract.js';
import { validateEmotionSidecar } from '../classify/index.js';
import type { OrtModule } from '../engine/index.js';
import { EmolensError, InvalidModelError, ModelNotFoundError, SidecarMissingError } from '../errors.js';
import type { DecodedImage, DecodeOptions } from '../image/decode.js';
import type { RgbaImage } from '../types.js';
import { DEFAULT_DETECTOR_MODEL, DEFAULT_EMOTION_MODEL, DEFAULT_LANDMARK_MODEL } from './models.js';
import type { EmolensEnv, ModelFiles, ModelTask } from './types.js';

export { DEFAULT_DETECTOR_MODEL, DEFAULT_EMOTION_MODEL, DEFAULT_LANDMARK_MODEL, DEFAULT_LIVE_MODEL, SHIPPED_EMOTION_MODELS } from './models.js';
export type { ModelFiles, ModelTask } from './types.js';

/** The package root: the nearest folder above this file that has a package.json (the same from src/ and dist/). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new EmolensError('NO_PACKAGE_ROOT', 'cannot find the emolens package folder');
    dir = parent;
  }
}

/** This package's version (its package.json), for `--version`, the API's health and the reports' settings. */
export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** `<package root>/models`: the bundled models, and the folder bare model names resolve in. */
export const MODELS_DIR = join(packageRoot(), 'models');

/**
 * onnxruntime-node, imported on first use so that `emolens --help` and `import 'emolens'` do not load the native
 * runtime. The module satisfies OrtModule as it is (the assignment is type-checked; no cast).
 */
export async function loadNodeRuntime(): Promise<OrtModule> {
  // ONNX Runtime's telemetry SDK would otherwise write a session file (.ses, with a device id) and an empty
  // mat-debug-<pid>.log into the temp folder of every process: emolens keeps nothing on disk it was not asked to.
  // (Effective from the main thread; the API's worker pool sets it before starting its threads.)
  process.env.ORT_DISABLE_TELEMETRY ??= '1';
  const ort: OrtModule = await import('onnxruntime-node');
  return ort;
}

/** What the Node env decodes: a file path, an encoded image (JPEG, PNG, WebP, GIF, …) or decoded RGBA pixels. */
export type NodeImageSource = string | Buffer | Uint8Array | RgbaImage;

export interface NodeEnv extends EmolensEnv<string, NodeImageSource> {
  readonly platform: 'node';
  /** The folder bare model names resolve in. */
  readonly modelsDir: string;
  /** Like EmolensEnv.decodeImage, with sharp's options (pixel limit) and the image's format. */
  decodeImage(input: NodeImageSource, options?: DecodeOptions): Promise<DecodedImage>;
}

/**
 * The Node environment: onnxruntime-node, models by bundled name or .onnx path (from `modelsDir`, default the
 * bundled models/), images decoded with sharp (EXIF orientation applied).
 * @example
 * const env = nodeEnv();
 * const ort = await env.loadRuntime();
 * const { bytes, sidecar } = await env.loadModel('emolens-fer', 'emotion');
 */
export function nodeEnv(options: { modelsDir?: string } = {}): NodeEnv {
  const modelsDir = options.modelsDir ?? MODELS_DIR;
  return {
    platform: 'node',
    modelsDir,
    loadRuntime: loadNodeRuntime,
    loadModel: async (nameOrPath, task) => loadModelFiles(nameOrPath, modelsDir, task),
    // sharp is imported on first decode, like the runtime: `emolens serve` and `--help` never load it.
    decodeImage: async (input, decodeOptions) => (await import('../image/decode.js')).decodeImage(input, decodeOptions),
  };
}

/** Names of the models in `models/` that have both an .onnx and a .json file (only those for `task` if given). */
export function bundledModelNames(dir = MODELS_DIR, task?: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.onnx') && existsSync(join(dir, `${basename(f, '.onnx')}.json`)))
    .map((f) => basename(f, '.onnx'))
    .filter((name) => !task || sidecarTask(join(dir, `${name}.json`)) === task)
    .sort();
}

function sidecarTask(path: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as { task?: string }).task;
  } catch {
    return undefined;
  }
}

/** True when `nameOrPath` should be read as a file path rather than a bundled model name. */
function looksLikePath(nameOrPath: string): boolean {
  return nameOrPath.includes('/') || nameOrPath.includes('\\') || extname(nameOrPath) === '.onnx';
}

/** Resolve a model name or path to an existing .onnx path (no reading yet); `task` narrows the names listed. */
export function resolveModelPath(nameOrPath: string, modelsDir = MODELS_DIR, task?: ModelTask): string {
  if (looksLikePath(nameOrPath)) {
    const path = resolve(nameOrPath);
    if (!existsSync(path)) throw new ModelNotFoundError(nameOrPath, bundledModelNames(modelsDir, task));
    if (statSync(path).isDirectory()) throw new InvalidModelError(nameOrPath, 'is a directory, expected an .onnx file');
    return path;
  }
  const path = join(modelsDir, `${nameOrPath}.onnx`);
  if (!existsSync(path)) throw new ModelNotFoundError(nameOrPath, bundledModelNames(modelsDir, task));
  return path;
}

/**
 * Cheap structural check that bytes are an ONNX ModelProto, before ONNX Runtime sees them (ORT's own errors on
 * garbage are long and cryptic): walk the top-level protobuf fields to the end and require a graph (field 7).
 */
export function looksLikeOnnx(bytes: Uint8Array): boolean {
  let pos = 0;
  let sawGraph = false;
  const readVarint = (): number | null => {
    let result = 0;
    let shift = 0;
    while (pos < bytes.length && shift < 64) {
      const b = bytes[pos++];
      result += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return result;
      shift += 7;
    }
    return null;
  };
  while (pos < bytes.length) {
    const tag = readVarint();
    if (tag === null) return false;
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field < 1 || field > 100) return false;
    if (wire === 0) { if (readVarint() === null) return false; }
    else if (wire === 2) {
      const len = readVarint();
      if (len === null || pos + len > bytes.length) return false;
      pos += len;
      if (field === 7) sawGraph = true;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else return false;
  }
  return pos === bytes.length && sawGraph;
}

/** Read `<name>.onnx` + `<name>.json`; checks the bytes are ONNX and the sidecar parses. */
export function loadModelFiles<S = unknown>(nameOrPath: string, modelsDir = MODELS_DIR, task?: ModelTask): ModelFiles<S> {
  const path = resolveModelPath(nameOrPath, modelsDir, task);
  const sidecarPath = join(dirname(path), `${basename(path, extname(path))}.json`);
  const bytes = new Uint8Array(readFileSync(path));
  if (bytes.length === 0) throw new InvalidModelError(path, 'not an ONNX model (the file is empty)');
  if (!looksLikeOnnx(bytes)) throw new InvalidModelError(path, 'not an ONNX model');
  if (!existsSync(sidecarPath)) throw new SidecarMissingError(path, sidecarPath);
  let sidecar: S;
  try {
    sidecar = JSON.parse(readFileSync(sidecarPath, 'utf8')) as S;
  } catch (err) {
    throw new InvalidModelError(sidecarPath, `sidecar is not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
  return { bytes, sidecar, path };
}

/**
 * The emotion model by bundled name (default `emolens-fer`) or .onnx path, with its sidecar validated.
 * @example
 * const { bytes, sidecar } = loadEmotionModel();              // models/emolens-fer.onnx
 * const custom = loadEmotionModel('./runs/best/model.onnx');  // + ./runs/best/model.json
 */
export function loadEmotionModel(nameOrPath = DEFAULT_EMOTION_MODEL, modelsDir = MODELS_DIR): ModelFiles<EmotionModelSidecar> {
  const files = loadModelFiles<EmotionModelSidecar>(nameOrPath, modelsDir, 'emotion');
  validateEmotionSidecar(files.sidecar, files.path);
  return files;
}

/** The face detector (default: bundled `blazeface`); its sidecar is validated by FaceDetector.load. */
export function loadDetectorModel<S = unknown>(nameOrPath = DEFAULT_DETECTOR_MODEL, modelsDir = MODELS_DIR): ModelFiles<S> {
  return loadModelFiles<S>(nameOrPath, modelsDir, 'face-detection');
}

/** The 68-point landmark model (default: bundled `face-landmarks68`); its sidecar is validated by LandmarkDetector.load. */
export function loadLandmarkModel<S = unknown>(nameOrPath = DEFAULT_LANDMARK_MODEL, modelsDir = MODELS_DIR): ModelFiles<S> {
  return loadModelFiles<S>(nameOrPath, modelsDir, 'face-landmarks');
}
