/**
 * Videos generated with ffmpeg from the sample photos (test/helpers/fixtures.ts SAMPLE_PHOTOS), for the video
 * tests and `npm run bench:video`: face crops composited over a plain background, each moving along its own
 * path and shown between its own times (faces that move, appear and disappear), optionally with an audio tone.
 * The crops are cut around boxes the detector finds in those photos (tiles off), with a margin around the face.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import sharp from 'sharp';
import { videoTools } from '../../src/video/ffmpeg.js';
import { SAMPLE_PHOTOS } from './fixtures.js';

/** Six faces, one per sample photo: [photo index, x, y, box side] of a detected face (label in the comment). */
export const SAMPLE_FACES: ReadonlyArray<readonly [number, number, number, number]> = [
  [0, 418, 408, 191], // neutral
  [1, 1457, 196, 197], // sad
  [2, 1065, 259, 248], // happy
  [3, 676, 127, 165], // neutral
  [4, 1418, 440, 210], // fear
  [5, 1151, 353, 230], // sad
];

export interface ClipFace {
  /** Index into SAMPLE_FACES. */
  face: number;
  /** Side of the square crop in the video (px); the face itself is about 1/1.6 of it. */
  size: number;
  /** Top-left corner: ffmpeg overlay expressions in `t` (seconds), e.g. "40+60*t". */
  x: string;
  y: string;
  /** Shown between these times (s); always when absent. */
  from?: number;
  to?: number;
}

export interface ClipSpec {
  out: string;
  width: number;
  height: number;
  fps: number;
  durationS: number;
  faces: ClipFace[];
  /** Add a 440 Hz tone as an AAC track (H.264 only). */
  audio?: boolean;
  /** 'vp8': VP8 in WebM, which every Chromium decodes (Debian's has no proprietary codecs). Default H.264/MP4. */
  codec?: 'h264' | 'vp8';
}

/** Cut the crops `spec` needs into `dir` (PNG). */
async function writeCrops(spec: ClipSpec, dir: string): Promise<string[]> {
  return Promise.all(spec.faces.map(async (f, k) => {
    const [photo, x, y, side] = SAMPLE_FACES[f.face];
    const crop = Math.round(side * 1.6);
    const meta = await sharp(SAMPLE_PHOTOS[photo]).metadata();
    const left = Math.max(0, Math.min(meta.width! - crop, Math.round(x + side / 2 - crop / 2)));
    const top = Math.max(0, Math.min(meta.height! - crop, Math.round(y + side / 2 - crop / 2)));
    const path = join(dir, `face-${k}.png`);
    await sharp(SAMPLE_PHOTOS[photo]).extract({ left, top, width: crop, height: crop }).resize(f.size, f.size).png().toFile(path);
    return path;
  }));
}

/** Encode the clip (H.264 in MP4, moov atom first so a truncated copy still probes). Returns `spec.out`. */
export async function makeClip(spec: ClipSpec, workDir: string): Promise<string> {
  const crops = await writeCrops(spec, workDir);
  const { ffmpeg } = videoTools();
  const args = ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', `color=c=0x2b3a4a:s=${spec.width}x${spec.height}:r=${spec.fps}:d=${spec.durationS}`];
  for (const crop of crops) args.push('-loop', '1', '-framerate', String(spec.fps), '-i', crop);
  if (spec.audio) args.push('-f', 'lavfi', '-i', `sine=frequency=440:duration=${spec.durationS}`);
  const chain: string[] = [];
  let last = '0:v';
  spec.faces.forEach((f, k) => {
    const enable = f.from !== undefined || f.to !== undefined ? `:enable='between(t,${f.from ?? 0},${f.to ?? spec.durationS})'` : '';
    chain.push(`[${last}][${k + 1}:v]overlay=x='${f.x}':y='${f.y}':shortest=1${enable}[v${k}]`);
    last = `v${k}`;
  });
  args.push('-filter_complex', chain.length ? chain.join(';') : `[0:v]null[v]`, '-map', `[${chain.length ? last : 'v'}]`);
  if (spec.audio) args.push('-map', `${crops.length + 1}:a`, '-c:a', 'aac', '-b:a', '64k');
  args.push('-t', String(spec.durationS));
  if (spec.codec === 'vp8') args.push('-c:v', 'libvpx', '-b:v', '2M', '-deadline', 'realtime', '-cpu-used', '8', '-pix_fmt', 'yuv420p', '-g', String(spec.fps), spec.out);
  else args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', String(spec.fps), '-movflags', '+faststart', spec.out);
  const r = spawnSync(ffmpeg.path, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffmpeg could not make ${spec.out}: ${r.stderr}`);
  return spec.out;
}

/** The benchmark clip of issue 9: 1280x720, 25 fps, six faces in a 3x2 grid, each drifting on its own path. */
export function benchClipSpec(out: string, durationS = 24): ClipSpec {
  const faces: ClipFace[] = SAMPLE_FACES.map((_, k) => {
    const col = k % 3;
    const row = Math.floor(k / 3);
    const x0 = 70 + col * 410;
    const y0 = 40 + row * 340;
    return { face: k, size: 260, x: `${x0}+50*sin(0.7*t+${k})`, y: `${y0}+25*cos(0.5*t+${k})` };
  });
  return { out, width: 1280, height: 720, fps: 25, durationS, faces, audio: true };
}
