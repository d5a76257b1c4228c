/** detect/: faces in a photo -> boxes, scores and 6 landmarks (BlazeFace on ONNX Runtime). See docs/detector.md. */
export { FaceDetector, DEFAULT_DETECT_OPTIONS, type DetectOptions } from './blazeface.js';
export { parseDetectorSidecar, KEYPOINT_NAMES, type DetectorSidecar, type KeypointName } from './contract.js';
export { generateAnchors, type AnchorConfig } from './anchors.js';
export { nonMaxSuppression } from './nms.js';
export { containment, iou } from '../geometry.js';
export { letterboxInto, scaleImage, type Region, type Placement, type Normalization } from './letterbox.js';
export { planPasses, plausibleLandmarks, type Pass, type TilePlan } from './tiles.js';
