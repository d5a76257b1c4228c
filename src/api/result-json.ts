/**
 * The API's result shapes, which are the CLI's: one image is exactly one entry of `emolens analyze --json`'s
 * "images" array, and an images job's result is exactly that whole document. The face serialisation (rounding
 * included) is imported, never rebuilt here, so the API and the CLI cannot drift apart.
 */
// serializer: the one JSON shape of an analysis; point these imports at the shared serializer module (issue 8).
import { faceJson } from '../cli/analyze.js';
import { errorLine } from '../cli/common.js';
import type { AnalysisResult } from '../types.js';

/** One analysed image, as `emolens analyze --json` prints it (`file` only when the client named the upload). */
export function imageEntry(file: string | undefined, result: AnalysisResult): Record<string, unknown> {
  // serializer: same keys and order as the CLI's entry (src/cli/analyze.ts, `emit`).
  return { ...(file === undefined ? {} : { file }), width: result.width, height: result.height, faces: faceJson(result) };
}

/** One image that failed, as `emolens analyze --json` prints it. */
export function imageErrorEntry(file: string, error: unknown): Record<string, unknown> {
  // serializer: the CLI's `{ file, error, code }` entry.
  return { file, error: errorLine(error), code: (error as { code?: string }).code ?? 'ERROR' };
}

const point = { type: 'object', required: ['x', 'y'], properties: { x: { type: 'number' }, y: { type: 'number' } } } as const;

/** JSON schema of one image entry (documentation for OpenAPI; the body is the CLI's bytes, see server.ts). */
export const IMAGE_RESULT_SCHEMA = {
  $id: 'ImageResult',
  type: 'object',
  required: ['width', 'height', 'faces'],
  properties: {
    file: { type: 'string', description: 'the uploaded file name, when the upload had one' },
    width: { type: 'integer' },
    height: { type: 'integer' },
    faces: {
      type: 'array',
      items: {
        type: 'object',
        required: ['box', 'score', 'landmarks', 'emotions', 'dominant'],
        properties: {
          box: { type: 'object', required: ['x', 'y', 'width', 'height'], properties: { x: { type: 'number' }, y: { type: 'number' }, width: { type: 'number' }, height: { type: 'number' } } },
          score: { type: 'number' },
          landmarks: { type: 'object', properties: { rightEye: point, leftEye: point, nose: point, mouth: point, rightEar: point, leftEar: point } },
          emotions: { type: 'object', additionalProperties: { type: 'number' }, description: 'angry, disgust, fear, happy, neutral, sad, surprise: probabilities summing to 1' },
          dominant: { type: 'string' },
        },
      },
    },
  },
} as const;
