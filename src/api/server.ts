/**
 * The HTTP API behind `emolens api`: Fastify routes with their JSON schemas, auth, limits and the one error shape.
 * Handlers are small: inference goes to the worker-thread pool (pool.ts), jobs to the job queue (jobs.ts), results
 * are the CLI's JSON (src/result/). Clients send image bytes only: no route takes a URL or a server path.
 *
 *   GET  /v1/health            liveness and load (no token needed)
 *   GET  /v1/health/live       200 while the process serves HTTP; /v1/health/ready 503 while jobs cannot be taken
 *   GET  /v1/models            the loaded emotion model and detector
 *   POST /v1/analyze           one image (raw body with an image content type, or multipart field "image")
 *   POST /v1/jobs              several images (multipart, field "image" repeated) or one video (field "video") → 202 { id }
 *   GET  /v1/jobs/:id          state, progress, result; DELETE removes the job and its result
 *   GET  /v1/jobs/:id/events   the same as server-sent events, until the job ends
 *   GET  /openapi.json, /docs  the OpenAPI document and its docs page (no token needed)
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import multipart, { type MultipartFile } from '@fastify/multipart';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { DEFAULT_DETECTOR_MODEL } from '../env/models.js';
import { packageVersion } from '../env/node.js';
import { UsageError } from '../errors.js';
import type { CreateAnalyzerOptions } from '../node.js';
import type { VideoJobSettings } from './analyze-worker.js';
import { isLoopback, tokenChecker } from './auth.js';
import { ApiError, clientErrorResponse, DEFAULT_LIMITS, errorReply, OverloadedError, type ApiLimits } from './errors.js';
import { accepts, kindForField, sweepUploadDirs, type JobInput } from './job-kinds.js';
import { DEFAULT_QUEUE_NAME, InProcessJobs, JOB_ID, overBudget, type JobQueue } from './jobs.js';
import { originChecker, type OriginCheck } from './origin.js';
import { WorkerPool } from './pool.js';
import { SALIENCY_METHODS } from '../explain/index.js';
import { EMOTIONS, type Emotion } from '../labels.js';
import { imageEntry } from '../result/image.js';
import type { JobView } from '../result/job.js';
import { ERROR_SCHEMA, IMAGE_RESULT_SCHEMA, JOB_VIEW_SCHEMA } from '../result/schemas.js';

export interface ApiServerOptions {
  /** Default 8081; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. Any other interface requires `tokens`. */
  host?: string;
  /** Accepted bearer tokens; none: no auth (loopback only). */
  tokens?: string[];
  limits?: Partial<ApiLimits>;
  /** Inference worker threads (default: the number of cores). */
  workers?: number;
  /** Model and detector options for every worker (model, detectorModel, minFaceScore, detector tiles, …). */
  analyzer?: CreateAnalyzerOptions;
  /** `emolens video` settings of video jobs run by this server (default: the CLI's; `emolens worker` has its own). */
  video?: VideoJobSettings;
  /** redis://… : jobs go to BullMQ for `emolens worker` processes; none: jobs run in this process. */
  redisUrl?: string;
  queueName?: string;
  /** Origins allowed to call the API from a browser besides the server's own (`--cors`; '*' = any). */
  cors?: string[];
  /** Host header names accepted besides loopback and the bound address (`--allowed-hosts`; '*' = any). */
  allowedHosts?: string[];
  /** One line per request and per server-side error (default: server-side errors only, on stderr). */
  log?: (line: string) => void;
  verbose?: boolean;
}

export interface RunningApiServer {
  url: string;
  port: number;
  host: string;
  app: FastifyInstance;
  pool: WorkerPool;
  jobs: JobQueue;
  close(): Promise<void>;
}

/** What multipart framing may add to a job's files (boundaries and part headers, up to --max-job-files parts). */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

/** Raw bodies taken by POST /v1/analyze; the bytes are checked again by their signature (errors.ts). */
export const IMAGE_CONTENT_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif', 'image/tiff'];

const PUBLIC_ROUTES = new Set(['/v1/health', '/v1/health/live', '/v1/health/ready', '/openapi.json']);

