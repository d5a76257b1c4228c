/**
 * The JSON schemas (for the OpenAPI document) of the results the HTTP API answers with: an image entry, an error
 * body, a job. They describe the shapes this folder builds (image.ts, error.ts, job.ts); the bodies themselves are
 * those builders' bytes, not a re-serialisation through the schemas (src/api/server.ts), so the API and the CLI
 * cannot drift apart.
 */
const point = { type: 'object', required: ['x', 'y'], properties: { x: { type: 'number' }, y: { type: 'number' } } } as const;

/** One image entry: exactly one entry of `emolens analyze --json`'s "images" array (image.ts imageEntry). */
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
          saliency: {
            type: 'object',
            description: 'only with ?explain=: the saliency map over the aligned face crop, as `emolens explain --json` gives it',
            required: ['method', 'emotion', 'width', 'height', 'data'],
            properties: {
              method: { type: 'string', enum: ['gradcam', 'occlusion'] },
              emotion: { type: 'string', description: 'the emotion the map explains' },
              width: { type: 'integer' },
              height: { type: 'integer' },
              data: { type: 'array', items: { type: 'number' }, description: 'width x height values in [0, 1], row-major; 1 = most salient' },
            },
          },
        },
      },
    },
  },
} as const;

/** The error body, shared by every route's responses. */
export const ERROR_SCHEMA = {
  $id: 'Error',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
} as const;

/** A job (job.ts JobView). */
export const JOB_VIEW_SCHEMA = {
  $id: 'Job',
  type: 'object',
  required: ['id', 'kind', 'state', 'progress', 'createdAt'],
  properties: {
    id: { type: 'string' },
    kind: { type: 'string', enum: ['images', 'video'] },
    state: { type: 'string', enum: ['queued', 'running', 'completed', 'failed'] },
    progress: { type: 'object', description: 'images: files done / files; video: frames analysed / frames expected at the analysis rate', properties: { done: { type: 'integer' }, total: { type: 'integer' } } },
    result: { description: 'images: the document `emolens analyze --json` prints for the same files; video: the document `emolens video <file> --json` prints for it ({ file, width, height, fps, duration, frames, tracks })' },
    error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
    createdAt: { type: 'string' },
    finishedAt: { type: 'string' },
    expiresAt: { type: 'string', description: 'when the finished job and its result are deleted' },
  },
} as const;
