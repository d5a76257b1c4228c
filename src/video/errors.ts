/**
 * The typed errors of video analysis. Each is an EmolensError with one line of message, so the CLI prints
 * `error: <file>: <why>` and the API can switch on `code`.
 */
import { EmolensError } from '../errors.js';

/** ffmpeg or ffprobe could not be started. */
export class FfmpegNotFoundError extends EmolensError {
  constructor(what: 'ffmpeg' | 'ffprobe', detail: string) {
    const env = what === 'ffmpeg' ? 'EMOLENS_FFMPEG' : 'EMOLENS_FFPROBE';
    super('FFMPEG_NOT_FOUND', `${what} not found: ${detail} (reinstall emolens' dependencies, set ${env}=<path>, or put ${what} on PATH)`);
  }
}

/** Not a video, audio only, no frames, truncated or undecodable. */
export class InvalidVideoError extends EmolensError {
  constructor(file: string, reason: string) { super('INVALID_VIDEO', `${file}: ${reason}`); }
}

/** Resolution or duration beyond the documented limits (docs/video.md; `--max-pixels`, `--max-duration`). */
export class VideoTooLargeError extends EmolensError {
  constructor(file: string, reason: string) { super('VIDEO_TOO_LARGE', `${file}: ${reason}`); }
}

/** The run was stopped (Ctrl+C, or the caller's AbortSignal) before the end of the video. */
export class VideoInterruptedError extends EmolensError {
  constructor(file: string, atS: number) { super('INTERRUPTED', `${file}: interrupted at ${atS.toFixed(1)} s`); }
}