const errorResponses = { '4xx': { $ref: 'Error#' }, '5xx': { $ref: 'Error#' } } as const;

const jobParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: JOB_ID.source } } } as const;

/** Build the app (routes, hooks, schemas) without listening: tests use `app.inject`, startApiServer listens. */
export async function startApiServer(options: ApiServerOptions = {}): Promise<RunningApiServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8081;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`invalid port: ${port} (0..65535)`);
  const tokens = options.tokens ?? [];
  if (!isLoopback(host) && tokens.length === 0) {
    throw new UsageError(`refusing to listen on ${host} without a token: set EMOLENS_API_TOKEN or --token-file (or keep --host 127.0.0.1)`);
  }
  const limits: ApiLimits = { ...DEFAULT_LIMITS, ...options.limits };
  // A bad --redis URL is a usage error before any worker thread loads a model.
  const bullmq = options.redisUrl ? await import('./jobs-bullmq.js') : undefined;
  if (bullmq && options.redisUrl) bullmq.redisConnection(options.redisUrl);
  if (limits.maxRequestBytes > limits.maxQueuedBytes) throw new UsageError('--max-request-mb cannot be over --max-queued-mb (one request could never be queued)');
  const logError = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));

  const pool = await WorkerPool.start({
    workers: options.workers,
    analyzer: { ...options.analyzer, maxPixels: limits.maxPixels, maxFaces: options.analyzer?.maxFaces ?? limits.maxFaces },
    maxQueue: limits.maxQueue,
    maxQueueWaitMs: limits.maxQueueWaitMs,
    video: options.video,
  });
  let jobs: JobQueue;
  try {
    const jobOptions = { maxPending: limits.maxPendingJobs, resultTtlMs: limits.resultTtlMs, maxQueuedBytes: limits.maxQueuedBytes };
    if (bullmq && options.redisUrl) {
      jobs = await bullmq.BullMqJobs.connect({ ...jobOptions, redisUrl: options.redisUrl, queueName: options.queueName ?? DEFAULT_QUEUE_NAME, log: logError });
    } else {
      // A server killed mid-video could not delete its upload folders: this process runs video jobs itself.
      await sweepUploadDirs();
      jobs = new InProcessJobs({
        analyze: (bytes) => pool.analyze(bytes, { bounded: false }),
        analyzeVideo: (path, name, onProgress) => pool.analyzeVideo(path, name, onProgress),
        // One job's images on every worker: /v1/analyze still waits behind at most one image per worker.
        parallel: pool.stats().workers,
      }, jobOptions);
    }
  } catch (err) {
    await pool.close();
    throw err;
  }

  const app = Fastify({
    logger: false,
    bodyLimit: limits.maxBodyBytes,
    // Slow senders cannot hold a connection for ever; analysis time is bounded separately (requestTimeoutMs).
    requestTimeout: 60_000,
    keepAliveTimeout: 10_000,
    routerOptions: { maxParamLength: 200 },
    // Fastify's own answers for a bad URL or a too-long path parameter, and Node's for a malformed request: our shape.
    frameworkErrors: (err, _request, reply) => {
      const r = errorReply(err);
      void (reply as FastifyReply).code(r.statusCode).send(r.body);
    },
    clientErrorHandler: (err: NodeJS.ErrnoException, socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      if (socket.writable) socket.write(clientErrorResponse(err));
      socket.destroy(err);
    },
  });
  try {
    const origins = originChecker(host, { cors: options.cors ?? [], allowedHosts: options.allowedHosts ?? [] });
    await buildRoutes(app, { pool, jobs, limits, tokens, origins, detectorModel: options.analyzer?.detectorModel ?? DEFAULT_DETECTOR_MODEL, logError, verbose: options.verbose ?? false });
    app.server.maxConnections = limits.maxConnections;
    await app.listen({ port, host });
  } catch (err) {
    await Promise.allSettled([app.close(), jobs.close(), pool.close()]);
    throw err;
  }
  const address = app.server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}/`,
    port: address.port,
    host,
    app,
    pool,
    jobs,
    async close() {
      await app.close();
      // Stopping the pool ends a running video job at once; jobs.close() resolves once its temp file is deleted.
      const jobsClosed = jobs.close();
      await pool.close();
      await jobsClosed;
    },
  };
}

interface RouteContext {
  pool: WorkerPool;
  jobs: JobQueue;
  limits: ApiLimits;
  tokens: string[];
  origins: OriginCheck;
  detectorModel: string;
  logError: (line: string) => void;
  verbose: boolean;
}

async function buildRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  const { pool, jobs, limits } = ctx;
  /** Uploads of POST /v1/jobs being received right now, in bytes (held against the --max-queued-mb budget too). */
  const receiving = { bytes: 0 };
  app.addSchema(ERROR_SCHEMA);
  app.addSchema(IMAGE_RESULT_SCHEMA);
  app.addSchema(JOB_VIEW_SCHEMA);

  await app.register(swagger, {
    openapi: {
      info: { title: 'emolens API', version: packageVersion(), description: 'Faces and 7 emotion probabilities for images; see docs/api.md.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: ctx.tokens.length ? [{ bearer: [] }] : [],
    },
    transformObject: (documentObject) => ('openapiObject' in documentObject ? withRequestBodies(documentObject.openapiObject) : documentObject.swaggerObject),
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(multipart, {
    limits: { fileSize: limits.maxBodyBytes, files: limits.maxJobFiles, fields: 16, parts: limits.maxJobFiles + 16, headerPairs: 200 },
  });

  // Only image bodies and multipart are parsed: JSON, forms and text are 415 before any handler runs.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser(IMAGE_CONTENT_TYPES, { parseAs: 'buffer', bodyLimit: limits.maxBodyBytes }, (_req, body, done) => done(null, body));

  // First, before auth: a foreign Host (DNS rebinding) or a page of another origin gets nothing, not even a 401.
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const allowed = ctx.origins.check(request.headers.host, request.headers.origin);
    if (allowed) {
      void reply.header('Access-Control-Allow-Origin', allowed).header('Vary', 'Origin');
      if (request.method === 'OPTIONS') {
        return reply.code(204)
          .header('Access-Control-Allow-Methods', 'GET, POST, DELETE')
          .header('Access-Control-Allow-Headers', 'Authorization, Content-Type, Idempotency-Key')
          .header('Access-Control-Max-Age', '600')
          .send();
      }
    }
  });
  const authorized = ctx.tokens.length ? tokenChecker(ctx.tokens) : undefined;
  app.addHook('onRequest', async (request: FastifyRequest) => {
    if (!authorized) return;
    const route = request.routeOptions.url ?? '';
    if (PUBLIC_ROUTES.has(route) || route.startsWith('/docs')) return;
    if (!authorized(request.headers.authorization)) throw new ApiError(401, 'UNAUTHORIZED', 'missing or wrong bearer token (send Authorization: Bearer <token>)');
  });
  // Shed load before the body is read: a 503 then costs a few microseconds instead of receiving and copying an image
  // that will not be analysed (on 2 cores, busy clients retrying at once would otherwise starve the workers).
  app.addHook('onRequest', async (request: FastifyRequest) => {
    if (request.method !== 'POST' || request.routeOptions.url !== '/v1/analyze') return;
    const overloaded = pool.overloaded();
    if (!overloaded) return;
    if (limits.shedDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, limits.shedDelayMs));
    throw overloaded;
  });
  if (ctx.verbose) {
    app.addHook('onResponse', async (request, reply) => {
      ctx.logError(`${request.method} ${request.url} ${reply.statusCode} ${reply.elapsedTime.toFixed(0)}ms`);
    });
  }

  app.setErrorHandler((err, request, reply) => {
    // A client that hung up mid-upload: nobody to answer and nothing to log.
    if (request.raw.aborted) return reply.code(400).send({ error: { code: 'CLIENT_ABORTED', message: 'the client closed the connection before the request was read' } });
    const r = errorReply(err);
    if (r.internal) ctx.logError(`emolens api: ${request.method} ${request.url}: ${(err as Error)?.stack ?? err}`);
    if (r.retryAfterS) reply.header('Retry-After', String(r.retryAfterS));
    if (r.statusCode === 401) reply.header('WWW-Authenticate', 'Bearer');
    void reply.code(r.statusCode).send(r.body);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.slice(0, 200)} (see /openapi.json)` } });
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get('/v1/health', {
    schema: {
      summary: 'Liveness and load',
      response: {
        200: {
          type: 'object',
          properties: {
            status: { type: 'string' }, version: { type: 'string' }, jobs: { type: 'string' },
            workers: { type: 'integer' }, busy: { type: 'integer' }, queued: { type: 'integer' }, meanMs: { type: 'integer' },
          },
        },
        ...errorResponses,
      },
    },
  }, async () => ({ status: 'ok', version: packageVersion(), jobs: jobs.backend, ...pool.stats() }));

  app.get('/v1/health/live', {
    schema: { summary: 'Liveness: the process serves HTTP', response: { 200: { type: 'object', properties: { status: { type: 'string' } } }, ...errorResponses } },
  }, async () => ({ status: 'ok' }));

  app.get('/v1/health/ready', {
    schema: {
      summary: 'Readiness: 200 when analyses and jobs can be taken; 503 (e.g. Redis away) otherwise',
      response: { 200: { type: 'object', properties: { status: { type: 'string' }, jobs: { type: 'string' } } }, ...errorResponses },
    },
  }, async () => {
    if (!jobs.ready()) throw new ApiError(503, jobs.backend === 'redis' ? 'REDIS_UNAVAILABLE' : 'SHUTTING_DOWN', jobs.backend === 'redis' ? 'not ready: the job store (Redis) cannot be reached' : 'not ready: shutting down', 2);
    return { status: 'ready', jobs: jobs.backend };
  });

  app.get('/v1/models', {
    schema: {
      summary: 'The loaded models',
      response: {
        200: {
          type: 'object',
          properties: {
            emotion: { type: 'object', properties: { name: { type: 'string' }, labels: { type: 'array', items: { type: 'string' } }, inputSize: { type: 'integer' }, valAccuracy: { type: 'number' }, valMacroF1: { type: 'number' } } },
            detector: { type: 'object', properties: { name: { type: 'string' } } },
          },
        },
        ...errorResponses,
      },
    },
  }, async () => ({ emotion: pool.model, detector: { name: ctx.detectorModel } }));

  app.post('/v1/analyze', {
    schema: {
      summary: 'Faces and emotions of one image',
      description: `Body: the image bytes with Content-Type ${IMAGE_CONTENT_TYPES.join(', ')}; or multipart/form-data with the file in field "image". `
        + 'Answers exactly the entry `emolens analyze --json` prints for the image ("file" is the multipart file name, if any). '
        + 'With ?explain=auto|gradcam|occlusion each face also has "saliency", as in `emolens explain --json`: which pixels of its aligned crop drove '
        + 'the dominant emotion (or ?emotion=), width x height values in [0, 1], row-major. Occlusion runs the model once per patch: slower.',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          explain: { type: 'string', enum: [...SALIENCY_METHODS], description: 'add a saliency map per face (auto: Grad-CAM where the model has its outputs, else occlusion)' },
          emotion: { type: 'string', enum: [...EMOTIONS], description: 'with explain: the emotion the map explains (default: each face\'s dominant one)' },
        },
      },
      response: { 200: { $ref: 'ImageResult#' }, ...errorResponses },
    },
  }, async (request, reply) => {
    const query = request.query as { explain?: (typeof SALIENCY_METHODS)[number]; emotion?: Emotion };
    if (query.emotion && !query.explain) throw new ApiError(400, 'BAD_REQUEST', '?emotion= goes with ?explain=auto|gradcam|occlusion');
    const explain = query.explain ? { method: query.explain, emotion: query.emotion } : undefined;
    let bytes: Buffer | undefined;
    let file: string | undefined;
    if (request.isMultipart()) {
      const part = await request.file({ limits: { files: 1 } });
      if (!part) throw new ApiError(400, 'MISSING_IMAGE', 'no file in the form: send the image in field "image"');
      if (part.fieldname !== 'image') throw new ApiError(400, 'MISSING_IMAGE', `unexpected field "${part.fieldname.slice(0, 40)}": send the image in field "image"`);
      if (!part.mimetype.startsWith('image/') && part.mimetype !== 'application/octet-stream') {
        throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', `field "image" has type ${part.mimetype.slice(0, 60)}; send an image`);
      }
      bytes = await part.toBuffer();
      file = part.filename || undefined;
    } else {
      bytes = request.body as Buffer | undefined;
    }
    if (!bytes || bytes.length === 0) throw new ApiError(400, 'EMPTY_BODY', `send the image as the request body (Content-Type ${IMAGE_CONTENT_TYPES[0]}, …) or in multipart field "image"`);
    const result = await pool.analyze(bytes, { timeoutMs: limits.requestTimeoutMs, explain });
    // The CLI's bytes, not a re-serialisation through the response schema: JSON.stringify of the same entry.
    return reply.type('application/json; charset=utf-8').send(Buffer.from(JSON.stringify(imageEntry(file, result))));
  });

  app.post('/v1/jobs', {
    schema: {
      summary: 'Queue a job: several images, or one video',
      description: 'multipart/form-data with files in field "image" (repeat it), or one video in field "video" (video/* or application/octet-stream; '
        + 'MP4, MOV, MKV, WebM, AVI, MPEG-TS, FLV, Ogg or WMV, checked by its first bytes: anything else is 422 INVALID_VIDEO). '
        + 'A video over the duration or resolution limit of `emolens video` fails the job with VIDEO_TOO_LARGE; one ffmpeg cannot read with INVALID_VIDEO.',
      response: {
        202: { type: 'object', properties: { id: { type: 'string' }, state: { type: 'string' }, url: { type: 'string' }, events: { type: 'string' } } },
        ...errorResponses,
      },
    },
  }, async (request, reply) => {
    if (!request.isMultipart()) throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'POST /v1/jobs takes multipart/form-data with files in field "image" or one video in field "video"');
    const idempotencyKey = idempotencyKeyOf(request);
    if (jobs.backend === 'redis' && !jobs.ready()) throw new ApiError(503, 'REDIS_UNAVAILABLE', 'the job store (Redis) cannot be reached right now; retry later', 2);
    // Refused before the body is read when it cannot fit: its declared size over the per-request total, or past the
    // budget with the uploads held and being received (Node then reads the unread body into nothing, so the
    // connection goes on). A request with an Idempotency-Key is read, so that a retry of a job already accepted gets
    // its id back.
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > limits.maxRequestBytes + MULTIPART_OVERHEAD_BYTES) {
      throw new ApiError(413, 'PAYLOAD_TOO_LARGE', `the request (${(declared / 2 ** 20).toFixed(1)} MB) is over the ${Math.round(limits.maxRequestBytes / 2 ** 20)} MB per request (--max-request-mb)`);
    }
    const incoming = Number.isFinite(declared) ? Math.min(declared, limits.maxRequestBytes) : 0;
    const held = receiving.bytes + (jobs.queuedBytes?.() ?? 0);
    // (A keyed request is refused here only when the uploads being received alone fill the budget.)
    const full = idempotencyKey === undefined ? held + incoming > limits.maxQueuedBytes : held > limits.maxQueuedBytes && receiving.bytes >= limits.maxQueuedBytes;
    if (full) {
      // Held unread first, as shed analyses are: a client that retries at once would otherwise stream its body again
      // and again (50 MB a try) through the event loop the answered requests need.
      if (limits.shedDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, limits.shedDelayMs * 4));
      throw overBudget(idempotencyKey === undefined ? incoming : 0, limits.maxQueuedBytes);
    }
    let kindName: string | undefined;
    const inputs: JobInput[] = [];
    let total = 0;
    try {
      for await (const part of request.parts()) {
        if (part.type !== 'file') continue;
        const found = kindForField(part.fieldname);
        if (!found) throw new ApiError(400, 'UNKNOWN_FIELD', `unexpected file field "${part.fieldname.slice(0, 40)}": send images in field "image" or a video in field "video"`);
        const [name, kind] = found;
        if (kindName && kindName !== name) throw new ApiError(400, 'MIXED_JOB', 'one job takes one kind of file');
        kindName = name;
        if (!accepts(kind, part.mimetype)) throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', `file "${part.filename.slice(0, 80)}" has type ${part.mimetype.slice(0, 60)}, not ${name === 'video' ? 'a video' : 'an image'}`);
        if (inputs.length >= Math.min(kind.maxFiles, limits.maxJobFiles)) throw new ApiError(413, 'TOO_MANY_FILES', `at most ${Math.min(kind.maxFiles, limits.maxJobFiles)} file${kind.maxFiles === 1 ? '' : 's'} per ${name} job`);
        // Counted chunk by chunk, so what many clients have half-sent is inside the budget too.
        const bytes = await readFilePart(part, limits.maxBodyBytes, (n) => {
          total += n;
          receiving.bytes += n;
          if (total > limits.maxRequestBytes) throw new ApiError(413, 'PAYLOAD_TOO_LARGE', `the files of one request total over ${Math.round(limits.maxRequestBytes / 2 ** 20)} MB (--max-request-mb)`);
          if (receiving.bytes > limits.maxQueuedBytes) throw new OverloadedError(`uploads being received exceed the budget of ${Math.round(limits.maxQueuedBytes / 2 ** 20)} MB; retry later`, 5);
        });
        const input = { name: part.filename || `${part.fieldname}-${inputs.length + 1}`, bytes };
        kind.check?.(input);
        inputs.push(input);
      }
      if (!kindName) throw new ApiError(400, 'MISSING_IMAGE', 'no files in the form: send images in field "image" or a video in field "video"');
    } catch (err) {
      // Refused mid-upload: the rest of the body is never read, so this connection cannot carry another request.
      if (!request.raw.complete) void reply.header('connection', 'close');
      throw err;
    } finally {
      receiving.bytes -= total;
    }
    const id = await jobs.add(kindName, inputs, { owner: ownerOf(request), idempotencyKey });
    return reply.code(202).header('Location', `/v1/jobs/${id}`).send({ id, state: 'queued', url: `/v1/jobs/${id}`, events: `/v1/jobs/${id}/events` });
  });

  const notFound = (id: string) => new ApiError(404, 'JOB_NOT_FOUND', `no job ${id} (never queued, deleted, or its result expired)`);
  const findJob = async (id: string, owner: string | undefined): Promise<JobView> => {
    const view = await jobs.get(id, owner);
    if (!view) throw notFound(id);
    return view;
  };

  app.get<{ Params: { id: string } }>('/v1/jobs/:id', {
    schema: { summary: 'A job: state, progress, result', params: jobParams, response: { 200: { $ref: 'Job#' }, ...errorResponses } },
  }, async (request) => findJob(request.params.id, ownerOf(request)));

  app.delete<{ Params: { id: string } }>('/v1/jobs/:id', {
    schema: {
      summary: 'Delete a job, its uploads and its result',
      description: '204 when deleted (queued or finished); 409 JOB_RUNNING while a worker runs it (delete it once it has ended).',
      params: jobParams,
      response: { 204: { type: 'null', description: 'deleted' }, ...errorResponses },
    },
  }, async (request, reply) => {
    const outcome = await jobs.remove(request.params.id, ownerOf(request));
    if (outcome === 'missing') throw notFound(request.params.id);
    if (outcome === 'running') throw new ApiError(409, 'JOB_RUNNING', `job ${request.params.id} is running: delete it once it has ended`);
    return reply.code(204).send();
  });

  app.get<{ Params: { id: string } }>('/v1/jobs/:id/events', {
    schema: {
      summary: 'A job as server-sent events',
      description: 'text/event-stream: "progress" events with the job (state, progress) while it runs, then one "completed" or "failed" event with the whole job (result included), then the stream ends.',
      params: jobParams,
      response: { 200: { type: 'string', description: 'text/event-stream' }, ...errorResponses },
    },
  }, async (request, reply) => streamJob(request.params.id, reply, jobs, (id) => findJob(id, ownerOf(request))));
}

