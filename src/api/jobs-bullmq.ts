/**
 * Jobs on BullMQ + Redis, for more work than one machine does: the API server (BullMqJobs) stores each job's
 * uploads in Redis and queues the job; any number of `emolens worker` processes (runJobWorker), on any machines
 * that reach the same Redis, take jobs and run them on their own worker-thread pool. Because inference runs on
 * those threads, the worker's event loop stays free to renew BullMQ's job locks; a worker that dies (even
 * `kill -9`) stops renewing, its lock expires, and another worker's stalled-job check hands the job on. BullMQ's
 * lock token makes sure only one attempt's result is recorded.
 *
 * Exactly-once results from at-least-once work: a job's inputs stay in Redis until BullMQ has recorded its end
 * (deleted on the worker's 'completed' / final 'failed' event, and by the API's sweep if the worker died first); a
 * worker records the result under its own key (SET NX) before BullMQ does, so a re-run of a job whose result exists
 * (a Redis restart or a lost lock between the two) returns that result instead of analysing again.
 *
 * Keys: BullMQ's own under `bull:<queue>:`; ours under `emolens:<queue>:` — `input:<job id>:<n>` (the upload's bytes,
 * with a safety expiry) — a video's too: the worker that takes the job writes it to its own temp file (job-kinds.ts);
 * `result:<id>` (until BullMQ holds it; then a tombstone `ENDED` for an hour, so a run that was still going when
 * another run's end was recorded does not record a second result), `bytes` (a hash: job id → upload bytes, the byte budget of queued inputs),
 * `idem:<digest>` (an Idempotency-Key → its job id, for the result TTL). Finished jobs are deleted after the result
 * TTL. A failed job's reason is stored as "CODE: message", so GET /v1/jobs/:id answers the same error code as the
 * in-process backend.
 *
 * Faults: the API's own connection fails fast (no offline queue, a command timeout); while Redis is away every job
 * call answers 503 REDIS_UNAVAILABLE + Retry-After, and each side logs one line per change of state.
 */
import { createHash } from 'node:crypto';
import { Queue, QueueEvents, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { EmolensError, UsageError } from '../errors.js';
import { ApiError, OverloadedError } from './errors.js';
import type { JobProgress, JobState, JobView } from '../result/job.js';
import { JOB_KINDS, sweepUploadDirs, type JobInput } from './job-kinds.js';
import { DEFAULT_QUEUE_NAME, JobListeners, inputBytes, newJobId, overBudget, type AddOptions, type JobQueue, type JobQueueOptions, type RemoveOutcome } from './jobs.js';
import type { WorkerPool } from './pool.js';

/** Uploads not taken within a day are dropped even if no worker ever ran: nothing is kept for ever. */
const INPUT_SAFETY_TTL_MS = 24 * 60 * 60 * 1000;
/** Attempts per job; a worker that dies does not use one up (that is a stall, see maxStalledCount). */
const ATTEMPTS = 2;
/** The longest any Redis call on the HTTP path may take before the request is answered 503. */
export const REDIS_CALL_TIMEOUT_MS = 3000;
/** Retry-After of a 503 while Redis is away. */
const REDIS_RETRY_AFTER_S = 2;

interface JobData { names: string[]; owner?: string }

const keyOf = (queue: string) => ({
  input: (id: string, n: number) => `emolens:${queue}:input:${id}:${n}`,
  result: (id: string) => `emolens:${queue}:result:${id}`,
  bytes: `emolens:${queue}:bytes`,
  idem: (owner: string | undefined, key: string) => `emolens:${queue}:idem:${createHash('sha256').update(`${owner ?? ''}\n${key}`).digest('hex')}`,
});

/** BullMQ connection options from a redis:// or rediss:// URL (BullMQ needs maxRetriesPerRequest: null). */
export function redisConnection(url: string): { url: string; maxRetriesPerRequest: null; enableOfflineQueue: boolean } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`invalid --redis URL: ${url} (e.g. redis://127.0.0.1:6379)`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new UsageError(`--redis must be a redis:// or rediss:// URL, got ${url}`);
  return { url, maxRetriesPerRequest: null, enableOfflineQueue: true };
}

