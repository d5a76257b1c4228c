/**
 * landmarks/: the 68-point net (models/face-landmarks68.onnx, face-api's FaceLandmark68Net converted by
 * training/convert/landmarks68.py), the expressional vector (EV) and the face mask, and `emolens analyze --landmarks68 --ev`.
 *
 *   node --import tsx --test test/landmarks.test.ts
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { before, after, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { InvalidModelError } from '../src/errors.js';
import {
  EV_FEATURES, EV_MIRROR, expressionalVector, faceOutline, IBUG_MIRROR, interOcularDistance, LandmarkDetector, maskOutside, mirrorPoints,
} from '../src/landmarks/index.js';
import { createAnalyzer, type NodeAnalyzer } from '../src/node.js';
import type { DetectedFace, Point, RgbaImage } from '../src/types.js';
import { ensureBuiltCli, runCli } from './helpers/cli.js';
import { ROOT } from './helpers/fixtures.js';

const SIDECAR = JSON.parse(readFileSync('models/face-landmarks68.json', 'utf8'));
const sample = (i: number) => `assets/demo/sample${i}.jpg`;

async function rgba(input: string | Buffer): Promise<RgbaImage> {
  const { data, info } = await sharp(input).rotate().ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

const centre = (points: readonly Point[], from: number, to: number): Point => {
  const slice = points.slice(from, to + 1);
  return { x: slice.reduce((s, p) => s + p.x, 0) / slice.length, y: slice.reduce((s, p) => s + p.y, 0) / slice.length };
};
const dist = (a: Point, b: Point) => Math.hypot(a.x - b.x, a.y - b.y);
const meanAbsDiff = (a: number[], b: number[]) => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;

/** Deterministic fake 68 points (a face-like layout plus noise) for the pure-function tests. */
function fakePoints(seed: number): Point[] {
  let s = seed;
  const rand = () => ((s = (s * 16807) % 2147483647) / 2147483647) - 0.5;
  return Array.from({ length: 68 }, (_, i) => ({ x: 100 + 40 * Math.cos(i) + 8 * rand(), y: 120 + 50 * Math.sin(i * 0.7) + 8 * rand() }));
}

describe('expressional vector (pure)', () => {
  it('has 24 named distances, and the mirror permutations are involutions that map each pair onto its partner', () => {
    assert.equal(EV_FEATURES.length, 24);
    assert.equal(new Set(EV_FEATURES.map((f) => f.name)).size, 24);
    for (let i = 0; i < 68; i++) assert.equal(IBUG_MIRROR[IBUG_MIRROR[i]], i);
    EV_FEATURES.forEach((f, i) => {
      const partner = EV_FEATURES[EV_MIRROR[i]];
      const mirrored = (ends: readonly number[]) => [...ends].map((k) => IBUG_MIRROR[k]).sort((a, b) => a - b).join();
      const sorted = (ends: readonly number[]) => [...ends].sort((a, b) => a - b).join();
      // A feature's mirrored endpoints are its partner's endpoints (either way round: a distance is symmetric).
      const same = (mirrored(f.from) === sorted(partner.from) && mirrored(f.to) === sorted(partner.to))
        || (mirrored(f.from) === sorted(partner.to) && mirrored(f.to) === sorted(partner.from));
      assert.ok(same, `${f.name} mirrored is not ${partner.name}`);
    });
  });

  it('does not change when the face is scaled, moved or rotated, and is normalised by the inter-ocular distance', () => {
    const points = fakePoints(7);
    const ev = expressionalVector(points);
    const angle = 0.4;
    const moved = points.map((p) => ({ x: 3 * (p.x * Math.cos(angle) - p.y * Math.sin(angle)) + 500, y: 3 * (p.x * Math.sin(angle) + p.y * Math.cos(angle)) - 20 }));
    expressionalVector(moved).forEach((v, i) => assert.ok(Math.abs(v - ev[i]) < 1e-9, `${EV_FEATURES[i].name}: ${v} vs ${ev[i]}`));
    assert.ok(Math.abs(interOcularDistance(moved) / interOcularDistance(points) - 3) < 1e-9);
    const f = EV_FEATURES.findIndex((x) => x.name === 'mouthWidth');
    assert.ok(Math.abs(ev[f] - dist(points[48], points[54]) / interOcularDistance(points)) < 1e-12);
  });

  it('of a mirrored face is the same vector with each left/right pair swapped', () => {
    const points = fakePoints(11);
    const ev = expressionalVector(points);
    const mirrored = expressionalVector(mirrorPoints(points, 640));
    mirrored.forEach((v, i) => assert.ok(Math.abs(v - ev[EV_MIRROR[i]]) < 1e-9, EV_FEATURES[i].name));
    assert.notDeepEqual(mirrored, ev, 'a random face is not symmetric, so the swap must show');
  });

  it('refuses anything but 68 points', () => {
    assert.throws(() => expressionalVector(fakePoints(1).slice(0, 67)), /68 points/);
  });
});