/**
 * A multipart file's bytes, handing each chunk's size to `count` as it arrives (which throws to stop the upload);
 * 413 once the file is over `maxFileBytes` (multipart's fileSize limit truncated it).
 */
async function readFilePart(part: MultipartFile, maxFileBytes: number, count: (bytes: number) => void): Promise<Buffer> {
  const tooLarge = () => new ApiError(413, 'PAYLOAD_TOO_LARGE', `file "${part.filename.slice(0, 80)}" is over ${Math.round(maxFileBytes / 2 ** 20)} MB (--max-body-mb)`);
  const chunks: Buffer[] = [];
  for await (const chunk of part.file as AsyncIterable<Buffer>) {
    if (part.file.truncated) throw tooLarge();
    count(chunk.length);
    chunks.push(chunk);
  }
  if (part.file.truncated) throw tooLarge();
  return Buffer.concat(chunks);
}

/** Jobs belong to the token that created them: its digest (never the token itself) is the job's owner. */
function ownerOf(request: FastifyRequest): string | undefined {
  const token = /^Bearer ([^\s]+)$/i.exec(request.headers.authorization?.trim() ?? '')?.[1];
  return token ? createHash('sha256').update(token).digest('hex').slice(0, 32) : undefined;
}

/** The Idempotency-Key header (1-200 visible ASCII characters), if sent. */
function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const value = request.headers['idempotency-key'];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[\x21-\x7e]{1,200}$/.test(value)) throw new ApiError(400, 'BAD_REQUEST', 'Idempotency-Key must be 1-200 visible ASCII characters');
  return value;
}

