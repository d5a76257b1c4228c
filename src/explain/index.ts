/**
 * Saliency: which pixels of the aligned face crop drove a label. Two methods over the same crop the classifier sees:
 * exact Grad-CAM from the model's activation outputs (contract /2, ./gradcam.ts) and the gradient-free occlusion
 * map (./occlusion.ts, any model). This module owns the choice and the map's shape; drawing is ./heatmap.ts; the
 * CLI (src/cli/explain.ts), the eval report and the web app only call it. Browser-safe: no Node imports.
 */
import type { EmotionClassifier } from '../classify/index.js';
import type { EmotionModelSidecar } from '../classify/contract.js';
import { UsageError } from '../errors.js';
import { resizeGrayBilinear } from '../image/gray-resize.js';
import { dominantEmotion, EMOTIONS, isEmotion, type Emotion, type EmotionProbabilities } from '../labels.js';
import type { GrayImage } from '../types.js';
import { gradCamInputMap } from './gradcam.js';
import { occlusionMap, type OcclusionOptions } from './occlusion.js';

export { coarseGradCam, decodeFloat32, gradCamInputMap, upsampleCells } from './gradcam.js';
export { heatColor, heatmapRgba, overlayRgba } from './heatmap.js';
export { DEFAULT_OCCLUSION, occlude, occlusionMap, occlusionPlan, type OcclusionOptions } from './occlusion.js';

export const SALIENCY_METHODS = ['auto', 'gradcam', 'occlusion'] as const;
export type SaliencyMethod = Exclude<(typeof SALIENCY_METHODS)[number], 'auto'>;

/** A map over the aligned face crop (faceCrop.size square): row-major, values in [0, 1], 1 = most salient. */
export interface SaliencyMap {
  width: number;
  height: number;
  data: Float32Array;
  method: SaliencyMethod;
  /** The emotion whose score the map explains. */
  emotion: Emotion;
}

export interface ExplainOptions {
  /** 'auto' (default): Grad-CAM when the model supports it (sidecar explain.gradcam), else occlusion. */
  method?: (typeof SALIENCY_METHODS)[number];
  /** Explain this emotion instead of each face's dominant one. */
  emotion?: Emotion;
  occlusion?: OcclusionOptions;
}

export interface FaceExplanation {
  emotions: EmotionProbabilities;
  dominant: Emotion;
  saliency: SaliencyMap;
}

/** Whether the model's sidecar carries what exact Grad-CAM needs. */
export function supportsGradCam(sidecar: EmotionModelSidecar): boolean {
  return Boolean(sidecar.explain?.gradcam);
}

/** Which method `options.method` resolves to for this model; asking for Grad-CAM on a model without it is a UsageError. */
export function resolveMethod(sidecar: EmotionModelSidecar, method: ExplainOptions['method'] = 'auto'): SaliencyMethod {
  if (!(SALIENCY_METHODS as readonly string[]).includes(method)) throw new UsageError(`unknown saliency method ${JSON.stringify(method)} (expected ${SALIENCY_METHODS.join(', ')})`);
  if (method === 'occlusion') return 'occlusion';
  if (supportsGradCam(sidecar)) return 'gradcam';
  if (method === 'gradcam') {
    throw new UsageError(`${sidecar.name} has no Grad-CAM outputs (sidecar explain.gradcam, contract emolens-model/2): use --method occlusion, or add them with npm run gradcam-outputs`);
  }
  return 'occlusion';
}

/**
 * Probabilities and a saliency map for each aligned face crop (gray 0..255; other sizes are resized to the model's
 * crop size first, and the map is over that size).
 */
export async function explainCrops(classifier: EmotionClassifier, crops: GrayImage[], options: ExplainOptions = {}): Promise<FaceExplanation[]> {
  const sidecar = classifier.sidecar;
  if (options.emotion !== undefined && !isEmotion(options.emotion)) throw new UsageError(`unknown emotion ${JSON.stringify(options.emotion)} (expected ${EMOTIONS.join(', ')})`);
  const method = resolveMethod(sidecar, options.method);
  const size = sidecar.preprocess.faceCrop.size;
  const window = sidecar.preprocess.centerCrop;
  const offset = Math.floor((size - window) / 2);
  const sized = crops.map((c) => (c.width === size && c.height === size ? c : resizeGrayBilinear(c, size, size)));

  if (method === 'gradcam') {
    const spec = sidecar.explain!.gradcam!;
    const names = spec.branches.map((b) => b.output);
    const { probabilities, outputs } = await classifier.classifyWithOutputs(sized, names);
    return probabilities.map((emotions, i) => {
      const emotion = options.emotion ?? dominantEmotion(emotions);
      const input = gradCamInputMap(spec, names.map((n) => outputs[n][i]), sidecar.labels.indexOf(emotion), window);
      const data = new Float32Array(size * size);
      for (let y = 0; y < window; y++) data.set(input.subarray(y * window, (y + 1) * window), (y + offset) * size + offset);
      return { emotions, dominant: dominantEmotion(emotions), saliency: { width: size, height: size, data, method, emotion } };
    });
  }

  const p = sidecar.preprocess;
  // The pixel value that normalises to 0 (the training mean), averaged over channels for 3-channel models.
  const fill = p.mean.reduce((a, m) => a + m, 0) / p.mean.length / p.scale;
  const results: FaceExplanation[] = [];
  for (const crop of sized) {
    const { data, probabilities, emotion } = await occlusionMap((c) => classifier.classify(c), crop, options.emotion ?? dominantEmotion, { window, fill }, options.occlusion);
    results.push({ emotions: probabilities, dominant: dominantEmotion(probabilities), saliency: { width: size, height: size, data, method, emotion } });
  }
  return results;
}
