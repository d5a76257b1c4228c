/**
 * Annotated video out: each analysed frame with its faces drawn (report/annotate.ts's SVG overlay: boxes in the
 * palette's colours, "#id emotion %" labels, probability bars) is piped as raw RGBA into ffmpeg, which encodes
 * H.264 and copies the source's audio (`-map 1:a?`: none is fine). The output runs at the analysis rate.
 * Node-only; draws nothing itself beyond calling the annotator.
 */
import { spawn } from 'node:child_process';
import sharp from 'sharp';
import { annotationSvg, type AnnotatedFace } from '../report/annotate.js';
import type { RgbaImage } from '../types.js';
import { InvalidVideoError } from './errors.js';
import { lastErrorLine, type Binary } from './ffmpeg.js';

export interface EncoderOptions {
  width: number;
  height: number;
  fps: number;
  /** The source video, whose audio is kept. */
  audioFrom?: string;
}

export interface AnnotatedVideoWriter {
  /** Draw `faces` on `image` and append it. */
  frame(image: RgbaImage, faces: readonly AnnotatedFace[]): Promise<void>;
  /** Finish the file (waits for ffmpeg). */
  close(): Promise<void>;
}

export function encodeArgs(out: string, options: EncoderOptions): string[] {
  const audio = options.audioFrom ? ['-i', options.audioFrom, '-map', '0:v', '-map', '1:a?', '-c:a', 'aac', '-shortest'] : ['-map', '0:v'];
  return [
    '-hide_banner', '-nostdin', '-v', 'error', '-y',
    '-f', 'rawvideo', '-pix_fmt', 'rgba', '-s', `${options.width}x${options.height}`, '-r', String(options.fps), '-i', 'pipe:0',
    ...audio,
    // yuv420p (what players expect) needs even sides.
    '-vf', 'scale=trunc(iw/2)*2:trunc(ih/2)*2', '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-movflags', '+faststart',
    out,
  ];
}

export function writeAnnotatedVideo(out: string, ffmpeg: Binary, options: EncoderOptions): AnnotatedVideoWriter {
  const child = spawn(ffmpeg.path, encodeArgs(out, options), { stdio: ['pipe', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString('utf8')).slice(-16_000); });
  let failure: Error | undefined;
  child.stdin.on('error', (err) => { failure ??= err; });
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', (err) => { failure ??= err; resolve(null); });
    child.on('close', (code) => resolve(code));
  });
  return {
    async frame(image, faces) {
      if (failure) return;
      const svg = annotationSvg({ faces }, image.width, image.height, 1, faces.length > 0);
      const pixels = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 4 } })
        .composite([{ input: Buffer.from(svg), top: 0, left: 0 }]).raw().toBuffer();
      if (!child.stdin.write(pixels)) {
        // Back-pressure: wait for ffmpeg to take the frame (or to have died: close() reports why).
        await new Promise<void>((resolve) => {
          const done = () => { child.stdin.off('drain', done); child.off('close', done); resolve(); };
          child.stdin.once('drain', done);
          child.once('close', done);
        });
      }
    },
    async close() {
      child.stdin.end();
      const code = await exited;
      if (code !== 0) throw new InvalidVideoError(out, `could not write the annotated video${failure ? `: ${failure.message}` : ''}${lastErrorLine(stderr) ? ` (${lastErrorLine(stderr)})` : ''}`);
    },
  };
}
