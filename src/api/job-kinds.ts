/**
 * What a job can be: a registry of job kinds by name, shared by the in-process runner and `emolens worker`, so a
 * kind added here runs on either backend unchanged. A kind names the multipart field its files come in, and turns
 * its inputs into a JSON result through the analyse function it is handed (a worker-thread pool in both backends),
 * reporting progress as it goes.
 *
 * Today: `images` (several photos → exactly the document `emolens analyze --json` prints for them).
 * Next: `video` (field `video`), added by the video analysis (issue 9) with `JOB_KINDS.set('video', …)` here;
 * until then the server answers 415 to a video upload.
 */
import type { AnalysisResult } from '../types.js';
import { imageEntry, imageErrorEntry } from '../report/serialize.js';

/** One uploaded file of a job. */
export interface JobInput { name: string; bytes: Uint8Array }

export interface JobProgress { done: number; total: number }

export interface JobContext {
  inputs: JobInput[];
  /** Analyse one encoded image off the event loop. */
  analyze(bytes: Uint8Array): Promise<AnalysisResult>;
  /** Report progress (forwarded to GET /v1/jobs/:id and its event stream). */
  progress(progress: JobProgress): Promise<void>;
}

export interface JobKind {
  /** The multipart field that carries this kind's files (several files may share it). */
  field: string;
  /** The most files one job of this kind takes (the server's --max-job-files caps it further). */
  maxFiles: number;
  /** Content types accepted for its files (a prefix ending in / matches a family, e.g. "image/"). */
  accepts: string[];
  run(ctx: JobContext): Promise<unknown>;
}

/** Several images, analysed one after the other: a bad image is reported in its entry, as the CLI does. */
const IMAGES: JobKind = {
  field: 'image',
  maxFiles: 1000,
  accepts: ['image/', 'application/octet-stream'],
  async run({ inputs, analyze, progress }) {
    const images: unknown[] = [];
    await progress({ done: 0, total: inputs.length });
    for (const input of inputs) {
      try {
        images.push(imageEntry(input.name, await analyze(input.bytes)));
      } catch (err) {
        images.push(imageErrorEntry(input.name, err));
      }
      await progress({ done: images.length, total: inputs.length });
    }
    return { images };
  },
};

export const JOB_KINDS = new Map<string, JobKind>([['images', IMAGES]]);

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