describe('face mask (pure)', () => {
  it('keeps the pixels inside the jaw + brows outline and fills the rest', () => {
    const size = 48;
    const image = { width: size, height: size, data: new Uint8Array(size * size).fill(200) };
    // A square "face": jaw points along three sides, brows along the top.
    const points: Point[] = Array.from({ length: 68 }, () => ({ x: 24, y: 24 }));
    for (let i = 0; i <= 16; i++) {
      const t = i / 16;
      points[i] = t < 0.5 ? { x: 10, y: 10 + 60 * t } : { x: 10 + 28 * (t - 0.5) * 2, y: 40 };
    }
    points[16] = { x: 38, y: 40 };
    for (let i = 17; i <= 26; i++) points[i] = { x: 10 + ((i - 17) / 9) * 28, y: 10 };
    const outline = faceOutline(points);
    assert.equal(outline.length, 27);
    const masked = maskOutside(image, outline, 0);
    assert.equal(masked.data[25 * size + 25], 200, 'inside kept');
    assert.equal(masked.data[2 * size + 2], 0, 'corner filled');
    assert.equal(masked.data[45 * size + 25], 0, 'below the jaw filled');
    const meanFilled = maskOutside(image, outline);
    assert.equal(meanFilled.data[2 * size + 2], 200, 'default fill is the mean inside');
    assert.equal(image.data[2 * size + 2], 200, 'the input is not changed');
  });
});