/** Reconnect every 0.2-2 s, for ever (the default's backoff, capped lower so a restarted Redis is found quickly). */
const retryStrategy = (times: number) => Math.min(200 * times, 2000);

/**
 * Our own connection for uploads, results and budgets. failFast (the API): no offline queue and a command timeout,
 * so a request meets "Redis is away" at once instead of hanging; otherwise (a worker) commands wait for Redis to come
 * back, so a finished result is written once it can be.
 */
function storeClient(url: string, failFast: boolean): Redis {
  redisConnection(url);
  return new Redis(url, failFast
    ? { commandTimeout: REDIS_CALL_TIMEOUT_MS - 500, maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy, connectTimeout: 2000 }
    : { maxRetriesPerRequest: null, retryStrategy });
}

/** Redis up or down, logged once per change (never a stack per reconnect attempt). */
class RedisState {
  up = false;
  /** Set by close(): the connection's end is ours, not a fault to log. */
  closing = false;
  private reason = '';
  constructor(client: Redis, private readonly who: string, private readonly url: string, private readonly log: (line: string) => void) {
    client.on('ready', () => {
      if (!this.up && this.reason) this.log(`${this.who}: Redis at ${redacted(this.url)} is back`);
      this.up = true;
    });
    const down = (why: string) => {
      if (this.closing) return;
      if (this.up || !this.reason) this.log(`${this.who}: lost Redis at ${redacted(this.url)} (${why}); retrying`);
      this.up = false;
      this.reason = why;
    };
    client.on('error', (err: NodeJS.ErrnoException) => down(err.code ?? err.message.split('\n')[0]));
    client.on('close', () => { if (this.up) down('connection closed'); });
  }
}

function redacted(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.host;
  } catch {
    return url;
  }
}

/** BullMQ loads its Redis driver (ioredis) on first use; say plainly what is missing. */
function explainRedisError(err: unknown): unknown {
  if (err instanceof Error && /could not load the optional 'ioredis'/.test(err.message)) {
    return new EmolensError('REDIS_CLIENT_MISSING', 'jobs on Redis need the ioredis package next to bullmq (npm install ioredis)');
  }
  return err;
}

