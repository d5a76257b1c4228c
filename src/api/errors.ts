/**
 * The HTTP API's limits and the HTTP side of its one error shape. Every failure a client can see is
 * `{ error: { code, message } }` (src/result/error.ts) with a status from `errorReply()`: typed EmolensErrors keep their stable `code`, Fastify's own errors (body too
 * large, unsupported media type, schema validation) are mapped to the same shape, and anything unexpected becomes
 * a 500 whose message says nothing about the server's internals (the stack goes to the server's log only).
 */
import { EmolensError, InvalidImageError } from '../errors.js';
import { errorJson, type ErrorJson } from '../result/error.js';
import { InvalidVideoError } from '../video/errors.js';

/** Defaults of every limit; each is an `emolens api` flag (docs/api.md lists them). */
export interface ApiLimits {
  /** Largest request body (raw image) or uploaded file, in bytes. */
  maxBodyBytes: number;
  /** Most files in one job. */
  maxJobFiles: number;
  /** Largest image, in pixels, checked from the header before decoding. */
  maxPixels: number;
  /** Faces kept per image, best first (the rest are dropped, as `emolens analyze --max-faces` does). */
  maxFaces: number;
  /** An analysis still unanswered after this long is given up with 503 TIMEOUT. */
  requestTimeoutMs: number;
  /** Analyses waiting for a worker thread beyond which requests get 503 + Retry-After. */
  maxQueue: number;
  /** Expected wait in the queue (queued work x mean time per image / workers) beyond which requests get 503. */
  maxQueueWaitMs: number;
  /**
   * How long a shed request is held before its 503 is sent. Clients that retry at once instead of honouring
   * Retry-After would otherwise turn shedding into a storm of requests whose bodies the server must still read: on 2
   * cores that storm, not inference, becomes the bottleneck. While held, the body is not read (TCP backpressure).
   */
  shedDelayMs: number;
  /** Jobs waiting to start beyond which POST /v1/jobs gets 503 + Retry-After. */
  maxPendingJobs: number;
  /** How long a finished job's state and result can be read, then they are deleted. */
  resultTtlMs: number;
  /** Largest total of the files of one request (a job's uploads together), in bytes. */
  maxRequestBytes: number;
  /**
   * Bytes of uploads held at once: those of queued and running jobs (in this process or in Redis) plus the job
   * uploads being received. Beyond it POST /v1/jobs gets 503 OVERLOADED.
   */
  maxQueuedBytes: number;
  /**
   * Open connections at once; beyond it a new connection is closed as soon as it is accepted (Node's
   * `server.maxConnections`). With the 60 s limit on a slow request, this bounds what slow clients can hold.
   */
  maxConnections: number;
}

export const DEFAULT_LIMITS: Readonly<ApiLimits> = {
  maxBodyBytes: 10 * 1024 * 1024,
  maxJobFiles: 32,
  // Lower than the CLI's 50 MP: a server decodes several images at once and 25 MP is already 100 MB of RGBA.
  maxPixels: 25_000_000,
  maxFaces: 100,
  requestTimeoutMs: 30_000,
  maxQueue: 64,
  // Expected queue wait past which a request is shed (503). 250 ms keeps answered requests under 1 s at p99 on 2
  // cores with 100 clients, also while the largest jobs run (500: p99 1.1-1.3 s), and answers more of them
  // (docs/api.md, "Load figures").
  maxQueueWaitMs: 250,
  shedDelayMs: 250,
  maxPendingJobs: 100,
  resultTtlMs: 60 * 60 * 1000,
  maxRequestBytes: 50 * 1024 * 1024,
  // With the per-request total, about 5 of the largest jobs: peak RSS stays near 1 GB on a 2-core box (docs/api.md).
  maxQueuedBytes: 256 * 1024 * 1024,
  maxConnections: 1024,
};

/** An error with its HTTP status. `retryAfterS` becomes a Retry-After header (503). */
export class ApiError extends EmolensError {
  readonly statusCode: number;
  readonly retryAfterS?: number;
  constructor(statusCode: number, code: string, message: string, retryAfterS?: number) {
    super(code, message);
    this.statusCode = statusCode;
    this.retryAfterS = retryAfterS;
  }
}