describe('68-point landmark net', () => {
  let analyzer: NodeAnalyzer;
  let net: LandmarkDetector;
  before(async () => {
    analyzer = await createAnalyzer({ threads: 2 });
    net = await LandmarkDetector.load(ort, readFileSync('models/face-landmarks68.onnx'), SIDECAR, { threads: 2 });
  });
  after(async () => {
    await analyzer.dispose();
    await net.dispose();
  });

  it('refuses a sidecar of another task', async () => {
    await assert.rejects(LandmarkDetector.load(ort, readFileSync('models/face-landmarks68.onnx'), { ...SIDECAR, task: 'emotion' }), InvalidModelError);
  });

  it('puts the eyes, nose and mouth of every frontal demo face where BlazeFace sees them', async () => {
    let checked = 0;
    for (const i of [1, 2, 3, 4, 5, 6]) {
      const image = await analyzer.decode(sample(i));
      const faces = (await analyzer.detect(image)).filter((f) => dist(f.landmarks.rightEye, f.landmarks.leftEye) > 0.25 * f.box.width);
      const points = await net.detectFaces(image, faces);
      faces.forEach((face, k) => {
        const iod = dist(face.landmarks.rightEye, face.landmarks.leftEye);
        const where = `sample${i} face ${k + 1}`;
        assert.ok(dist(centre(points[k], 36, 41), face.landmarks.rightEye) < 0.4 * iod, `${where}: right eye`);
        assert.ok(dist(centre(points[k], 42, 47), face.landmarks.leftEye) < 0.4 * iod, `${where}: left eye`);
        assert.ok(dist(centre(points[k], 48, 67), face.landmarks.mouth) < 0.5 * iod, `${where}: mouth`);
        assert.ok(dist(points[k][30], face.landmarks.nose) < 0.5 * iod, `${where}: nose tip`);
        // The chin (8) lies below the mouth and the brows above the eyes, in the face's own upright frame.
        const down = { x: -(face.landmarks.leftEye.y - face.landmarks.rightEye.y) / iod, y: (face.landmarks.leftEye.x - face.landmarks.rightEye.x) / iod };
        const along = (p: Point) => p.x * down.x + p.y * down.y;
        assert.ok(along(points[k][8]) > along(centre(points[k], 48, 67)), `${where}: chin below mouth`);
        assert.ok(along(centre(points[k], 17, 26)) < along(centre(points[k], 36, 47)), `${where}: brows above eyes`);
        checked++;
      });
    }
    assert.ok(checked >= 20, `only ${checked} frontal faces checked`);
  });

  /** The faces of sample1, and the same photo scaled or mirrored with its faces mapped by hand. */
  async function evsOf(image: RgbaImage, faces: DetectedFace[]): Promise<number[][]> {
    return (await net.detectFaces(image, faces)).map(expressionalVector);
  }

  it('gives nearly the same EV when the photo is half the size (scale invariance through the net)', async () => {
    const image = await analyzer.decode(sample(1));
    const faces = await analyzer.detect(image);
    const half = await rgba(await sharp(readFileSync(sample(1))).rotate().resize(image.width / 2).toBuffer());
    const s = half.width / image.width;
    const scaled = faces.map((f) => ({
      ...f,
      box: { x: f.box.x * s, y: f.box.y * s, width: f.box.width * s, height: f.box.height * s },
      landmarks: { ...f.landmarks, rightEye: { x: f.landmarks.rightEye.x * s, y: f.landmarks.rightEye.y * s }, leftEye: { x: f.landmarks.leftEye.x * s, y: f.landmarks.leftEye.y * s } },
    }));
    const [full, small] = [await evsOf(image, faces), await evsOf(half, scaled)];
    full.forEach((ev, k) => assert.ok(meanAbsDiff(ev, small[k]) < 0.015, `face ${k + 1}: mean |ΔEV| ${meanAbsDiff(ev, small[k]).toFixed(4)}`));
  });

  it('gives the pair-swapped EV for the mirrored photo (mirror consistency through the net)', async () => {
    const image = await analyzer.decode(sample(1));
    const faces = await analyzer.detect(image);
    const flopped = await rgba(await sharp(readFileSync(sample(1))).rotate().flop().toBuffer());
    const W = image.width;
    const flip = (p: Point) => ({ x: W - p.x, y: p.y });
    const mirroredFaces = faces.map((f) => ({
      ...f,
      box: { ...f.box, x: W - f.box.x - f.box.width },
      landmarks: { ...f.landmarks, rightEye: flip(f.landmarks.leftEye), leftEye: flip(f.landmarks.rightEye) },
    }));
    const [ev, evMirror] = [await evsOf(image, faces), await evsOf(flopped, mirroredFaces)];
    ev.forEach((v, k) => {
      const swapped = EV_MIRROR.map((j) => evMirror[k][j]);
      assert.ok(meanAbsDiff(v, swapped) < 0.04, `face ${k + 1}: mean |ΔEV| ${meanAbsDiff(v, swapped).toFixed(4)}`);
      // Not trivially small because nothing was swapped: the unswapped vector differs more.
      assert.ok(meanAbsDiff(v, swapped) <= meanAbsDiff(v, evMirror[k]) + 1e-9);
    });
  });

  it('follows a face turned by 20° (the upright crop), where face-api\'s axis-aligned box crop drifts', async () => {
    const errors: Record<'upright' | 'box', number[]> = { upright: [], box: [] };
    for (const i of [1, 3]) {
      const image = await analyzer.decode(sample(i));
      const faces = await analyzer.detect(image);
      const base = await net.detectFaces(image, faces);
      const { data, info } = await sharp(Buffer.from(image.data), { raw: { width: image.width, height: image.height, channels: 4 } })
        .rotate(20, { background: '#000000' }).raw().toBuffer({ resolveWithObject: true });
      const turned: RgbaImage = { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
      const t = (20 * Math.PI) / 180;
      const turn = (p: Point): Point => {
        const dx = p.x - image.width / 2;
        const dy = p.y - image.height / 2;
        return { x: turned.width / 2 + dx * Math.cos(t) - dy * Math.sin(t), y: turned.height / 2 + dx * Math.sin(t) + dy * Math.cos(t) };
      };
      const found = await analyzer.detect(turned);
      const upright = await net.detectFaces(turned, found);
      const boxed = await net.detect(turned, found.map((f) => f.box));
      base.forEach((points, k) => {
        if (dist(faces[k].landmarks.rightEye, faces[k].landmarks.leftEye) < 0.25 * faces[k].box.width) return; // profile
        const expected = points.map(turn);
        const j = found.findIndex((g) => Math.abs(g.box.x + g.box.width / 2 - expected[30].x) < g.box.width / 2
          && Math.abs(g.box.y + g.box.height / 2 - expected[30].y) < g.box.height / 2);
        assert.ok(j >= 0, `sample${i} face ${k + 1} not found in the turned photo`);
        const iod = interOcularDistance(expected);
        const err = (pts: Point[]) => expected.reduce((sum, p, q) => sum + dist(p, pts[q]), 0) / 68 / iod;
        errors.upright.push(err(upright[j]));
        errors.box.push(err(boxed[j]));
      });
    }
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    assert.ok(errors.upright.length >= 5);
    // Measured: upright 0.046 mean / 0.097 worst of the IOD on all 21 frontal demo faces; face-api's crop 0.124 / 0.495.
    assert.ok(Math.max(...errors.upright) < 0.15, `upright crop: worst ${Math.max(...errors.upright).toFixed(3)} IOD`);
    assert.ok(mean(errors.upright) < 0.08, `upright crop: mean ${mean(errors.upright).toFixed(3)} IOD`);
    assert.ok(mean(errors.box) > mean(errors.upright), 'the box crop should drift more than the upright one');
  });

  it('matches face-api itself (tfjs, cpu backend) on the faces of one demo photo', { timeout: 240_000 }, () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/verify-landmarks68.ts', '--photos', '1'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /OK: .* <= 0\.002/);
  });
});

