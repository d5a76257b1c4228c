/**
 * landmarks/: 68 facial points per detected face (face-api's FaceLandmark68Net, converted to ONNX by
 * training/landmarks68.py), the expressional vector computed from them (ev.ts) and the face mask (mask.ts).
 * Owns the crop (crop.ts), the batched ONNX runs (through engine/) and the mapping back to image pixels.
 * Browser-safe: no Node imports. See docs/ferc.md.
 */
import { OnnxModel, type OrtModule, type SessionOptions } from '../engine/index.js';
import { InvalidModelError } from '../errors.js';
import { assertRgbaImage } from '../image/rgba.js';
import type { Box, Point, RgbaImage } from '../types.js';
import { parseLandmarkSidecar, LANDMARK_COUNT, type LandmarkSidecar } from './contract.js';
import { pointsFromOutput, writeLandmarkInput, type SquareCrop } from './crop.js';

export { LANDMARK_COUNT, parseLandmarkSidecar, type LandmarkSidecar } from './contract.js';
export { integerBox, pointsFromOutput, writeLandmarkInput, type SquareCrop } from './crop.js';
export { EV_FEATURES, EV_MIRROR, expressionalVector, interOcularDistance, mirrorPoints, type EvFeature } from './ev.js';
export { faceOutline, maskOutside } from './mask.js';

export interface LandmarkOptions extends SessionOptions {
  /** Faces per ONNX run (default 16: 16 × 150 KB of input). */
  batchSize?: number;
}

export class LandmarkDetector {
  private constructor(
    private readonly model: OnnxModel,
    readonly sidecar: LandmarkSidecar,
    private readonly outputName: string,
    private readonly batchSize: number,
  ) {}

  /** Validate the sidecar and open the session. @throws InvalidModelError when either is unusable. */
  static async load(ort: OrtModule, bytes: Uint8Array, sidecar: unknown, options: LandmarkOptions = {}): Promise<LandmarkDetector> {
    const parsed = parseLandmarkSidecar(sidecar);
    let model: OnnxModel;
    try {
      model = await OnnxModel.load(ort, bytes, options);
    } catch (err) {
      throw new InvalidModelError(parsed.name, `not an ONNX model ONNX Runtime can load (${String((err as Error).message ?? err).split('\n')[0]})`);
    }
    const outputName = model.outputNames.includes(parsed.output.name) ? parsed.output.name : model.outputNames[0];
    return new LandmarkDetector(model, parsed, outputName, Math.max(1, Math.floor(options.batchSize ?? 16)));
  }

  /** Side of the square net input (112). */
  get inputSize(): number { return this.sidecar.input.width; }

  /** 68 points (image px, iBUG 300-W order) for each face box in `image`; one ONNX run per `batchSize` faces. */
  async detect(image: RgbaImage, boxes: readonly Box[]): Promise<Point[][]> {
    assertRgbaImage(image);
    const size = this.inputSize;
    const per = 3 * size * size;
    const results: Point[][] = [];
    for (let start = 0; start < boxes.length; start += this.batchSize) {
      const batch = boxes.slice(start, start + this.batchSize);
      const input = new Float32Array(batch.length * per);
      const crops: SquareCrop[] = batch.map((box, i) => writeLandmarkInput(image, box, size, this.sidecar.preprocess, input, i * per));
      const out = (await this.model.run(input, [batch.length, 3, size, size]))[this.outputName];
      const stride = 2 * LANDMARK_COUNT;
      crops.forEach((crop, i) => results.push(pointsFromOutput(out.data.subarray(i * stride, (i + 1) * stride), crop)));
    }
    return results;
  }

  async dispose(): Promise<void> { await this.model.dispose(); }
}