async function streamJob(id: string, reply: FastifyReply, jobs: JobQueue, findJob: (id: string) => Promise<JobView>): Promise<void> {
  const buffered: JobView[] = [];
  let write: ((view: JobView) => void) | undefined;
  // Subscribe before reading the state, so no change between the two is lost.
  const unsubscribe = jobs.subscribe(id, (view) => (write ? write(view) : buffered.push(view)));
  let first: JobView;
  try {
    first = await findJob(id);
  } catch (err) {
    unsubscribe();
    throw err;
  }
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  let ended = false;
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  const end = () => {
    if (ended) return;
    ended = true;
    clearInterval(heartbeat);
    unsubscribe();
    res.end();
  };
  res.on('close', end);
  write = (view) => {
    if (ended) return;
    const terminal = view.state === 'completed' || view.state === 'failed';
    res.write(`event: ${terminal ? view.state : 'progress'}\ndata: ${JSON.stringify(view)}\n\n`);
    if (terminal) end();
  };
  write(first);
  for (const view of buffered) write(view);
}

type Operations = Record<string, Record<string, Record<string, unknown>> | undefined>;

/** Request bodies that are bytes or forms, which Fastify's body schemas (JSON only) cannot describe. */
function withRequestBodies<T extends { paths?: object }>(doc: T): T {
  const paths = doc.paths as Operations | undefined;
  const binary = { schema: { type: 'string', format: 'binary' } };
  const analyze = paths?.['/v1/analyze']?.post;
  if (analyze) {
    analyze.requestBody = {
      required: true,
      content: {
        ...Object.fromEntries(IMAGE_CONTENT_TYPES.map((t) => [t, binary])),
        'multipart/form-data': { schema: { type: 'object', required: ['image'], properties: { image: { type: 'string', format: 'binary' } } } },
      },
    };
  }
  const jobsPost = paths?.['/v1/jobs']?.post;
  if (jobsPost) {
    jobsPost.requestBody = {
      required: true,
      content: {
        'multipart/form-data': {
          schema: {
            type: 'object',
            description: 'either "image" (repeated) or one "video"',
            properties: { image: { type: 'array', items: { type: 'string', format: 'binary' } }, video: { type: 'string', format: 'binary' } },
          },
        },
      },
    };
  }
  return doc;
}
