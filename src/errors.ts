/**
 * Typed errors. Every error a user can cause is an EmolensError with a one-line message;
 * the CLI prints `error: <message>` and exits non-zero, the HTTP API answers 4xx with { error, code }.
 */
export class EmolensError extends Error {
  /** Stable machine-readable code, e.g. "INVALID_IMAGE". */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

export class InputNotFoundError extends EmolensError {
  constructor(path: string) { super('INPUT_NOT_FOUND', `file not found: ${path}`); }
}
export class InvalidImageError extends EmolensError {
  constructor(what: string, reason: string) { super('INVALID_IMAGE', `${what}: ${reason}`); }
}
export class ImageTooLargeError extends EmolensError {
  constructor(what: string, width: number, height: number, maxPixels: number) {
    super('IMAGE_TOO_LARGE', `${what}: ${width}x${height} pixels is over the limit of ${maxPixels.toLocaleString('en-US')} pixels (--max-pixels)`);
  }
}
export class ModelNotFoundError extends EmolensError {
  constructor(name: string, known: string[] = []) {
    super('MODEL_NOT_FOUND', `model not found: ${name}${known.length ? ` (bundled: ${known.join(', ')})` : ''}`);
  }
}
export class InvalidModelError extends EmolensError {
  constructor(path: string, reason: string) { super('INVALID_MODEL', `${path}: ${reason}`); }
}
export class SidecarMissingError extends EmolensError {
  constructor(onnxPath: string, sidecarPath: string) {
    super('SIDECAR_MISSING', `model sidecar missing: ${sidecarPath} (every ${onnxPath} needs its .json, see docs/model-contract.md)`);
  }
}
export class DatasetError extends EmolensError {
  constructor(message: string) { super('INVALID_DATASET', message); }
}
export class UsageError extends EmolensError {
  constructor(message: string) { super('USAGE', message); }
}

/**
 * The CLI's exit status for an error: 2 for bad usage, 1 for anything else. Decided by the code, not the class, so a
 * usage error rebuilt from its code (one from a worker thread, or a plain `EmolensError('USAGE', …)`) exits 2 too.
 */
export function exitCodeFor(err: unknown): 1 | 2 {
  return err instanceof EmolensError && err.code === 'USAGE' ? 2 : 1;
}
