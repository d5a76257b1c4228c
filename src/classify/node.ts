/**
 * Where model loading used to live. It is now the Node env (src/env/node.ts); these names stay importable from
 * here for code written before src/env/ existed. New code imports src/env/node.ts.
 */
export {
  bundledModelNames,
  DEFAULT_DETECTOR_MODEL,
  DEFAULT_EMOTION_MODEL,
  loadDetectorModel,
  loadEmotionModel,
  loadModelFiles,
  looksLikeOnnx,
  MODELS_DIR,
  resolveModelPath,
  type ModelFiles,
} from '../env/node.js';
