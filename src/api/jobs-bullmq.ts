/**
 * Jobs on BullMQ + Redis, for more work than one machine does: the API server (BullMqJobs) stores each job's
 * uploads in Redis and queues the job; any number of `emolens worker` processes (runJobWorker), on any machines
 * that reach the same Redis, take jobs and run them on their own worker-thread pool. Because inference runs on
 * those threads, the worker's event loop stays free to renew BullMQ's job locks; a worker that dies (even
 * `kill -9`) stops renewing, its lock expires, and another worker's stalled-job check hands the job on. BullMQ's
 * lock token makes sure only one attempt's result is recorded.
 *
 * Keys: BullMQ's own under `bull:<queue>:`, uploads under `emolens:<queue>:input:<job id>:<n>` (base64, deleted when
 * the job ends, with a safety expiry) — a video's too: the worker that takes the job writes it to its own temp file
 * (job-kinds.ts). Finished jobs are deleted after the result TTL. A failed job's reason is stored as "CODE: message",
 * so GET /v1/jobs/:id answers the same error code as the in-process backend.
 */
import { Queue, QueueEvents, UnrecoverableError, Worker, type Job } from 'bullmq';
import { EmolensError, UsageError } from '../errors.js';
import { ApiError, OverloadedError } from './errors.js';
import { JOB_KINDS, type JobInput, type JobProgress } from './job-kinds.js';
import { DEFAULT_QUEUE_NAME, JobListeners, newJobId, type JobQueue, type JobQueueOptions, type JobState, type JobView } from './jobs.js';
import type { WorkerPool } from './pool.js';

/** Uploads not taken within a day are dropped even if no worker ever ran: nothing is kept for ever. */
const INPUT_SAFETY_TTL_MS = 24 * 60 * 60 * 1000;
/** Attempts per job; a worker that dies does not use one up (that is a stall, see maxStalledCount). */
const ATTEMPTS = 2;

interface JobData { names: string[] }

const inputKey = (queue: string, id: string, n: number) => `emolens:${queue}:input:${id}:${n}`;

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

/** BullMQ loads its Redis driver (ioredis) on first use; say plainly what is missing. */
function explainRedisError(err: unknown): unknown {
  if (err instanceof Error && /could not load the optional 'ioredis'/.test(err.message)) {
    return new EmolensError('REDIS_CLIENT_MISSING', 'jobs on Redis need the ioredis package next to bullmq (npm install ioredis)');
  }
  return err;
}