/** The server is at capacity: come back in `retryAfterS` seconds. */
export class OverloadedError extends ApiError {
  constructor(message: string, retryAfterS: number) {
    super(503, 'OVERLOADED', message, Math.max(1, Math.ceil(retryAfterS)));
  }
}

/** HTTP status for the codes of src/errors.ts (an EmolensError keeps its code in the body). */
const STATUS_BY_CODE: Record<string, number> = {
  INVALID_IMAGE: 422,
  INPUT_NOT_FOUND: 400,
  IMAGE_TOO_LARGE: 413,
  USAGE: 400,
  MODEL_NOT_FOUND: 500,
  INVALID_MODEL: 500,
  SIDECAR_MISSING: 500,
  INVALID_VIDEO: 422,
  VIDEO_TOO_LARGE: 413,
};

/** Fastify's and @fastify/multipart's error codes → ours (their status codes are kept). */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_REQ_FILE_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_FILES_LIMIT: 'TOO_MANY_FILES',
  FST_PARTS_LIMIT: 'TOO_MANY_FILES',
  FST_FIELDS_LIMIT: 'TOO_MANY_FIELDS',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'BAD_REQUEST',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_VALIDATION: 'BAD_REQUEST',
  FST_ERR_MAX_PARAM_LENGTH: 'URI_TOO_LONG',
  FST_ERR_BAD_URL: 'BAD_REQUEST',
  FST_ERR_ASYNC_CONSTRAINT: 'BAD_REQUEST',
};

/** Clearer words than Fastify's for the errors clients meet most. */
const FASTIFY_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported Content-Type: send the image bytes as image/jpeg, image/png, image/webp, image/gif, image/avif or image/tiff, or multipart/form-data',
  FST_ERR_CTP_BODY_TOO_LARGE: 'request body is over the size limit (--max-body-mb)',
  FST_REQ_FILE_TOO_LARGE: 'uploaded file is over the size limit (--max-body-mb)',
  FST_FILES_LIMIT: 'too many files in one request (--max-job-files)',
  FST_ERR_MAX_PARAM_LENGTH: 'a path parameter is too long',
  FST_ERR_BAD_URL: 'malformed URL',
};

/** What busboy (under @fastify/multipart) throws for a form that breaks its own syntax: a 400, not a 500. */
const MALFORMED_MULTIPART = /^(Unexpected end of (form|file)|Malformed (part header|urlencoded form)|Multipart: Boundary not found|Part terminated early|Unexpected end of multipart data)/i;

