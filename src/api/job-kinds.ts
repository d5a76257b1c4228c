/**
 * What a job can be: a registry of job kinds by name, shared by the in-process runner and `emolens worker`, so a
 * kind added here runs on either backend unchanged. A kind names the multipart field its files come in, and turns
 * its inputs into a JSON result through the analyse function it is handed (a worker-thread pool in both backends),
 * reporting progress as it goes.
 *
 * Kinds: `images` (several photos, analysed `parallel` at a time → exactly the document `emolens analyze --json`
 * prints for them) and `video`
 * (one video → exactly the document `emolens video --json` prints for it). ffmpeg reads files, so a video's bytes
 * are written to a private temp file on the machine that runs the job (the API server, or the `emolens worker`
 * that took it from Redis) and deleted when the job ends, however it ends.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AnalysisResult } from '../types.js';
import { inputErrorEntry } from '../result/error.js';
import { imageEntry } from '../result/image.js';
import type { JobProgress } from '../result/job.js';
import { checkVideoSignature } from './errors.js';

/** One uploaded file of a job. */
export interface JobInput { name: string; bytes: Uint8Array }


export interface JobContext {
  inputs: JobInput[];
  /** Analyse one encoded image off the event loop. */
  analyze(bytes: Uint8Array): Promise<AnalysisResult>;
  /** Analyse the video file at `path` off the event loop → the `emolens video <name> --json` document. */
  analyzeVideo(path: string, name: string, onProgress: (progress: JobProgress) => void): Promise<unknown>;
  /** Report progress (forwarded to GET /v1/jobs/:id and its event stream). */
  progress(progress: JobProgress): Promise<void>;
  /**
   * How many of the job's images may be analysed at once (default 1): the API server's pool size for in-process
   * jobs, so one job uses every inference worker; 1 in `emolens worker`, where each job has its own thread.
   */
  parallel?: number;
}

/** What runs a job's analyses (the worker-thread pool of the API server or of `emolens worker`). */
export type JobAnalysers = Pick<JobContext, 'analyze' | 'analyzeVideo' | 'parallel'>;

export interface JobKind {
  /** The multipart field that carries this kind's files (several files may share it). */
  field: string;
  /** The most files one job of this kind takes (the server's --max-job-files caps it further). */
  maxFiles: number;
  /** Content types accepted for its files (a prefix ending in / matches a family, e.g. "image/"). */
  accepts: string[];
  /** Refuse a file at upload time (a typed error → 4xx), before the job is queued. */
  check?(input: JobInput): void;
  run(ctx: JobContext): Promise<unknown>;
}

/**
 * Several images, `parallel` at a time, their entries in upload order: a bad image is reported in its entry, as the
 * CLI does.
 */
const IMAGES: JobKind = {
  field: 'image',
  maxFiles: 1000,
  accepts: ['image/', 'application/octet-stream'],
  async run({ inputs, analyze, progress, parallel = 1 }) {
    const images: unknown[] = new Array(inputs.length);
    let next = 0;
    let done = 0;
    await progress({ done: 0, total: inputs.length });
    const lane = async (): Promise<void> => {
      while (next < inputs.length) {
        const input = inputs[next];
        const at = next++;
        try {
          images[at] = imageEntry(input.name, await analyze(input.bytes));
        } catch (err) {
          images[at] = inputErrorEntry(input.name, err);
        }
        await progress({ done: ++done, total: inputs.length });
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel, inputs.length)) }, lane));
    return { images };
  },
};

/** Upload folders are named `emolens-upload-<pid>-<random>`, so a sweep can tell a dead process's from a live one's. */
const UPLOAD_DIR_PREFIX = 'emolens-upload-';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Delete the upload folders in the temp directory of processes that no longer run (a worker or server killed with
 * SIGKILL mid-video cannot delete its own). Run at start-up; resolves to the number deleted.
 */
export async function sweepUploadDirs(dir = tmpdir()): Promise<number> {
  let swept = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = /^emolens-upload-(\d+)-/.exec(name)?.[1];
    if (!pid || Number(pid) === process.pid || alive(Number(pid))) continue;
    await rm(join(dir, name), { recursive: true, force: true }).then(() => swept++, () => {});
  }
  return swept;
}

/**
 * `fn(path)` with `input`'s bytes in a fresh private file (a mkdtemp folder, the file mode 0600; named by us, never
 * by the client), removed with its folder when `fn` settles.
 */
export async function withPrivateFile<T>(input: JobInput, fn: (path: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), `${UPLOAD_DIR_PREFIX}${process.pid}-`));
  try {
    const path = join(dir, 'upload');
    await writeFile(path, input.bytes, { mode: 0o600, flag: 'wx' });
    return await fn(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One video, on one inference worker for its whole length; a bad or oversized video fails the job with its code. */
const VIDEO: JobKind = {
  field: 'video',
  maxFiles: 1,
  accepts: ['video/', 'application/octet-stream'],
  check: (input) => checkVideoSignature(input.bytes, input.name),
  async run({ inputs, analyzeVideo, progress }) {
    const [input] = inputs;
    // Again here: a worker taking the job from Redis must not trust what another process checked.
    checkVideoSignature(input.bytes, input.name);
    return withPrivateFile(input, (path) => analyzeVideo(path, input.name, (p) => {
      progress(p).catch(() => {}); // progress is best effort: a lost update must not fail the job
    }));
  },
};

export const JOB_KINDS = new Map<string, JobKind>([['images', IMAGES], ['video', VIDEO]]);

/** The kind whose files come in multipart field `field`, if there is one. */
export function kindForField(field: string): [string, JobKind] | undefined {
  for (const entry of JOB_KINDS) if (entry[1].field === field) return entry;
  return undefined;
}

/** Whether a part's content type is one the kind takes. */
export function accepts(kind: JobKind, contentType: string): boolean {
  const type = contentType.split(';')[0].trim().toLowerCase();
  return kind.accepts.some((a) => (a.endsWith('/') ? type.startsWith(a) : type === a));
}
