/**
 * Model names and where a page finds them: the defaults every entry point uses (the Node analyzer, `emolens serve`,
 * its web page) live here and nowhere else. Browser-safe (no file system); the Node models folder is MODELS_DIR in
 * src/env/node.ts.
 */

/** Name of the emotion model used when none is given: the accurate one (snapshots, uploads, every CLI command). */
export const DEFAULT_EMOTION_MODEL = 'emolens-fer';
/**
 * Name of the emotion model of live video (the web app's camera and screen view, and video files there): about an
 * eighth of emolens-fer's multiply-adds per face and no mirror pass, for frame rate over the last points of accuracy.
 */
export const DEFAULT_LIVE_MODEL = 'emolens-fast';
/** The emotion models emolens ships for use (not the zoo's research baselines): what `emolens bench` times. */
export const SHIPPED_EMOTION_MODELS: readonly string[] = [DEFAULT_EMOTION_MODEL, DEFAULT_LIVE_MODEL];
/** Name of the bundled face detector. */
export const DEFAULT_DETECTOR_MODEL = 'blazeface';
/** Name of the bundled 68-point landmark model (`--landmarks68`, `--ev`). */
export const DEFAULT_LANDMARK_MODEL = 'face-landmarks68';

/** A bare model name (a file stem in a models folder): what `emolens serve` accepts, since names become URLs. */
export const MODEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The two files of a model the browser fetches. */
export interface ModelUrls {
  onnx: string;
  sidecar: string;
}

/** `<base><name>.onnx` + `<base><name>.json`: how `emolens serve` lays out its models folder for the page. */
export function modelUrls(name: string, base = 'models/'): ModelUrls {
  return { onnx: `${base}${name}.onnx`, sidecar: `${base}${name}.json` };
}