describe('emolens analyze --landmarks68 --ev', () => {
  before(ensureBuiltCli);

  it('adds 68 points and the 24 EV values to each face in JSON, and nothing without the flags', () => {
    const withFlags = runCli('analyze', sample(3), '--json', '--landmarks68', '--ev', '--threads', '2');
    assert.equal(withFlags.code, 0, withFlags.stderr);
    const faces = JSON.parse(withFlags.stdout).images[0].faces;
    assert.equal(faces.length, 3);
    for (const face of faces) {
      assert.equal(face.landmarks68.length, 68);
      for (const [x, y] of face.landmarks68) {
        assert.ok(x > face.box.x - face.box.width * 0.3 && x < face.box.x + face.box.width * 1.3, `x ${x} near the box`);
        assert.ok(y > face.box.y - face.box.height * 0.3 && y < face.box.y + face.box.height * 1.3, `y ${y} near the box`);
      }
      assert.deepEqual(face.ev.names, EV_FEATURES.map((f) => f.name));
      assert.equal(face.ev.values.length, 24);
      assert.ok(face.ev.values.every((v: number) => v > 0 && v < 3));
    }
    const plain = runCli('analyze', sample(3), '--json', '--threads', '2');
    const plainFace = JSON.parse(plain.stdout).images[0].faces[0];
    assert.deepEqual(Object.keys(plainFace), ['box', 'score', 'landmarks', 'emotions', 'dominant']);
  });

  it('adds p0.x … p67.y and ev.<name> columns to CSV', () => {
    const r = runCli('analyze', sample(3), '--csv', '--landmarks68', '--ev', '--threads', '2');
    assert.equal(r.code, 0, r.stderr);
    const [header, ...rows] = r.stdout.trim().split('\n');
    const cols = header.split(',');
    assert.equal(cols.length, 15 + 136 + 24);
    assert.equal(cols[15], 'p0.x');
    assert.equal(cols[15 + 135], 'p67.y');
    assert.equal(cols[cols.length - 1], `ev.${EV_FEATURES[23].name}`);
    assert.equal(rows.length, 3);
    for (const row of rows) assert.equal(row.split(',').length, cols.length);
  });

  it('refuses --landmarks68 / --ev for the table output with one error line (exit 2)', () => {
    for (const flag of ['--landmarks68', '--ev']) {
      const r = runCli('analyze', sample(3), flag);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, new RegExp(`^error: ${flag} adds fields to machine-readable output: add --json, --csv or --out\\n$`));
    }
  });
});