/** The error shape for a malformed request line or headers (Node's clientError), written straight to the socket. */
export function clientErrorResponse(err: NodeJS.ErrnoException): string {
  const [status, code, message] = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'REQUEST_TIMEOUT', 'the request was not received in time']
    : err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'HEADERS_TOO_LARGE', 'the request headers are too large']
      : [400, 'BAD_REQUEST', 'malformed HTTP request'];
  const body = JSON.stringify({ error: { code, message } });
  return `HTTP/1.1 ${status} ${status === 408 ? 'Request Timeout' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

export interface ErrorReply {
  statusCode: number;
  body: { error: ErrorJson };
  retryAfterS?: number;
  /** True for errors the client did not cause (logged with their stack). */
  internal: boolean;
}

/** Anything thrown while handling a request → status + JSON body. Never includes a stack trace. */
export function errorReply(err: unknown): ErrorReply {
  const first = (m: string) => m.split('\n')[0].slice(0, 500);
  if (err instanceof EmolensError) {
    const { code, message } = errorJson(err);
    const error = { code, message: message.slice(0, 500) };
    if (err instanceof ApiError) return { statusCode: err.statusCode, body: { error }, retryAfterS: err.retryAfterS, internal: err.statusCode >= 500 && !err.retryAfterS };
    const statusCode = STATUS_BY_CODE[code] ?? 500;
    return { statusCode, body: { error }, internal: statusCode >= 500 };
  }
  const e = err as { code?: unknown; statusCode?: unknown; message?: unknown };
  if (typeof e?.statusCode !== 'number' && typeof e?.message === 'string' && MALFORMED_MULTIPART.test(e.message)) {
    return { statusCode: 400, body: { error: { code: 'MALFORMED_MULTIPART', message: `malformed multipart/form-data: ${first(e.message)}` } }, internal: false };
  }
  const status = typeof e?.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    const byStatus: Record<number, string> = { 403: 'FORBIDDEN', 404: 'NOT_FOUND', 405: 'METHOD_NOT_ALLOWED', 408: 'REQUEST_TIMEOUT', 413: 'PAYLOAD_TOO_LARGE', 414: 'URI_TOO_LONG', 415: 'UNSUPPORTED_MEDIA_TYPE', 431: 'HEADERS_TOO_LARGE' };
    const code = (typeof e.code === 'string' && FASTIFY_CODES[e.code]) || byStatus[status] || 'BAD_REQUEST';
    let message = (typeof e.code === 'string' && FASTIFY_MESSAGES[e.code]) || first(String(e.message ?? 'bad request'));
    // A schema enum (e.g. ?explain=): name the values it takes, which Fastify's message leaves out.
    const allowed = (err as { validation?: Array<{ params?: { allowedValues?: unknown[] } }> }).validation?.[0]?.params?.allowedValues;
    if (Array.isArray(allowed)) message = first(`${message}: ${allowed.join(', ')}`);
    return { statusCode: status, body: { error: { code, message } }, internal: false };
  }
  return { statusCode: 500, body: { error: { code: 'INTERNAL', message: 'internal server error (see the server log)' } }, internal: true };
}

/**
 * Accept only the raster formats emolens documents (JPEG, PNG, WebP, GIF, AVIF/HEIF, TIFF), by their first bytes,
 * before anything decodes them: libvips also reads SVG, PDF and other formats that can refer to other files or
 * URLs, and a server must never follow a path or URL that a client chose.
 * @throws InvalidImageError (422) for anything else.
 */
export function checkImageSignature(bytes: Uint8Array, what = 'upload'): void {
  const b = bytes;
  const ascii = (from: number, text: string) => text.split('').every((c, i) => b[from + i] === c.charCodeAt(0));
  const ok = (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff)                     // JPEG
    || (b[0] === 0x89 && ascii(1, 'PNG'))                                           // PNG
    || ascii(0, 'GIF8')                                                             // GIF
    || (ascii(0, 'RIFF') && ascii(8, 'WEBP'))                                       // WebP
    || ascii(4, 'ftyp')                                                             // AVIF / HEIF
    || ascii(0, 'II*\0') || ascii(0, 'MM\0*');                                      // TIFF
  if (!ok) throw new InvalidImageError(what, 'not a JPEG, PNG, WebP, GIF, AVIF or TIFF image');
}

/**
 * Accept only the video containers emolens documents for uploads (MP4/MOV/3GP, Matroska/WebM, AVI, MPEG-TS/PS,
 * FLV, Ogg, ASF/WMV), by their first bytes, before ffprobe sees the file: ffmpeg also reads playlists (HLS, concat
 * lists) that name other files or URLs, and a server must never follow a path or URL that a client chose.
 * @throws InvalidVideoError (422) for anything else.
 */
export function checkVideoSignature(bytes: Uint8Array, what = 'upload'): void {
  const b = bytes;
  const ascii = (from: number, text: string) => text.split('').every((c, i) => b[from + i] === c.charCodeAt(0));
  const ok = ['ftyp', 'moov', 'mdat', 'free', 'wide', 'skip'].some((box) => ascii(4, box))     // MP4, MOV, 3GP
    || (b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3)                     // Matroska, WebM
    || (ascii(0, 'RIFF') && ascii(8, 'AVI '))                                                 // AVI
    || (b[0] === 0x47 && b.length > 188 && b[188] === 0x47)                                   // MPEG-TS
    || (b[0] === 0 && b[1] === 0 && b[2] === 1 && b[3] === 0xba)                              // MPEG-PS
    || ascii(0, 'FLV') || ascii(0, 'OggS')                                                    // FLV, Ogg
    || (b[0] === 0x30 && b[1] === 0x26 && b[2] === 0xb2 && b[3] === 0x75);                    // ASF, WMV
  if (!ok) throw new InvalidVideoError(what, 'not an MP4, MOV, MKV, WebM, AVI, MPEG-TS, FLV, Ogg or WMV video');
}
