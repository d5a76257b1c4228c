/**
 * Jobs: uploads analysed in the background, behind one interface with two backends.
 * - InProcessJobs (the default): a bounded FIFO in this process, run on the server's own worker-thread pool;
 *   inputs live in memory only (a video's also in a temp file while it runs) and are dropped when the job ends;
 *   a finished job is deleted after the TTL.
 * - BullMqJobs (`--redis`, jobs-bullmq.ts): the same jobs on BullMQ, taken by `emolens worker` processes.
 * What a job does is its kind's business (job-kinds.ts), so both backends run every kind the same way.
 */
import { randomUUID } from 'node:crypto';
import { EmolensError, UsageError } from '../errors.js';
import { ApiError, OverloadedError } from './errors.js';
import { JOB_KINDS, type JobAnalysers, type JobInput, type JobProgress } from './job-kinds.js';

export type JobState = 'queued' | 'running' | 'completed' | 'failed';

/** What GET /v1/jobs/:id answers. */
export interface JobView {
  id: string;
  kind: string;
  state: JobState;
  progress: JobProgress;
  /** The kind's result (images: the `emolens analyze --json` document), once completed. */
  result?: unknown;
  error?: { code: string; message: string };
  createdAt: string;
  finishedAt?: string;
  /** When the finished job and its result are deleted. */
  expiresAt?: string;
}

export interface JobQueue {
  readonly backend: 'in-process' | 'redis';
  /** Queue a job; resolves to its id. @throws OverloadedError when too many jobs are waiting. */
  add(kind: string, inputs: JobInput[]): Promise<string>;
  /** The job's state, or undefined when there is no such job (never was, or expired). */
  get(id: string): Promise<JobView | undefined>;
  /** `listener` gets the job's view on every change (progress, start, end); returns the unsubscribe. */
  subscribe(id: string, listener: (view: JobView) => void): () => void;
  close(): Promise<void>;
}

export interface JobQueueOptions {
  /** Jobs waiting to start beyond which add() is refused (503). */
  maxPending: number;
  /** How long a finished job can be read. */
  resultTtlMs: number;
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

interface Entry { view: JobView; inputs: JobInput[]; expiry?: NodeJS.Timeout }

export class InProcessJobs implements JobQueue {
  readonly backend = 'in-process' as const;
  private readonly jobs = new Map<string, Entry>();
  private readonly pending: string[] = [];
  private readonly listeners = new JobListeners();
  /** The jobs running now, so close() can wait until each has cleaned up (a video's temp file). */
  private readonly active = new Set<Promise<void>>();
  private closed = false;

  /**
   * @param analysers analyse images and videos off the event loop (the server's pool, unbounded: jobs are bounded here)
   * @param concurrency jobs run at once; 1 keeps /v1/analyze responsive while a long job runs
   */
  constructor(private readonly analysers: JobAnalysers, private readonly options: JobQueueOptions, private readonly concurrency = 1) {}

  async add(kind: string, inputs: JobInput[]): Promise<string> {
    if (this.closed) throw new ApiError(503, 'SHUTTING_DOWN', 'the server is shutting down', 1);
    if (!JOB_KINDS.has(kind)) throw new UsageError(`unknown job kind: ${kind}`);
    if (this.pending.length >= this.options.maxPending) throw new OverloadedError(`${this.pending.length} jobs are waiting; retry later`, 5);
    const id = newJobId();
    this.jobs.set(id, { view: { id, kind, state: 'queued', progress: { done: 0, total: inputs.length }, createdAt: new Date().toISOString() }, inputs });
    this.pending.push(id);
    this.pump();
    return id;
  }

  async get(id: string): Promise<JobView | undefined> {
    const entry = this.jobs.get(id);
    return entry ? { ...entry.view } : undefined;
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
        progress: async (progress) => { view.progress = progress; this.notify(entry); },
      });
      view.state = 'completed';
    } catch (err) {
      view.state = 'failed';
      view.error = err instanceof EmolensError ? { code: err.code, message: err.message } : { code: 'INTERNAL', message: 'the job failed (see the server log)' };
      if (!(err instanceof EmolensError)) process.stderr.write(`emolens api: job ${view.id} failed: ${(err as Error)?.stack ?? err}\n`);
    }
    // Uploaded bytes are released the moment the job ends; only the result is kept, and only for the TTL.
    entry.inputs = [];
    const now = Date.now();
    view.finishedAt = new Date(now).toISOString();
    view.expiresAt = new Date(now + this.options.resultTtlMs).toISOString();
    if (this.closed) return;
    this.notify(entry);
    entry.expiry = setTimeout(() => this.jobs.delete(view.id), this.options.resultTtlMs).unref();
  }

  /**
   * Drop queued jobs and every result, then wait for the running jobs to end, so their temp files are gone when
   * this resolves. Close the pool meanwhile (the server does), or a running video finishes first.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const entry of this.jobs.values()) clearTimeout(entry.expiry);
    this.jobs.clear();
    this.pending.length = 0;
    this.listeners.clear();
    await Promise.allSettled([...this.active]);
  }
}