/** Resolve `ready` or fail with one clear line when Redis cannot be reached in time. */
async function within<T>(ready: Promise<T>, ms: number, url: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EmolensError('REDIS_UNREACHABLE', `cannot reach Redis at ${url} within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([ready, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const STATES: Record<string, JobState> = { active: 'running', completed: 'completed', failed: 'failed' };

export interface BullMqJobsOptions extends JobQueueOptions {
  redisUrl: string;
  queueName?: string;
}

export class BullMqJobs implements JobQueue {
  readonly backend = 'redis' as const;
  private readonly listeners = new JobListeners();
  private sweep?: NodeJS.Timeout;

  private constructor(private readonly queue: Queue, private readonly events: QueueEvents, private readonly options: BullMqJobsOptions, private readonly name: string) {
    const forward = ({ jobId }: { jobId: string }) => {
      if (!this.listeners.has(jobId)) return;
      void this.get(jobId).then((view) => { if (view) this.listeners.notify(view); });
    };
    for (const event of ['active', 'progress', 'completed', 'failed', 'waiting'] as const) events.on(event, forward);
    // BullMQ's removeOnComplete age is only applied when later jobs finish; this makes the TTL hold on a quiet queue.
    const every = Math.min(60_000, Math.max(1000, options.resultTtlMs / 2));
    this.sweep = setInterval(() => {
      for (const type of ['completed', 'failed'] as const) this.queue.clean(this.options.resultTtlMs, 1000, type).catch(() => {});
    }, every).unref();
  }

  static async connect(options: BullMqJobsOptions): Promise<BullMqJobs> {
    const connection = redisConnection(options.redisUrl);
    const name = options.queueName ?? DEFAULT_QUEUE_NAME;
    let queue: Queue | undefined;
    let events: QueueEvents | undefined;
    try {
      queue = new Queue(name, { connection });
      events = new QueueEvents(name, { connection });
      queue.on('error', () => {}); // reconnects on its own; requests meanwhile fail with one line
      await within(Promise.all([queue.waitUntilReady(), events.waitUntilReady()]), 5000, options.redisUrl);
    } catch (err) {
      await Promise.allSettled([queue?.close(), events?.close()]);
      throw explainRedisError(err);
    }
    return new BullMqJobs(queue, events, options, name);
  }

  async add(kind: string, inputs: JobInput[]): Promise<string> {
    if (!JOB_KINDS.has(kind)) throw new UsageError(`unknown job kind: ${kind}`);
    const waiting = await this.queue.getWaitingCount();
    if (waiting >= this.options.maxPending) throw new OverloadedError(`${waiting} jobs are waiting for a worker; retry later`, 5);
    const id = newJobId();
    const client = await this.queue.getBackend().client;
    await Promise.all(inputs.map((input, n) => client.set(inputKey(this.name, id, n), Buffer.from(input.bytes).toString('base64'), { PX: INPUT_SAFETY_TTL_MS })));
    const ageS = Math.ceil(this.options.resultTtlMs / 1000);
    const data: JobData = { names: inputs.map((i) => i.name) };
    await this.queue.add(kind, data, {
      jobId: id,
      attempts: ATTEMPTS,
      backoff: { type: 'fixed', delay: 1000 },
      removeOnComplete: { age: ageS },
      removeOnFail: { age: ageS },
    });
    return id;
  }

  async get(id: string): Promise<JobView | undefined> {
    // The state is read before the job's data: a job that completes in between is reported as still running (its
    // 'completed' event follows), never as completed without its result, which the other order allows.
    const jobState = await this.queue.getJobState(id);
    const job = await this.queue.getJob(id);
    if (!job) return undefined;
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

  subscribe(id: string, listener: (view: JobView) => void): () => void {
    return this.listeners.add(id, listener);
  }

  async close(): Promise<void> {
    clearInterval(this.sweep);
    this.listeners.clear();
    await Promise.allSettled([this.events.close(), this.queue.close()]);
  }
}

export interface JobWorkerOptions {
  redisUrl: string;
  queueName?: string;
  pool: WorkerPool;
  /** BullMQ job lock: a dead worker's job is handed on about 2-3 lock periods after it died (default 30 s). */
  lockMs?: number;
  log?: (line: string) => void;
}

export interface RunningJobWorker { close(): Promise<void> }

/** Take jobs from the queue and run them on `pool` until closed (`emolens worker`). */
export async function runJobWorker(options: JobWorkerOptions): Promise<RunningJobWorker> {
  const connection = redisConnection(options.redisUrl);
  const name = options.queueName ?? DEFAULT_QUEUE_NAME;
  const lockMs = options.lockMs ?? 30_000;
  const log = options.log ?? (() => {});
  const { pool } = options;

  let worker: Worker;
  try {
    worker = createWorker();
    worker.on('error', (err) => log(`worker: ${err.message}`));
    await within(worker.waitUntilReady(), 5000, options.redisUrl);
  } catch (err) {
    throw explainRedisError(err);
  }
  return {
    async close() {
      await worker.close();
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
    const client = await worker.getBackend().client;
    const keys = names.map((_, n) => inputKey(name, job.id!, n));
    const lastAttempt = () => job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    try {
      const stored = await Promise.all(keys.map((k) => client.get(k)));
      if (stored.some((s) => s === null)) throw new UnrecoverableError('the uploaded files of this job are gone (expired or deleted)');
      const inputs = stored.map((s, n) => ({ name: names[n], bytes: Buffer.from(s!, 'base64') }));
      log(`job ${job.id} (${job.name}, ${inputs.length} files) started`);
      const result = await kind.run({
        inputs,
        analyze: (bytes) => pool.analyze(bytes, { bounded: false }),
        analyzeVideo: (path, fileName, onProgress) => pool.analyzeVideo(path, fileName, onProgress),
        progress: (progress) => job.updateProgress({ ...progress }),
      });
      await client.del(...keys);
      log(`job ${job.id} completed`);
      return result;
    } catch (err) {
      // A typed error about the input (a bad or oversized video) fails the same way on every attempt: no retry.
      // The server's own troubles (ApiError 5xx: shutting down, a crashed thread) may go better on another try.
      const serverSide = err instanceof ApiError && err.statusCode >= 500;
      const permanent = err instanceof UnrecoverableError || (err instanceof EmolensError && !serverSide);
      if (permanent || lastAttempt()) await client.del(...keys).catch(() => {});
      log(`job ${job.id} failed: ${(err as Error).message}`);
      if (err instanceof UnrecoverableError) throw err;
      if (err instanceof EmolensError) throw serverSide ? new Error(`${err.code}: ${err.message}`) : new UnrecoverableError(`${err.code}: ${err.message}`);
      throw err;
    }
  }
}
