/**
 * The analyzer's flags, declared once for every command that runs the analyzer (analyze, explain, demo, video, api,
 * worker): their names, their help texts with the defaults taken from the constants the library applies, and their
 * parsing into CreateAnalyzerOptions. A command picks which flags it offers; its scope says whose defaults they
 * show. Nothing here applies a default: a flag left out stays undefined and the library (or the API server) decides.
 */
import type { Command } from 'commander';
import { DEFAULT_LIMITS } from '../api/errors.js';
import { DEFAULT_DETECT_OPTIONS } from '../detect/blazeface.js';
import { DEFAULT_DETECTOR_MODEL, DEFAULT_EMOTION_MODEL } from '../env/models.js';
import { DEFAULT_MAX_PIXELS } from '../image/rgba.js';
import type { CreateAnalyzerOptions } from '../node.js';
import { DEFAULT_MAX_VIDEO_PIXELS } from '../video/probe.js';
import { parseNumber, parseTiles } from './common.js';

/** The analyzer's flags, as commander hands them over (strings; analyzerOptionsFrom validates them). */
export interface AnalyzerFlags {
  model: string;
  detector?: string;
  minScore?: string;
  maxFaces?: string;
  maxPixels?: string;
  tiles?: string;
  threads?: string;
}

export type AnalyzerFlag = keyof AnalyzerFlags;

/**
 * Whose defaults the help shows: 'photos' (analyze, explain, demo: the library's), 'video' (video: per frame, and
 * --max-pixels is the video's frame limit), 'server' (api, worker: the API's limits, threads per worker).
 */
export type AnalyzerScope = 'photos' | 'video' | 'server';

/** The `--model` option of every command that classifies faces: flags, help text and the bundled default. */
export const MODEL_OPTION = [
  '--model <name|path>',
  'emotion model: a bundled name or an .onnx file with its .json beside it',
  DEFAULT_EMOTION_MODEL,
] as const;

type OptionArgs = readonly [flags: string, description: string, defaultValue?: string];

function optionArgs(flag: AnalyzerFlag, scope: AnalyzerScope): OptionArgs {
  const server = scope === 'server';
  const per = scope === 'video' ? 'frame' : 'image';
  switch (flag) {
    case 'model': return MODEL_OPTION;
    case 'detector': return ['--detector <name|path>', `face detector model: a bundled name or an .onnx file with its .json beside it (default ${DEFAULT_DETECTOR_MODEL})`];
    case 'minScore': return ['--min-score <0..1>', `drop detections scoring below this (default ${DEFAULT_DETECT_OPTIONS.minScore})`];
    case 'maxFaces': return ['--max-faces <n>', `at most this many faces per ${per}, best first (default ${server ? DEFAULT_LIMITS.maxFaces : DEFAULT_DETECT_OPTIONS.maxFaces})`];
    case 'maxPixels':
      return scope === 'video'
        ? ['--max-pixels <n>', `refuse videos with more pixels per frame (default ${DEFAULT_MAX_VIDEO_PIXELS} = 7680x4320)`]
        : ['--max-pixels <n>', `refuse images larger than this many pixels, checked before decoding (default ${server ? DEFAULT_LIMITS.maxPixels : DEFAULT_MAX_PIXELS})`];
    case 'tiles': return ['--tiles <auto|off|px>', `extra detector passes on tiles to find small faces in large photos (default ${DEFAULT_DETECT_OPTIONS.tiles})`];
    case 'threads': return ['--threads <n>', server ? 'ONNX Runtime threads per worker (default: cores / workers, at least 1)' : 'ONNX Runtime threads (default: all cores)'];
  }
}

/** Add the analyzer flags `flags` to `command`, in that order, with `scope`'s help texts. */
export function addAnalyzerOptions(command: Command, scope: AnalyzerScope, flags: readonly AnalyzerFlag[]): Command {
  for (const flag of flags) {
    const [name, description, defaultValue] = optionArgs(flag, scope);
    command.option(name, description, defaultValue);
  }
  return command;
}

/** Build the analyzer options from the flags (validated: bad values are UsageErrors, exit 2). */
export function analyzerOptionsFrom(flags: AnalyzerFlags): CreateAnalyzerOptions {
  const options: CreateAnalyzerOptions = { model: flags.model };
  if (flags.detector) options.detectorModel = flags.detector;
  if (flags.minScore !== undefined) options.minFaceScore = parseNumber('--min-score', flags.minScore, { min: 0, max: 1 });
  if (flags.maxFaces !== undefined) options.maxFaces = parseNumber('--max-faces', flags.maxFaces, { min: 1, integer: true });
  if (flags.maxPixels !== undefined) options.maxPixels = parseNumber('--max-pixels', flags.maxPixels, { min: 1 });
  if (flags.threads !== undefined) options.threads = parseNumber('--threads', flags.threads, { min: 1, max: 256, integer: true });
  if (flags.tiles !== undefined) options.detector = { tiles: parseTiles(flags.tiles) };
  return options;
}
