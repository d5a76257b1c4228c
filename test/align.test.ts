import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alignFace, applyAffine, cropToImageTransform, invertAffine, type FaceCropGeometry } from '../src/align/index.js';
import type { Point, RgbaImage } from '../src/types.js';

const FER: FaceCropGeometry = { size: 48, eyeY: 0.4, eyeDistance: 0.42 };

/** Render a gray image whose value at image point p is f(crop coordinates of p) — the face drawn "in crop space". */
function renderInCropSpace(width: number, height: number, cropToImage: ReturnType<typeof cropToImageTransform>, f: (u: number, v: number) => number): RgbaImage {
  const toCrop = invertAffine(cropToImage);
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const c = applyAffine(toCrop, { x: x + 0.5, y: y + 0.5 });
      const v = Math.max(0, Math.min(255, Math.round(f(c.x, c.y))));
      data.set([v, v, v, 255], (y * width + x) * 4);
    }
  }
  return { data, width, height };
}

function rotatedEyes(centre: Point, distance: number, degrees: number): { rightEye: Point; leftEye: Point } {
  const t = (degrees * Math.PI) / 180;
  const dx = (Math.cos(t) * distance) / 2;
  const dy = (Math.sin(t) * distance) / 2;
  return { rightEye: { x: centre.x - dx, y: centre.y - dy }, leftEye: { x: centre.x + dx, y: centre.y + dy } };
}

const close = (actual: number, expected: number, tol: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} is not within ${tol} of ${expected}`);

describe('cropToImageTransform', () => {
  it('maps the eyes exactly onto the FER2013 eye positions, level and eyeDistance apart', () => {
    for (const degrees of [0, 17, -35, 90, 180]) {
      const eyes = rotatedEyes({ x: 321.25, y: 210.5 }, 73.3, degrees);
      const toCrop = invertAffine(cropToImageTransform(eyes, FER));
      const r = applyAffine(toCrop, eyes.rightEye);
      const l = applyAffine(toCrop, eyes.leftEye);
      close(r.x, 24 - 0.21 * 48, 1e-9, `right eye x @${degrees}°`);
      close(l.x, 24 + 0.21 * 48, 1e-9, `left eye x @${degrees}°`);
      close(r.y, 0.4 * 48, 1e-9, `right eye y @${degrees}°`);
      close(l.y, 0.4 * 48, 1e-9, `left eye y @${degrees}°`);
    }
  });
});

describe('alignFace', () => {
  it('undoes rotation and scale exactly for a linear pattern (bilinear sampling is exact on it)', () => {
    // A gradient defined in crop space; any error in rotation, scale or the half-pixel convention shows up.
    const f = (u: number, v: number) => 20 + 3 * u + 1.5 * v;
    for (const [degrees, distance] of [[0, 20.16], [25, 40.32], [-40, 97], [90, 61]] as const) {
      const eyes = rotatedEyes({ x: 250.3, y: 240.7 }, distance, degrees); // the crop stays inside the image
      const image = renderInCropSpace(500, 500, cropToImageTransform(eyes, FER), f);
      const crop = alignFace(image, eyes, FER);
      assert.equal(crop.width, 48);
      assert.equal(crop.height, 48);
      let worst = 0;
      for (let y = 0; y < 48; y++) for (let x = 0; x < 48; x++) worst = Math.max(worst, Math.abs(crop.data[y * 48 + x] - f(x + 0.5, y + 0.5)));
      // Source pixels are rounded to integers (±0.5) and the crop is rounded again (±0.5).
      assert.ok(worst <= 1.01, `rotation ${degrees}°, eye distance ${distance}px: worst error ${worst.toFixed(2)} gray levels`);
    }
  });

  it('puts two drawn eye dots where the sidecar says, for a rotated face', () => {
    const eyes = rotatedEyes({ x: 200, y: 160 }, 80.64, 30); // 2 image px per crop px
    const width = 400, height = 320;
    const data = new Uint8Array(width * height * 4).fill(255);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const near = [eyes.rightEye, eyes.leftEye].some((e) => Math.hypot(x + 0.5 - e.x, y + 0.5 - e.y) < 6);
        if (near) data.fill(0, (y * width + x) * 4, (y * width + x) * 4 + 3);
      }
    }
    const crop = alignFace({ data, width, height }, eyes, FER);
    // Centroid of darkness in each half of the crop.
    for (const [half, expectedX] of [[0, 24 - 0.21 * 48], [1, 24 + 0.21 * 48]] as const) {
      let sum = 0, sx = 0, sy = 0;
      for (let y = 0; y < 48; y++) {
        for (let x = half * 24; x < half * 24 + 24; x++) {
          const w = 255 - crop.data[y * 48 + x];
          sum += w; sx += w * (x + 0.5); sy += w * (y + 0.5);
        }
      }
      close(sx / sum, expectedX, 0.15, `eye ${half} x`);
      close(sy / sum, 0.4 * 48, 0.15, `eye ${half} y`);
    }
  });

  it('replicates the edge for faces at the image border', () => {
    // Each column has its own value; rows are identical. A face in the top-left corner samples outside.
    const width = 64, height = 64;
    const data = new Uint8Array(width * height * 4);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([x * 4, x * 4, x * 4, 255], (y * width + x) * 4);
    const eyes = { rightEye: { x: 2, y: 3 }, leftEye: { x: 22.16, y: 3 } }; // 1 crop px per image px, eyes level
    const crop = alignFace({ data, width, height }, eyes, FER);
    // Crop x maps to image x = cx - 24 + 12.08; left of the image, every pixel equals column 0 (value 0).
    for (let y = 0; y < 48; y++) {
      assert.equal(crop.data[y * 48 + 0], 0, `row ${y}, left border`);
      // Above the image, rows replicate row 0: the column values are unchanged by y.
      assert.equal(crop.data[y * 48 + 30], crop.data[47 * 48 + 30], `row ${y}, column 30`);
    }
  });

  it('uses the luma weights given, and can equalise', () => {
    const width = 40, height = 40;
    const data = new Uint8Array(width * height * 4);
    for (let i = 0; i < width * height; i++) data.set([200, 100, 50, 255], i * 4);
    const eyes = { rightEye: { x: 10, y: 15 }, leftEye: { x: 30.16, y: 15 } };
    const bt601 = alignFace({ data, width, height }, eyes, FER);
    assert.equal(bt601.data[0], Math.round(0.299 * 200 + 0.587 * 100 + 0.114 * 50));
    const red = alignFace({ data, width, height }, eyes, FER, { lumaWeights: [1, 0, 0] });
    assert.equal(red.data[100], 200);
    const ramp = new Uint8Array(width * height * 4);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) ramp.set([100 + x, 100 + x, 100 + x, 255], (y * width + x) * 4);
    const flat = alignFace({ data: ramp, width, height }, eyes, FER);
    const equalised = alignFace({ data: ramp, width, height }, eyes, FER, { equalize: true });
    const range = (d: ArrayLike<number>) => Math.max(...Array.from(d)) - Math.min(...Array.from(d));
    assert.ok(range(flat.data) < 60);
    assert.equal(range(equalised.data), 255);
  });
});
