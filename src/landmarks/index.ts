/**
 * landmarks/: 68 facial points per detected face (face-api's FaceLandmark68Net, converted to ONNX by
 * training/convert/landmarks68.py), the expressional vector computed from them (ev.ts) and the face mask (mask.ts).
 * Owns the crop (crop.ts), the batched ONNX runs (through engine/) and the mapping back to image pixels.
 * Browser-safe: no Node imports. See docs/ferc.md.
 */
import { OnnxModel, type OrtModule, type SessionOptions } from '../engine/index.js';
import { assertRgbaImage } from '../image/rgba.js';
import type { Box, DetectedFace, Point, RgbaImage } from '../types.js';
import { parseLandmarkSidecar, LANDMARK_COUNT, type LandmarkSidecar } from './contract.js';
import { pointsFromOutput, pointsFromUprightOutput, uprightSquare, writeLandmarkInput, writeUprightInput, type SquareCrop } from './crop.js';

export { LANDMARK_COUNT, parseLandmarkSidecar, type LandmarkSidecar } from './contract.js';
export { integerBox, pointsFromOutput, pointsFromUprightOutput, uprightSquare, writeLandmarkInput, writeUprightInput, type SquareCrop, type UprightSquare } from './crop.js';
export { EV_FEATURES, EV_MIRROR, expressionalVector, IBUG_MIRROR, interOcularDistance, mirrorPoints, type EvFeature } from './ev.js';
export { faceOutline, maskOutside } from './mask.js';

export interface LandmarkOptions extends SessionOptions {
  /** Faces per ONNX run (default 16: 16 × 150 KB of input). */
  batchSize?: number;
}

/**
 * Side of the upright square around a BlazeFace box, in box sides. BlazeFace's boxes are tight (brows to chin); 1.1
 * leaves the jaw line inside the crop. Picked by eye on the demo photos; the 68-point eye centres' distance to
 * BlazeFace's eye keypoints barely moves between 1.0 and 1.3 (docs/ferc.md).
 */
export const DEFAULT_BOX_SCALE = 1.1;

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
    const model = await OnnxModel.loadModel(ort, bytes, parsed.name, options);
    const outputName = model.outputNames.includes(parsed.output.name) ? parsed.output.name : model.outputNames[0];
    return new LandmarkDetector(model, parsed, outputName, Math.max(1, Math.floor(options.batchSize ?? 16)));
  }

  /** Side of the square net input (112). */
  get inputSize(): number { return this.sidecar.input.width; }

  /**
   * 68 points (image px, iBUG 300-W order) for each detected face: the net sees an upright square around the box
   * (`boxScale` × its side, rotated so the detector's eye keypoints are level) and its points are mapped back.
   */
  async detectFaces(image: RgbaImage, faces: readonly DetectedFace[], boxScale = DEFAULT_BOX_SCALE): Promise<Point[][]> {
    const size = this.inputSize;
    const squares = faces.map((f) => uprightSquare(f.box, f.landmarks.rightEye, f.landmarks.leftEye, boxScale));
    assertRgbaImage(image);
    return this.run(squares.length,
      (i, input, offset) => writeUprightInput(image, squares[i], size, this.sidecar.preprocess, input, offset),
      (i, row) => pointsFromUprightOutput(row, squares[i], size));
  }

  /**
   * 68 points for each box exactly as face-api crops a detection (axis-aligned box, zero-padded to a square): for
   * already-registered face crops (FER2013 images: the whole image is the box) and the check against face-api.
   */
  async detect(image: RgbaImage, boxes: readonly Box[]): Promise<Point[][]> {
    const size = this.inputSize;
    assertRgbaImage(image);
    const crops: SquareCrop[] = [];
    return this.run(boxes.length,
      (i, input, offset) => { crops[i] = writeLandmarkInput(image, boxes[i], size, this.sidecar.preprocess, input, offset); },
      (i, row) => pointsFromOutput(row, crops[i]));
  }

  /** 68 points for each image that is itself a face box (FER2013 crops), in that image's pixels; batched across images. */
  async detectCrops(images: readonly RgbaImage[]): Promise<Point[][]> {
    for (const im of images) assertRgbaImage(im);
    const size = this.inputSize;
    const crops: SquareCrop[] = [];
    const whole = (im: RgbaImage): Box => ({ x: 0, y: 0, width: im.width, height: im.height });
    return this.run(images.length,
      (i, input, offset) => { crops[i] = writeLandmarkInput(images[i], whole(images[i]), size, this.sidecar.preprocess, input, offset); },
      (i, row) => pointsFromOutput(row, crops[i]));
  }

  /** Batched runs: `write` fills face i's input, `read` maps its 136 outputs to points. */
  private async run(
    count: number,
    write: (i: number, input: Float32Array, offset: number) => void,
    read: (i: number, row: Float32Array) => Point[],
  ): Promise<Point[][]> {
    const size = this.inputSize;
    const per = 3 * size * size;
    const stride = 2 * LANDMARK_COUNT;
    const results: Point[][] = [];
    for (let start = 0; start < count; start += this.batchSize) {
      const n = Math.min(this.batchSize, count - start);
      const input = new Float32Array(n * per);
      for (let i = 0; i < n; i++) write(start + i, input, i * per);
      const out = (await this.model.run(input, [n, 3, size, size]))[this.outputName];
      for (let i = 0; i < n; i++) results.push(read(start + i, out.data.subarray(i * stride, (i + 1) * stride)));
    }
    return results;
  }

  async dispose(): Promise<void> { await this.model.dispose(); }
}
