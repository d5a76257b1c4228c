/**
 * Video file → a stream of RGBA frames at a chosen rate, through a pipe from ffmpeg: one frame in memory at a
 * time (the pipe applies back-pressure: ffmpeg waits while a frame is analysed), nothing written to disk, so
 * memory stays flat however long the video. Frame k is at t = k / fps: ffmpeg's `fps` filter puts the frames on
 * that grid (the source frame shown at that moment), which also makes variable-frame-rate sources regular.
 * Decoding problems surface after the frames that did decode: a truncated file yields what is there, then throws.
 * Node-only.
 */
import { spawn } from 'node:child_process';
import type { Frame } from '../track/frames.js';
import { InvalidVideoError } from './errors.js';
import { lastErrorLine, type Binary } from './ffmpeg.js';
import { FfmpegNotFoundError } from './errors.js';

export interface DecodeOptions {
  /** Output size in px (the probed display size; frames are scaled to it, so a mid-stream size change is safe). */
  width: number;
  height: number;
  /** Frames per second to decode at. */
  fps: number;
  /** Stop after this many seconds of video (ffmpeg `-t`). */
  durationS?: number;
  /** The video's duration (probed): a stream that ends well before it is reported as truncated. */
  expectedDurationS?: number;
  /** Stops decoding (the generator returns quietly; the caller says why). */
  signal?: AbortSignal;
}

/** The ffmpeg arguments for `decodeFrames` (exported for the docs' "what runs" and for tests). */
export function decodeArgs(file: string, options: DecodeOptions): string[] {
  const limit = options.durationS !== undefined ? ['-t', String(options.durationS)] : [];
  return [
    '-hide_banner', '-nostdin', '-v', 'error',
    ...limit, '-i', file,
    '-map', '0:v:0', '-an', '-sn', '-dn',
    '-vf', `fps=${options.fps},scale=${options.width}:${options.height}`,
    '-f', 'rawvideo', '-pix_fmt', 'rgba', 'pipe:1',
  ];
}

/**
 * Decode `file` with `ffmpeg` into frames `{ tMs, image }` at `options.fps`.
 * @throws InvalidVideoError after the last good frame when ffmpeg fails or the stream ends early (truncated).
 */
export async function* decodeFrames(file: string, ffmpeg: Binary, options: DecodeOptions): AsyncGenerator<Frame> {
  const { width, height, fps, signal } = options;
  const frameBytes = width * height * 4;
  // Own process group: Ctrl+C in a terminal reaches emolens only, which then stops ffmpeg itself after writing
  // what is done (ffmpeg would otherwise exit on the same SIGINT and look like a broken file).
  const child = spawn(ffmpeg.path, decodeArgs(file, options), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
    if (stderr.length > 64_000) stderr = stderr.slice(-16_000); // a broken file can print an error per packet
  });
  let spawnError: NodeJS.ErrnoException | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('error', (err: NodeJS.ErrnoException) => { spawnError = err; resolve({ code: null, signal: null }); });
    child.on('close', (code, sig) => resolve({ code, signal: sig }));
  });
  const stop = () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); };
  signal?.addEventListener('abort', stop, { once: true });

  let frame = new Uint8Array(frameBytes);
  let filled = 0;
  let index = 0;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      let offset = 0;
      while (offset < chunk.length) {
        const n = Math.min(frameBytes - filled, chunk.length - offset);
        frame.set(chunk.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        if (filled === frameBytes) {
          yield { tMs: (index * 1000) / fps, image: { data: frame, width, height } };
          if (signal?.aborted) return;
          index++;
          // A fresh buffer per frame: the consumer may still hold the previous one (annotation, thumbnails).
          frame = new Uint8Array(frameBytes);
          filled = 0;
        }
      }
    }
    const { code } = await exited;
    if (signal?.aborted) return;
    if (spawnError) {
      throw spawnError.code === 'ENOENT' ? new FfmpegNotFoundError('ffmpeg', `${ffmpeg.path} (${ffmpeg.source})`) : spawnError;
    }
    const decodedS = index / fps;
    const why = lastErrorLine(stderr).split(`${file}: `).join(''); // ffmpeg prefixes the path we already print
    if (code !== 0) {
      throw new InvalidVideoError(file, `decoding failed at ${decodedS.toFixed(1)} s${why ? `: ${why}` : ''}`);
    }
    const expected = options.durationS !== undefined && options.expectedDurationS !== undefined
      ? Math.min(options.durationS, options.expectedDurationS)
      : options.expectedDurationS;
    // Frame-grid rounding and container durations that count the last frame differently cost up to a couple of
    // frames; a real truncation loses far more.
    const tolerance = Math.max(1, 2 / fps, (expected ?? 0) * 0.05);
    if (filled > 0 || (expected !== undefined && decodedS + 1 / fps < expected - tolerance)) {
      throw new InvalidVideoError(file, `truncated: decoded ${decodedS.toFixed(1)} s of ${(expected ?? decodedS).toFixed(1)} s${why ? ` (${why})` : ''}`);
    }
  } finally {
    signal?.removeEventListener('abort', stop);
    stop();
    child.stdout.destroy();
  }
}
