/**
 * An error as every emolens result holds it, `{ code, message }`: the CLI's JSON documents, the failed-input entry,
 * the API's error bodies and job errors, and the worker threads' replies. The one mapping of anything thrown to that
 * shape lives here; src/api/errors.ts adds only the HTTP status. Browser-safe, pure.
 */
import { EmolensError } from '../errors.js';

/** The stable code (an EmolensError's) and the one-line message. */
export interface ErrorJson { code: string; message: string }

/** One line for an error, whatever was thrown (the CLI's `error: …` line and the JSON error's `message`). */
export function errorLine(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0];
  return String(err);
}

/** Untyped errors in the CLI's documents: code "ERROR" and their line. */
const untypedError = (error: unknown): ErrorJson => ({ code: 'ERROR', message: errorLine(error) });

/**
 * Anything thrown → its wire shape: an EmolensError keeps its code and the first line of its message; anything
 * else is `untyped`'s to describe (the CLI: "ERROR" and its line; the API: "INTERNAL", saying nothing of the
 * server's internals to clients).
 */
export function errorJson(error: unknown, untyped: (error: unknown) => ErrorJson = untypedError): ErrorJson {
  return error instanceof EmolensError ? { code: error.code, message: errorLine(error) } : untyped(error);
}

/** An input that failed, in place of its entry (see the header of src/result/image.ts). */
export interface InputErrorJson { file: string; error: ErrorJson }

/**
 * An input that failed, in place of its entry: `{ file, error: { code, message } }` — in `analyze --json`'s and
 * `explain --json`'s "images" array, each --out line, an API images job's result, and `video --json` for a video that
 * cannot be read.
 */
export function inputErrorEntry(file: string, error: unknown): InputErrorJson {
  return { file, error: errorJson(error) };
}
