/**
 * An API job as `GET /v1/jobs/:id` and its event stream give it. Its `result` is another result of this folder:
 * an images job's the `emolens analyze --json` document (image.ts, error.ts), a video job's the `emolens video
 * --json` document (video.ts). Pure types.
 */
import type { ErrorJson } from './error.js';

export type JobState = 'queued' | 'running' | 'completed' | 'failed';

/** images: files done / files; video: frames analysed / frames expected at the analysis rate. */
export interface JobProgress { done: number; total: number }

/** What GET /v1/jobs/:id answers. */
export interface JobView {
  id: string;
  kind: string;
  state: JobState;
  progress: JobProgress;
  /** The kind's result (images: the `emolens analyze --json` document), once completed. */
  result?: unknown;
  error?: ErrorJson;
  createdAt: string;
  finishedAt?: string;
  /** When the finished job and its result are deleted. */
  expiresAt?: string;
}
