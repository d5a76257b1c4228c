/**
 * The JSON schema (for OpenAPI) of the API's result, which is the CLI's: one image is exactly one entry of
 * `emolens analyze --json`'s "images" array, built by src/report/serialize.ts (imageEntry) for both, so the API
 * and the CLI cannot drift apart.
 */
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
