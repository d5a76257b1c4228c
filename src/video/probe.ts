/**
 * What a video file is, before any frame is decoded: ffprobe's answer reduced to the figures analysis needs
 * (display size after rotation, frame rate, duration, audio), and the checks that turn a bad input into one typed
 * error line — missing, empty, not a video (an image, a text file), audio only, no frames, over the size or
 * duration limit. Node-only.
 */
import { statSync } from 'node:fs';
import { InputNotFoundError } from '../errors.js';
import type { VideoHead } from '../result/video.js';
import { InvalidVideoError, VideoTooLargeError } from './errors.js';
import { lastErrorLine, runBinary, type Binary } from './ffmpeg.js';

/** 8K UHD: anything larger is refused before decoding (one RGBA frame of it is already 133 MB). */
export const DEFAULT_MAX_VIDEO_PIXELS = 7680 * 4320;
/** Four hours: longer files are refused unless `maxDurationS` says otherwise. */
export const DEFAULT_MAX_DURATION_S = 4 * 3600;

/** The head of the video's document (file, display size after rotation, the source's frame rate, duration) and more. */
export interface VideoInfo extends VideoHead {
  hasAudio: boolean;
  codec: string;
  /** ffprobe's container name, e.g. "mov,mp4,m4a,3gp,3g2,mj2". */
  format: string;
}

export interface ProbeLimits {
  maxPixels?: number;
  maxDurationS?: number;
}

interface ProbeStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  duration?: string;
  nb_frames?: string;
  disposition?: { attached_pic?: number };
  tags?: { rotate?: string };
  side_data_list?: Array<{ rotation?: number }>;
}

interface ProbeJson {
  streams?: ProbeStream[];
  format?: { format_name?: string; duration?: string };
}

/** Containers ffmpeg reads still images with: a photo is not a video even though it has a "video" stream. */
const IMAGE_FORMATS = /^(image2|\w+_pipe|gif|webp|apng)$/;

function rate(text: string | undefined): number {
  if (!text) return NaN;
  const [n, d] = text.split('/').map(Number);
  return d === undefined ? n : d > 0 ? n / d : NaN;
}

/**
 * Probe `file` with ffprobe and check it against `limits`.
 * @throws InputNotFoundError, InvalidVideoError (empty, not a video, audio only, no frames), VideoTooLargeError,
 *   FfmpegNotFoundError.
 */
export async function probeVideo(file: string, ffprobe: Binary, limits: ProbeLimits = {}): Promise<VideoInfo> {
  let size: number;
  try {
    const st = statSync(file);
    if (st.isDirectory()) throw new InvalidVideoError(file, 'is a folder, not a video file');
    size = st.size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new InputNotFoundError(file);
    throw err;
  }
  if (size === 0) throw new InvalidVideoError(file, 'empty file (0 bytes)');

  const { code, stdout, stderr } = await runBinary(ffprobe, ['-v', 'error', '-print_format', 'json', '-show_streams', '-show_format', '--', file], 'ffprobe');
  let json: ProbeJson = {};
  try {
    json = JSON.parse(stdout.toString('utf8') || '{}') as ProbeJson;
  } catch {
    // unreadable answer: treated as "not a video" below
  }
  if (code !== 0 || !json.format) {
    const why = lastErrorLine(stderr).replace(/^.*?:\s*(?=[A-Z])/, '');
    throw new InvalidVideoError(file, `not a video ffmpeg can read${why ? ` (${why})` : ''}`);
  }
  const format = json.format.format_name ?? '';
  const streams = json.streams ?? [];
  // Cover art in audio files is an "attached picture" video stream: not something to analyse.
  const video = streams.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  const hasAudio = streams.some((s) => s.codec_type === 'audio');
  if (!video) throw new InvalidVideoError(file, hasAudio ? 'audio only, no video stream' : 'no video stream');
  if (IMAGE_FORMATS.test(format)) throw new InvalidVideoError(file, `is a still image (${format}), not a video (use emolens analyze for photos)`);

  let width = video.width ?? 0;
  let height = video.height ?? 0;
  if (!(width > 0 && height > 0)) throw new InvalidVideoError(file, 'video stream has no frame size');
  const rotation = Number(video.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? video.tags?.rotate ?? 0);
  if (Math.abs(rotation) % 180 === 90) [width, height] = [height, width];

  const fps = [rate(video.avg_frame_rate), rate(video.r_frame_rate)].find((r) => Number.isFinite(r) && r > 0 && r <= 1000) ?? NaN;
  const duration = [Number(json.format.duration), Number(video.duration)].find((d) => Number.isFinite(d) && d > 0) ?? 0;
  if (!Number.isFinite(fps)) throw new InvalidVideoError(file, 'video stream has no frame rate');
  if (duration <= 0 || video.nb_frames === '0') throw new InvalidVideoError(file, 'zero-length video (no frames)');

  const maxPixels = limits.maxPixels ?? DEFAULT_MAX_VIDEO_PIXELS;
  if (width * height > maxPixels) {
    throw new VideoTooLargeError(file, `${width}x${height} is over the limit of ${maxPixels.toLocaleString('en-US')} pixels per frame (--max-pixels)`);
  }
  const maxDurationS = limits.maxDurationS ?? DEFAULT_MAX_DURATION_S;
  if (duration > maxDurationS) {
    throw new VideoTooLargeError(file, `${formatDuration(duration)} is longer than the limit of ${formatDuration(maxDurationS)} (--max-duration)`);
  }
  return { file, width, height, fps, duration, hasAudio, codec: video.codec_name ?? '?', format };
}

/** "1:02:03" / "4:05" / "12.3 s". */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}
