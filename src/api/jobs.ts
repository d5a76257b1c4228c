/**
 * Jobs: uploads analysed in the background, behind one interface with two backends.
 * - InProcessJobs (the default): a bounded FIFO in this process, run on the server's own worker-thread pool (one job
 *   at a time, its images on every worker of the pool);
 *   inputs live in memory only (a video's also in a temp file while it runs) and are dropped when the job ends;
 *   a finished job is deleted after the TTL.
 * - BullMqJobs (`--redis`, jobs-bullmq.ts): the same jobs on BullMQ, taken by `emolens worker` processes.
 * What a job does is its kind's business (job-kinds.ts), so both backends run every kind the same way.
 */
import { randomUUID } from 'node:crypto';
import { EmolensError, UsageError } from '../errors.js';
import { ApiError, OverloadedError } from './errors.js';
import { errorJson } from '../result/error.js';
import type { JobProgress, JobState, JobView } from '../result/job.js';
import { JOB_KINDS, type JobAnalysers, type JobInput } from './job-kinds.js';

/** Who asks, and how a client retry is recognised. */
export interface AddOptions {
  /** The job's owner (a digest of the bearer token that created it); only the same owner can read or delete it. */
  owner?: string;
  /** A client's Idempotency-Key: adding again with the same key (and owner) answers the first job's id. */
  idempotencyKey?: string;
}

/** What remove() found: the job deleted, still running (not deleted), or no such job. */
export type RemoveOutcome = 'removed' | 'running' | 'missing';

export interface JobQueue {
  readonly backend: 'in-process' | 'redis';
  /**
   * Queue a job; resolves to its id once the job is stored (on Redis: acknowledged by the server).
   * @throws OverloadedError when too many jobs are waiting or their inputs would exceed the byte budget.
   */
  add(kind: string, inputs: JobInput[], options?: AddOptions): Promise<string>;
  /** The job's state, or undefined when there is no such job (never was, expired, or another owner's). */
  get(id: string, owner?: string): Promise<JobView | undefined>;
  /** Delete a queued or finished job with its inputs and result; a running job is left alone ('running'). */
  remove(id: string, owner?: string): Promise<RemoveOutcome>;
  /** False while the job store cannot be reached (Redis down): /v1/health/ready answers 503. */
  ready(): boolean;
  /** Bytes of uploads this process holds for queued and running jobs (in-process backend; Redis holds its own). */
  queuedBytes?(): number;
  /** `listener` gets the job's view on every change (progress, start, end); returns the unsubscribe. */
  subscribe(id: string, listener: (view: JobView) => void): () => void;
  close(): Promise<void>;
}

export interface JobQueueOptions {
  /** Jobs waiting to start beyond which add() is refused (503). */
  maxPending: number;
  /** How long a finished job can be read. */
  resultTtlMs: number;
  /** Bytes of uploads held by queued and running jobs beyond which add() is refused (503 OVERLOADED). */
  maxQueuedBytes: number;
}

/** The total size of a job's uploads. */
export const inputBytes = (inputs: JobInput[]): number => inputs.reduce((n, i) => n + i.bytes.length, 0);

/** 503 OVERLOADED for a job whose inputs do not fit the byte budget. */
export function overBudget(bytes: number, budget: number): OverloadedError {
  return new OverloadedError(`the uploads of queued jobs would exceed the budget of ${Math.round(budget / 2 ** 20)} MB (this job: ${(bytes / 2 ** 20).toFixed(1)} MB); retry later`, 5);
}

/** The BullMQ queue `emolens api --redis` and `emolens worker` share unless --queue says otherwise. */
/** Who listens to which job (SSE streams), for both backends. */
export class JobListeners {
  private readonly byId = new Map<string, Set<(view: JobView) => void>>();

  has(id: string): boolean { return this.byId.has(id); }

  /** Add a listener; returns the function that removes it. */
  add(id: string, listener: (view: JobView) => void): () => void {
    let set = this.byId.get(id);
    if (!set) this.byId.set(id, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.byId.delete(id);
    };
  }

  /** Tell every listener of the view's job (each gets its own copy). */
  notify(view: JobView): void {
    for (const listener of this.byId.get(view.id) ?? []) listener({ ...view });
  }

  clear(): void { this.byId.clear(); }
}

export const DEFAULT_QUEUE_NAME = 'emolens-jobs';

/** Job ids are random UUIDs: knowing one job's id tells nothing about another's. */
export const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const newJobId = (): string => randomUUID();

interface Entry { view: JobView; inputs: JobInput[]; owner?: string; idempotency?: string; expiry?: NodeJS.Timeout }

export class InProcessJobs implements JobQueue {
  readonly backend = 'in-process' as const;
  private readonly jobs = new Map<string, Entry>();
  private readonly pending: string[] = [];
  private readonly listeners = new JobListeners();
  /** The jobs running now, so close() can wait until each has cleaned up (a video's temp file). */
  private readonly active = new Set<Promise<void>>();
  /** Idempotency keys (owner + key) → job id, while the job exists. */
  private readonly byKey = new Map<string, string>();
  /** Bytes of uploads held by queued and running jobs. */
  private heldBytes = 0;
  private closed = false;