/** Resolve `ready` or fail with `error()` when it takes longer than `ms`. */
async function within<T>(ready: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), ms);
  });
  try {
    return await Promise.race([ready, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const unreachable = (url: string, ms: number) => () => new EmolensError('REDIS_UNREACHABLE', `cannot reach Redis at ${redacted(url)} within ${ms / 1000} s`);
const unavailable = () => new ApiError(503, 'REDIS_UNAVAILABLE', 'the job store (Redis) cannot be reached right now; retry later', REDIS_RETRY_AFTER_S);

/** What `result:<id>` holds once BullMQ has recorded the job's end: the result itself is BullMQ's from then on. */
const ENDED = 'ENDED';
/** How long the tombstone stays: longer than any one run of a job (a lost-lock copy still going) can take. */
const ENDED_TTL_MS = 60 * 60 * 1000;

/**
 * Delete a job's uploads and its entry in the byte budget; once BullMQ holds the result, the recorded result too
 * (left as the ENDED tombstone for an hour, so a concurrent run of the same job cannot record it again);
 * `delete` when the job itself was removed.
 */
async function dropInputs(store: Redis, queue: string, id: string, count: number, result: 'keep' | 'end' | 'delete'): Promise<void> {
  const keys = keyOf(queue);
  const names = Array.from({ length: count }, (_, n) => keys.input(id, n));
  if (result === 'delete') names.push(keys.result(id)); // the job itself is gone (DELETE): nothing can record it
  const multi = store.multi();
  if (names.length) multi.del(...names);
  if (result === 'end') multi.set(keys.result(id), ENDED, 'PX', ENDED_TTL_MS, 'XX');
  multi.hdel(keys.bytes, id);
  await multi.exec();
}

/** Reserve `bytes` of the queued-input budget for job `id`, noting when and its file count (atomic): 1 reserved, 0 already had, -1 over budget. */
const RESERVE = `
local total = 0
for _, v in ipairs(redis.call('hvals', KEYS[1])) do total = total + tonumber(string.match(v, '^%d+')) end
if redis.call('hexists', KEYS[1], ARGV[1]) == 1 then return 0 end
if total + tonumber(ARGV[2]) > tonumber(ARGV[3]) then return -1 end
redis.call('hset', KEYS[1], ARGV[1], ARGV[2] .. ':' .. ARGV[4] .. ':' .. ARGV[5])
return 1`;

/** Whether `CONFIG GET save / appendonly` says this Redis writes its data to disk (undefined: CONFIG not allowed). */
export async function redisPersists(client: Redis): Promise<string | undefined> {
  try {
    const save = (await client.config('GET', 'save')) as string[];
    const aof = (await client.config('GET', 'appendonly')) as string[];
    const parts: string[] = [];
    if (save[1]?.trim()) parts.push(`save "${save[1]}"`);
    if (aof[1] === 'yes') parts.push('appendonly yes');
    return parts.length ? parts.join(', ') : '';
  } catch {
    return undefined;
  }
}

const STATES: Record<string, JobState> = { active: 'running', completed: 'completed', failed: 'failed' };

export interface BullMqJobsOptions extends JobQueueOptions {
  redisUrl: string;
  queueName?: string;
  /** State changes of the Redis connection and the persistence warning (default: stderr). */
  log?: (line: string) => void;
}

export class BullMqJobs implements JobQueue {
  readonly backend = 'redis' as const;
  private readonly listeners = new JobListeners();
  private readonly sent = new Map<string, string>();
  private readonly keys: ReturnType<typeof keyOf>;
  private sweep?: NodeJS.Timeout;
  private poll?: NodeJS.Timeout;

  private constructor(private readonly queue: Queue, private readonly events: QueueEvents, private readonly store: Redis, private readonly state: RedisState, private readonly options: BullMqJobsOptions, private readonly name: string) {
    this.keys = keyOf(name);
    const forward = ({ jobId }: { jobId: string }) => { if (this.listeners.has(jobId)) void this.push(jobId); };
    for (const event of ['active', 'progress', 'completed', 'failed', 'waiting'] as const) events.on(event, forward);
    // BullMQ's removeOnComplete age is only applied when later jobs finish; this makes the TTL hold on a quiet queue,
    // and drops the uploads of jobs that ended while their worker could not (it died, or Redis was away).
    const every = Math.min(60_000, Math.max(1000, options.resultTtlMs / 2));
    this.sweep = setInterval(() => {
      if (!this.state.up) return;
      for (const type of ['completed', 'failed'] as const) this.queue.clean(this.options.resultTtlMs, 1000, type).catch(() => {});
      this.sweepInputs().catch(() => {});
    }, every).unref();
    // Events missed while Redis was away (or across its restart) must not leave a stream open for ever.
    this.poll = setInterval(() => {
      if (this.state.up) for (const id of this.sent.keys()) void this.push(id);
    }, 1000).unref();
  }

  static async connect(options: BullMqJobsOptions): Promise<BullMqJobs> {
    const connection = redisConnection(options.redisUrl);
    const name = options.queueName ?? DEFAULT_QUEUE_NAME;
    const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    let queue: Queue | undefined;
    let events: QueueEvents | undefined;
    const store = storeClient(options.redisUrl, true);
    const state = new RedisState(store, 'emolens api', options.redisUrl, log);
    try {
      await within(new Promise<void>((resolve) => (store.status === 'ready' ? resolve() : store.once('ready', () => resolve()))), 5000, unreachable(options.redisUrl, 5000));
      queue = new Queue(name, { connection: store });
      events = new QueueEvents(name, { connection: { ...connection, retryStrategy } });
      queue.on('error', () => {}); // the store's RedisState logs the state; requests meanwhile answer 503
      events.on('error', () => {});
      await within(Promise.all([queue.waitUntilReady(), events.waitUntilReady()]), 5000, unreachable(options.redisUrl, 5000));
    } catch (err) {
      await Promise.allSettled([queue?.close(), events?.close()]);
      store.disconnect();
      throw explainRedisError(err);
    }
    const persists = await redisPersists(store);
    if (persists) log(`emolens api: warning: Redis at ${redacted(options.redisUrl)} writes its data to disk (${persists}), uploads included; for nothing on disk run it with --save '' --appendonly no (docs/api.md, "Redis settings")`);
    return new BullMqJobs(queue, events, store, state, options, name);
  }

  ready(): boolean {
    return this.state.up;
  }

  /** Every Redis call of a request: at once 503 while Redis is away, and never longer than REDIS_CALL_TIMEOUT_MS. */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.state.up) throw unavailable();
    try {
      return await within(fn(), REDIS_CALL_TIMEOUT_MS, unavailable);
    } catch (err) {
      if (err instanceof EmolensError) throw err;
      throw unavailable();
    }
  }

  add(kind: string, inputs: JobInput[], options: AddOptions = {}): Promise<string> {
    if (!JOB_KINDS.has(kind)) throw new UsageError(`unknown job kind: ${kind}`);
    return this.guard(async () => {
      let id = newJobId();
      if (options.idempotencyKey !== undefined) {
        // The key names one id for the result TTL; a retry finds it, and finishes queuing it if the first try broke off.
        const idemKey = this.keys.idem(options.owner, options.idempotencyKey);
        const set = await this.store.set(idemKey, id, 'PX', this.options.resultTtlMs, 'NX');
        if (set === null) {
          id = (await this.store.get(idemKey)) ?? id;
          if ((await this.queue.getJobState(id)) !== 'unknown') return id;
        }
      }
      const waiting = await this.queue.getWaitingCount();
      if (waiting >= this.options.maxPending) throw new OverloadedError(`${waiting} jobs are waiting for a worker; retry later`, 5);
      const bytes = inputBytes(inputs);
      const reserved = await this.store.eval(RESERVE, 1, this.keys.bytes, id, bytes, this.options.maxQueuedBytes, Date.now(), inputs.length) as number;
      if (reserved === -1) throw overBudget(bytes, this.options.maxQueuedBytes);
      try {
        const multi = this.store.multi();
        inputs.forEach((input, n) => multi.set(this.keys.input(id, n), Buffer.from(input.bytes.buffer, input.bytes.byteOffset, input.bytes.byteLength), 'PX', INPUT_SAFETY_TTL_MS));
        const stored = await multi.exec();
        if (!stored || stored.some(([err]) => err)) throw new Error('storing the uploads failed');
        const ageS = Math.ceil(this.options.resultTtlMs / 1000);
        const data: JobData = { names: inputs.map((i) => i.name), owner: options.owner };
        await this.queue.add(kind, data, {
          jobId: id,
          attempts: ATTEMPTS,
          backoff: { type: 'fixed', delay: 1000 },
          removeOnComplete: { age: ageS },
          removeOnFail: { age: ageS },
        });
      } catch (err) {
        // Not queued (or not known to be): its uploads must not linger. A job whose add did reach Redis despite the
        // error then fails with "the uploaded files of this job are gone" instead of running unseen.
        await dropInputs(this.store, this.name, id, inputs.length, 'keep').catch(() => {});
        throw err;
      }
      return id;
    });
  }

  get(id: string, owner?: string): Promise<JobView | undefined> {
    return this.guard(() => this.read(id, owner));
  }

  /** The job's view; `owner` must match the job's unless checkOwner is false (event fan-out, already checked). */
  private async read(id: string, owner: string | undefined, checkOwner = true): Promise<JobView | undefined> {
    // The state is read before the job's data: a job that completes in between is reported as still running (its
    // 'completed' event follows), never as completed without its result, which the other order allows.
    const jobState = await this.queue.getJobState(id);
    const job = await this.queue.getJob(id);
    if (!job || (checkOwner && (job.data as JobData).owner !== owner)) return undefined;
    const finishedOn = job.finishedOn;
    if (finishedOn && Date.now() > finishedOn + this.options.resultTtlMs) {
      await job.remove().catch(() => {});
      return undefined;
    }
    const state = STATES[jobState] ?? 'queued';
    const total = (job.data as JobData).names.length;
    const progress = typeof job.progress === 'object' && job.progress !== null ? (job.progress as JobProgress) : { done: 0, total };
    const view: JobView = { id, kind: job.name, state, progress, createdAt: new Date(job.timestamp).toISOString() };
    if (state === 'completed') view.result = job.returnvalue;
    if (state === 'failed') {
      const coded = /^([A-Z][A-Z0-9_]+): (.*)$/s.exec(job.failedReason ?? '');
      view.error = coded ? { code: coded[1], message: coded[2] } : { code: 'JOB_FAILED', message: job.failedReason ?? 'the job failed' };
    }
    if (finishedOn && (state === 'completed' || state === 'failed')) {
      view.finishedAt = new Date(finishedOn).toISOString();
      view.expiresAt = new Date(finishedOn + this.options.resultTtlMs).toISOString();
    }
    return view;
  }

  remove(id: string, owner?: string): Promise<RemoveOutcome> {
    return this.guard(async () => {
      const job = await this.queue.getJob(id);
      if (!job || (job.data as JobData).owner !== owner) return 'missing';
      if ((await job.getState()) === 'active') return 'running';
      try {
        await job.remove();
      } catch {
        return 'running'; // taken by a worker in between (BullMQ refuses to remove a locked job)
      }
      await dropInputs(this.store, this.name, id, (job.data as JobData).names.length, 'delete');
      return 'removed';
    });
  }

  /** Send the job's view to its listeners if it changed since the last one sent. */
  private async push(id: string): Promise<void> {
    const view = await this.read(id, undefined, false).catch(() => undefined);
    if (!view) return;
    const seen = `${view.state}:${view.progress.done}/${view.progress.total}`;
    if (this.sent.get(id) === seen || !this.listeners.has(id)) return;
    this.sent.set(id, seen);
    this.listeners.notify(view);
  }

  /** Drop the uploads of jobs that ended (or vanished) without their worker deleting them. */
  private async sweepInputs(): Promise<void> {
    const held = await this.store.hgetall(this.keys.bytes);
    for (const [id, value] of Object.entries(held)) {
      const state = await this.queue.getJobState(id);
      const [, since, count] = value.split(':').map(Number);
      if (state === 'completed' || state === 'failed' || (state === 'unknown' && Date.now() - since > 60_000)) {
        await dropInputs(this.store, this.name, id, count || 0, state === 'unknown' ? 'delete' : 'end');
      }
    }
  }

  subscribe(id: string, listener: (view: JobView) => void): () => void {
    const remove = this.listeners.add(id, listener);
    this.sent.set(id, this.sent.get(id) ?? '');
    return () => {
      remove();
      if (!this.listeners.has(id)) this.sent.delete(id);
    };
  }

  async close(): Promise<void> {
    clearInterval(this.sweep);
    clearInterval(this.poll);
    this.listeners.clear();
    this.sent.clear();
    this.state.closing = true;
    await Promise.allSettled([this.events.close(), this.queue.close()]);
    this.store.disconnect();
  }
}

export interface JobWorkerOptions {
  redisUrl: string;
  queueName?: string;
  pool: WorkerPool;
  /** BullMQ job lock: a dead worker's job is handed on about 2-3 lock periods after it died (default 30 s). */
  lockMs?: number;
  /** Per job (verbose) and per change of the Redis connection's state. */
  log?: (line: string) => void;
  /** Lines about the Redis connection only (default: `log`, else stderr). */
  logState?: (line: string) => void;
}

export interface RunningJobWorker { close(): Promise<void> }

/** Take jobs from the queue and run them on `pool` until closed (`emolens worker`). */
export async function runJobWorker(options: JobWorkerOptions): Promise<RunningJobWorker> {
  const connection = { ...redisConnection(options.redisUrl), retryStrategy };
  const name = options.queueName ?? DEFAULT_QUEUE_NAME;
  const keys = keyOf(name);
  const lockMs = options.lockMs ?? 30_000;
  const log = options.log ?? (() => {});
  const logState = options.logState ?? options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const { pool } = options;

  // Upload folders of workers that were killed before they could delete them.
  const swept = await sweepUploadDirs();
  if (swept > 0) logState(`emolens worker: deleted ${swept} upload folder${swept === 1 ? '' : 's'} left by a killed process`);

  const store = storeClient(options.redisUrl, false);
  const state = new RedisState(store, 'emolens worker', options.redisUrl, logState);
  let worker: Worker;
  try {
    await within(new Promise<void>((resolve) => (store.status === 'ready' ? resolve() : store.once('ready', () => resolve()))), 5000, unreachable(options.redisUrl, 5000));
    worker = createWorker();
    // Connection errors are the store's RedisState's to log (once per change); anything else, once each.
    worker.on('error', (err: NodeJS.ErrnoException) => {
      if (!/ECONNREFUSED|ECONNRESET|EPIPE|Connection is closed|Stream isn't writeable|connect ETIMEDOUT/.test(`${err.code} ${err.message}`)) log(`worker: ${err.message.split('\n')[0]}`);
    });
    worker.on('completed', (job: Job) => { void dropInputs(store, name, job.id!, (job.data as JobData).names.length, 'end').catch(() => {}); });
    worker.on('failed', (job: Job | undefined) => {
      if (job?.finishedOn) void dropInputs(store, name, job.id!, (job.data as JobData).names.length, 'end').catch(() => {});
    });
    await within(worker.waitUntilReady(), 5000, unreachable(options.redisUrl, 5000));
  } catch (err) {
    store.disconnect();
    throw explainRedisError(err);
  }
  return {
    async close() {
      state.closing = true;
      await worker.close();
      await store.quit().catch(() => store.disconnect());
    },
  };

  function createWorker(): Worker {
    return new Worker(name, runJob, {
      connection,
      concurrency: pool.size,
      lockDuration: lockMs,
      stalledInterval: Math.max(500, Math.floor(lockMs / 2)),
      // A job survives two workers dying under it, then fails instead of killing every worker in turn.
      maxStalledCount: 2,
    });
  }

  async function runJob(job: Job): Promise<unknown> {
    const kind = JOB_KINDS.get(job.name);
    if (!kind) throw new UnrecoverableError(`this worker does not know job kind "${job.name}" (update emolens on the workers)`);
    const { names } = job.data as JobData;
    const id = job.id!;
    // Idempotent: a job whose result was recorded (then its end not, or its lock lost) is not analysed again.
    const recorded = await store.get(keys.result(id));
    if (recorded === ENDED) {
      // Its end is recorded already (this is a stale copy of a run that lost its lock): BullMQ keeps the result.
      log(`job ${id} (${job.name}): already ended, not run again`);
      return null;
    }
    if (recorded !== null) {
      log(`job ${id} (${job.name}): result already recorded, not run again`);
      return JSON.parse(recorded) as unknown;
    }
    try {
      const stored = await Promise.all(names.map((_, n) => store.getBuffer(keys.input(id, n))));
      if (stored.some((s) => s === null)) throw new UnrecoverableError('the uploaded files of this job are gone (expired or deleted)');
      const inputs = stored.map((bytes, n) => ({ name: names[n], bytes: bytes! }));
      log(`job ${id} (${job.name}, ${inputs.length} files) started`);
      const result = await kind.run({
        inputs,
        analyze: (bytes) => pool.analyze(bytes, { bounded: false }),
        analyzeVideo: (path, fileName, onProgress) => pool.analyzeVideo(path, fileName, onProgress),
        progress: (progress) => job.updateProgress({ ...progress }),
      });
      // Recorded once (NX): of two runs of the same job, the second returns the first one's result. The inputs stay
      // until BullMQ has recorded the end ('completed' above).
      const first = await store.set(keys.result(id), JSON.stringify(result), 'PX', INPUT_SAFETY_TTL_MS, 'NX');
      if (first === null) {
        log(`job ${id}: another run recorded its result first`);
        const theirs = await store.get(keys.result(id));
        return theirs === null || theirs === ENDED ? null : (JSON.parse(theirs) as unknown);
      }
      log(`job ${id} result recorded`);
      log(`job ${id} completed`);
      return result;
    } catch (err) {
      log(`job ${id} failed: ${(err as Error).message}`);
      // A typed error about the input (a bad or oversized video) fails the same way on every attempt: no retry.
      // The server's own troubles (ApiError 5xx: shutting down, a crashed thread) may go better on another try.
      const serverSide = err instanceof ApiError && err.statusCode >= 500;
      if (err instanceof UnrecoverableError) throw err;
      if (err instanceof EmolensError) throw serverSide ? new Error(`${err.code}: ${err.message}`) : new UnrecoverableError(`${err.code}: ${err.message}`);
      throw err;
    }
  }
}