  /**
   * @param analysers analyse images and videos off the event loop (the server's pool, unbounded: jobs are bounded here)
   * @param concurrency jobs run at once; 1 keeps /v1/analyze responsive while a long job runs
   */
  constructor(private readonly analysers: JobAnalysers, private readonly options: JobQueueOptions, private readonly concurrency = 1) {}

  async add(kind: string, inputs: JobInput[], options: AddOptions = {}): Promise<string> {
    if (this.closed) throw new ApiError(503, 'SHUTTING_DOWN', 'the server is shutting down', 1);
    if (!JOB_KINDS.has(kind)) throw new UsageError(`unknown job kind: ${kind}`);
    const idempotency = options.idempotencyKey === undefined ? undefined : `${options.owner ?? ''}\n${options.idempotencyKey}`;
    const earlier = idempotency === undefined ? undefined : this.byKey.get(idempotency);
    if (earlier && this.jobs.has(earlier)) return earlier;
    if (this.pending.length >= this.options.maxPending) throw new OverloadedError(`${this.pending.length} jobs are waiting; retry later`, 5);
    const bytes = inputBytes(inputs);
    if (this.heldBytes + bytes > this.options.maxQueuedBytes) throw overBudget(bytes, this.options.maxQueuedBytes);
    const id = newJobId();
    this.heldBytes += bytes;
    this.jobs.set(id, { view: { id, kind, state: 'queued', progress: { done: 0, total: inputs.length }, createdAt: new Date().toISOString() }, inputs, owner: options.owner, idempotency });
    if (idempotency !== undefined) this.byKey.set(idempotency, id);
    this.pending.push(id);
    this.pump();
    return id;
  }

  async get(id: string, owner?: string): Promise<JobView | undefined> {
    const entry = this.jobs.get(id);
    return entry && entry.owner === owner ? { ...entry.view } : undefined;
  }

  async remove(id: string, owner?: string): Promise<RemoveOutcome> {
    const entry = this.jobs.get(id);
    if (!entry || entry.owner !== owner) return 'missing';
    if (entry.view.state === 'running') return 'running';
    const queued = this.pending.indexOf(id);
    if (queued >= 0) this.pending.splice(queued, 1);
    this.release(entry);
    this.forget(entry);
    return 'removed';
  }

  ready(): boolean {
    return !this.closed;
  }

  queuedBytes(): number {
    return this.heldBytes;
  }

  /** Drop a job's uploads (once) and their bytes from the budget. */
  private release(entry: Entry): void {
    this.heldBytes -= inputBytes(entry.inputs);
    entry.inputs = [];
  }

  private forget(entry: Entry): void {
    clearTimeout(entry.expiry);
    this.jobs.delete(entry.view.id);
    if (entry.idempotency !== undefined && this.byKey.get(entry.idempotency) === entry.view.id) this.byKey.delete(entry.idempotency);
  }

  subscribe(id: string, listener: (view: JobView) => void): () => void {
    return this.listeners.add(id, listener);
  }

  private notify(entry: Entry): void {
    this.listeners.notify(entry.view);
  }

  private pump(): void {
    while (!this.closed && this.active.size < this.concurrency && this.pending.length > 0) {
      const entry = this.jobs.get(this.pending.shift()!);
      if (!entry) continue;
      const running = this.run(entry).finally(() => {
        this.active.delete(running);
        this.pump();
      });
      this.active.add(running);
    }
  }

  private async run(entry: Entry): Promise<void> {
    const { view } = entry;
    view.state = 'running';
    this.notify(entry);
    try {
      view.result = await JOB_KINDS.get(view.kind)!.run({
        inputs: entry.inputs,
        analyze: this.analysers.analyze,
        analyzeVideo: this.analysers.analyzeVideo,
        parallel: this.analysers.parallel,
        progress: async (progress) => { view.progress = progress; this.notify(entry); },
      });
      view.state = 'completed';
    } catch (err) {
      view.state = 'failed';
      view.error = errorJson(err, () => ({ code: 'INTERNAL', message: 'the job failed (see the server log)' }));
      if (!(err instanceof EmolensError)) process.stderr.write(`emolens api: job ${view.id} failed: ${(err as Error)?.stack ?? err}\n`);
    }
    // Uploaded bytes are released the moment the job ends; only the result is kept, and only for the TTL.
    this.release(entry);
    const now = Date.now();
    view.finishedAt = new Date(now).toISOString();
    view.expiresAt = new Date(now + this.options.resultTtlMs).toISOString();
    if (this.closed) return;
    this.notify(entry);
    entry.expiry = setTimeout(() => this.forget(entry), this.options.resultTtlMs).unref();
  }

  /**
   * Drop queued jobs and every result, then wait for the running jobs to end, so their temp files are gone when
   * this resolves. Close the pool meanwhile (the server does), or a running video finishes first.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const entry of this.jobs.values()) clearTimeout(entry.expiry);
    this.jobs.clear();
    this.byKey.clear();
    this.pending.length = 0;
    this.listeners.clear();
    await Promise.allSettled([...this.active]);
  }
}
