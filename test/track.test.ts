/**
 * The tracking core (src/track/) and the group read-outs (src/aggregate/): face tracks with stable ids, EMA
 * smoothing with hysteresis, the per-frame classification budget, group mood and the timeline export, and
 * `analyzeFrames` — the per-frame loop the live view and video share — on synthetic frames and a fake analyzer.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { engagementOf, groupMood, valenceOf } from '../src/aggregate/mood.js';
import { Timeline } from '../src/aggregate/timeline.js';
import type { Analyzer } from '../src/analyzer.js';
import { UsageError } from '../src/errors.js';
import { iou } from '../src/geometry.js';
import { EMOTIONS, type EmotionProbabilities } from '../src/labels.js';
import { ClassifyBudget, pickFacesToClassify } from '../src/track/budget.js';
import { analyzeFrames, StreamDetector, type Frame, type FrameResult } from '../src/track/frames.js';
import { DetectionSchedule } from '../src/track/schedule.js';
import { emaAlpha, FaceTracker } from '../src/track/tracker.js';
import type { Box, DetectedFace, RgbaImage } from '../src/types.js';

function probs(top: (typeof EMOTIONS)[number], p = 0.7): EmotionProbabilities {
  const rest = (1 - p) / (EMOTIONS.length - 1);
  return Object.fromEntries(EMOTIONS.map((e) => [e, e === top ? p : rest])) as EmotionProbabilities;
}
const box = (x: number, y: number, size = 100) => ({ x, y, width: size, height: size });

describe('tracker: smoothing over time', () => {
  test('a face that moves a little keeps its id; a far one gets a new id', () => {
    const tracker = new FaceTracker();
    const [a] = tracker.update([{ box: box(100, 100), score: 0.9, emotions: probs('happy') }], 0);
    const [a2] = tracker.update([{ box: box(108, 104), score: 0.9, emotions: probs('happy') }], 40);
    assert.equal(a2.id, a.id);
    const tracks = tracker.update([
      { box: box(110, 104), score: 0.9, emotions: probs('happy') },
      { box: box(500, 100), score: 0.9, emotions: probs('sad') },
    ], 80);
    assert.deepEqual(tracks.map((t) => t.id), [a.id, a.id + 1]);
  });

  test('probabilities follow an EMA with the configured time constant', () => {
    const tracker = new FaceTracker({ probabilityTauMs: 600 });
    tracker.update([{ box: box(0, 0), score: 1, emotions: probs('neutral', 1) }], 0);
    const [t] = tracker.update([{ box: box(0, 0), score: 1, emotions: probs('happy', 1) }], 600);
    // One step of 600 ms with tau 600 ms moves 1 - e^-1 = 63.2% of the way.
    assert.ok(Math.abs(t.emotions.happy - (1 - Math.exp(-1))) < 1e-9);
    assert.ok(Math.abs(emaAlpha(600, 600) - 0.632120558828558) < 1e-12);
  });

  test('the label does not flicker between two close emotions (hysteresis)', () => {
    const tracker = new FaceTracker({ probabilityTauMs: 0, hysteresis: 0.05 });
    const close = (lead: 'happy' | 'neutral'): EmotionProbabilities => ({
      ...probs('angry', 0), happy: lead === 'happy' ? 0.46 : 0.44, neutral: lead === 'neutral' ? 0.46 : 0.44, angry: 0.1,
    });
    tracker.update([{ box: box(0, 0), score: 1, emotions: close('happy') }], 0);
    let labels = '';
    for (let i = 1; i <= 10; i++) {
      const [t] = tracker.update([{ box: box(0, 0), score: 1, emotions: close(i % 2 ? 'neutral' : 'happy') }], i * 33);
      labels += t.dominant[0];
    }
    assert.equal(labels, 'hhhhhhhhhh');
    const [t] = tracker.update([{ box: box(0, 0), score: 1, emotions: probs('neutral', 0.8) }], 400);
    assert.equal(t.dominant, 'neutral');
  });

  test('a face missed for a frame stays visible, then expires', () => {
    const tracker = new FaceTracker({ showMs: 300, keepMs: 1000 });
    tracker.update([{ box: box(0, 0), score: 1, emotions: probs('happy') }], 0);
    assert.equal(tracker.update([], 100).length, 1);
    assert.equal(tracker.update([], 400).length, 0);
    const [back] = tracker.update([{ box: box(2, 2), score: 1, emotions: probs('happy') }], 600);
    assert.equal(back.id, 1, 'a face back within keepMs keeps its id');
    tracker.update([], 1700);
    const [fresh] = tracker.update([{ box: box(2, 2), score: 1, emotions: probs('happy') }], 1800);
    assert.equal(fresh.id, 2);
  });

  test('a detection without a reading moves the box and keeps the probabilities; the next reading folds in by its age', () => {
    const tracker = new FaceTracker({ probabilityTauMs: 600, boxTauMs: 0 });
    tracker.update([{ box: box(0, 0), score: 1, emotions: probs('neutral', 1) }], 0);
    const [moved] = tracker.update([{ box: box(10, 0), score: 0.8 }], 300);
    assert.equal(moved.box.x, 10);
    assert.equal(moved.emotions.neutral, 1);
    assert.equal(moved.classifiedMs, 0);
    assert.equal(moved.lastSeenMs, 300);
    // Read again at 600 ms: α from the 600 ms since the last reading, not the 300 ms since the last frame.
    const [read] = tracker.update([{ box: box(10, 0), score: 1, emotions: probs('happy', 1) }], 600);
    assert.ok(Math.abs(read.emotions.happy - (1 - Math.exp(-1))) < 1e-9);
    assert.equal(read.classifiedMs, 600);
  });

  test('a new face without a reading starts no track; match() pairs like update() and changes nothing', () => {
    const tracker = new FaceTracker();
    assert.deepEqual(tracker.update([{ box: box(0, 0), score: 1 }], 0), []);
    const [a] = tracker.update([{ box: box(0, 0), score: 1, emotions: probs('happy') }], 40);
    const owners = tracker.match([box(500, 0), box(4, 2)]);
    assert.deepEqual(owners.map((t) => t?.id), [undefined, a.id]);
    assert.equal(tracker.visible(40)[0].box.x, 0, 'match() does not move the track');
  });

  test('classify budget: adapts to the measured ms per face; new faces first, then the oldest readings', () => {
    const budget = new ClassifyBudget({ frameBudgetMs: 150, minFaces: 1, smoothing: 0.5 });
    assert.equal(budget.facesPerFrame(), 1, 'one face until the first measurement');
    budget.record(1, 30);
    assert.equal(budget.facesPerFrame(), 5);
    budget.record(5, 250); // 50 ms/face → running average 40
    assert.equal(budget.facesPerFrame(), 3);
    budget.record(3, 3000);
    assert.equal(budget.facesPerFrame(), 1, 'never below minFaces');
    const faces = [{ classifiedMs: 500 }, { classifiedMs: undefined }, { classifiedMs: 100 }, { classifiedMs: 300 }, { classifiedMs: undefined }];
    assert.deepEqual(pickFacesToClassify(faces, 1), [1]);
    assert.deepEqual(pickFacesToClassify(faces, 3), [1, 2, 4]);
    assert.deepEqual(pickFacesToClassify(faces, 4), [1, 2, 3, 4]);
    assert.deepEqual(pickFacesToClassify(faces, 99), [0, 1, 2, 3, 4]);
    assert.deepEqual(pickFacesToClassify([], 3), []);
  });

  test('iou', () => {
    assert.equal(iou(box(0, 0), box(0, 0)), 1);
    assert.equal(iou(box(0, 0), box(200, 0)), 0);
    assert.ok(Math.abs(iou(box(0, 0), box(50, 0)) - 1 / 3) < 1e-12);
  });
});

describe('group mood and timeline export', () => {
  test('shares, means, valence and engagement follow docs/web.md', () => {
    const faces = [
      { emotions: probs('happy', 0.8), dominant: 'happy' as const },
      { emotions: probs('sad', 0.6), dominant: 'sad' as const },
    ];
    const mood = groupMood(faces);
    assert.equal(mood.faces, 2);
    assert.equal(mood.counts.happy, 1);
    assert.equal(mood.shares.sad, 0.5);
    const mean = mood.mean!;
    assert.ok(Math.abs(EMOTIONS.reduce((s, e) => s + mean[e], 0) - 1) < 1e-9);
    const expectedValence = mean.happy - mean.angry - mean.disgust - mean.fear - mean.sad;
    assert.ok(Math.abs(mood.valence! - expectedValence) < 1e-12);
    assert.equal(valenceOf(probs('happy', 1)), 1);
    assert.equal(engagementOf(probs('neutral', 1)), 0);
    assert.deepEqual(groupMood([]).mean, null);
  });

  test('CSV has a group row per sample and face rows only when recorded', () => {
    const timeline = new Timeline();
    const faces = [{ id: 3, emotions: probs('happy'), dominant: 'happy' as const }];
    timeline.add({ tMs: 1000, group: groupMood(faces), faces });
    timeline.add({ tMs: 2000, group: groupMood(faces), faces: [] }); // aggregate-only sample
    timeline.add({ tMs: 3000, group: groupMood([]), faces: [] });
    const lines = timeline.toCsv().trim().split('\n');
    assert.equal(lines[0], `time_s,series,faces,${EMOTIONS.join(',')},dominant,valence,engagement`);
    assert.deepEqual(lines.slice(1).map((l) => l.split(',').slice(0, 3).join(',')), ['1.0,group,1', '1.0,face-3,1', '2.0,group,1', '3.0,group,0']);
    assert.match(lines[4], /^3\.0,group,0,{7},,,$/, 'no faces: empty values, not zeros');
    const json = JSON.parse(timeline.toJson({ model: 'm' }));
    assert.equal(json.format, 'emolens-timeline/1');
    assert.equal(json.samples.length, 3);
    assert.deepEqual(timeline.faceIds(), [3]);
  });

  test('timeline memory is bounded', () => {
    const timeline = new Timeline(5);
    for (let i = 0; i < 12; i++) timeline.add({ tMs: i * 1000, group: groupMood([]), faces: [] });
    assert.equal(timeline.samples.length, 5);
    assert.equal(timeline.samples[0].tMs, 7000);
  });
});

// ---- analyzeFrames ----------------------------------------------------------------------------------------------

/** A face the fake detector "sees" in a frame, and what the fake classifier reads off it. */
interface Scripted { box: Box; emotion: (typeof EMOTIONS)[number] }

/**
 * Synthetic frames (tiny blank images; what the detector finds is scripted per image) and a fake analyzer over
 * them, with a fake clock: each classified face costs `msPerFace` ms, so the budget sees a known cost.
 */
function scriptedStream(script: Array<{ tMs: number; faces: Scripted[] }>, msPerFace = 50) {
  const faces = new Map<RgbaImage, Scripted[]>();
  const frames: Frame[] = script.map(({ tMs, faces: f }) => {
    const image = { data: new Uint8Array(4 * 4 * 4), width: 4, height: 4 };
    faces.set(image, f);
    return { tMs, image };
  });
  let now = 0;
  const calls: number[] = [];
  const analyzer: Pick<Analyzer, 'detect' | 'classifyFaces'> = {
    async detect(image) {
      return faces.get(image)!.map(({ box: b }): DetectedFace => ({
        box: b, score: 0.9, landmarks: { rightEye: { x: 0, y: 0 }, leftEye: { x: 0, y: 0 }, nose: { x: 0, y: 0 }, mouth: { x: 0, y: 0 } },
      }));
    },
    async classifyFaces(image, chosen) {
      calls.push(chosen.length);
      now += msPerFace * chosen.length;
      const scripted = faces.get(image)!;
      return chosen.map((c) => probs(scripted.find((s) => s.box === c.box)!.emotion, 0.9));
    },
  };
  return { frames, analyzer, calls, clock: () => now };
}

async function collect(stream: AsyncIterable<FrameResult>): Promise<FrameResult[]> {
  const out: FrameResult[] = [];
  for await (const frame of stream) out.push(frame);
  return out;
}

/** `n` frames `stepMs` apart; `faces(i)` says what frame i shows. */
const timeline = (n: number, stepMs: number, faces: (i: number) => Scripted[]) =>
  Array.from({ length: n }, (_, i) => ({ tMs: i * stepMs, faces: faces(i) }));

describe('analyzeFrames: the per-frame loop of the live view and video', () => {
  test('ids stay stable across frames while faces move; a new face gets the next id; results are snapshots', async () => {
    const script = timeline(12, 40, (i) => [
      { box: box(100 + 3 * i, 100), emotion: 'happy' },
      { box: box(400 - 2 * i, 120), emotion: 'sad' },
      ...(i >= 6 ? [{ box: box(700, 300), emotion: 'surprise' as const }] : []),
    ]);
    const { frames, analyzer, clock } = scriptedStream(script);
    const results = await collect(analyzeFrames(frames, { analyzer, clock, budget: { minFaces: 3 } }));
    assert.equal(results.length, 12);
    assert.deepEqual(results.map((r) => r.tMs), script.map((s) => s.tMs));
    for (const r of results.slice(0, 6)) assert.deepEqual(r.faces.map((f) => f.id), [1, 2]);
    for (const r of results.slice(6)) assert.deepEqual(r.faces.map((f) => f.id), [1, 2, 3]);
    const last = results.at(-1)!;
    assert.deepEqual(last.faces.map((f) => f.dominant), ['happy', 'sad', 'surprise']);
    // Frame 0's face is a copy: later frames moved the track on, not this result.
    assert.equal(results[0].faces[0].box.x, 100);
    assert.ok(last.faces[0].box.x > 120);
    assert.equal(results[0].width, 4);
  });

  test('the classification budget is respected: new faces first, the rest pending, then the oldest readings', async () => {
    // Six faces from the start; 50 ms per face against a 150 ms budget: 1 face on the first frame (no
    // measurement yet), then 3 a frame.
    const six = Array.from({ length: 6 }, (_, k): Scripted => ({ box: box(150 * k, 0), emotion: k % 2 ? 'sad' : 'happy' }));
    const { frames, analyzer, calls, clock } = scriptedStream(timeline(6, 33, () => six), 50);
    const results = await collect(analyzeFrames(frames, { analyzer, clock, budget: { frameBudgetMs: 150, minFaces: 1 } }));
    assert.deepEqual(calls, [1, 3, 3, 3, 3, 3]);
    assert.deepEqual(results.map((r) => r.classified), calls);
    assert.deepEqual(results.map((r) => r.faces.length), [1, 4, 6, 6, 6, 6]);
    assert.deepEqual(results.map((r) => r.pending.length), [5, 2, 0, 0, 0, 0]);
    assert.ok(results.every((r) => r.detected === 6 && r.faces.length + r.pending.length === 6));
    assert.deepEqual(results.map((r) => r.classifyMs), calls.map((n) => 50 * n));
    // Frames 3 and 4 re-read the faces read longest ago: every face's reading is at most two frames old.
    for (const r of results.slice(3)) for (const f of r.faces) assert.ok(r.tMs - f.classifiedMs <= 2 * 33, `face ${f.id} read at ${f.classifiedMs}, now ${r.tMs}`);
  });

  test('emotions are smoothed over time and dominant is the smoothed label', async () => {
    // One face, neutral for 5 frames, then happy: with tau 600 ms the smoothed label changes only once the
    // smoothed happy probability overtakes neutral by the hysteresis margin, not on the first happy frame.
    const script = timeline(20, 100, (i) => [{ box: box(0, 0), emotion: i < 5 ? 'neutral' : 'happy' }]);
    const { frames, analyzer, clock } = scriptedStream(script);
    const results = await collect(analyzeFrames(frames, { analyzer, clock, smoothing: { probabilityTauMs: 600, hysteresis: 0.05 } }));
    const face = (i: number) => results[i].faces[0];
    assert.equal(face(5).raw.happy, 0.9, 'the raw reading is the new one');
    assert.equal(face(5).dominant, 'neutral', 'one happy frame does not flip the label');
    // One 100 ms step of the EMA: p ← p + α (reading − p), α = 1 − e^(−100/600).
    const alpha = emaAlpha(100, 600);
    const expected = face(4).emotions.happy + alpha * (0.9 - face(4).emotions.happy);
    assert.ok(Math.abs(face(5).emotions.happy - expected) < 1e-12);
    const flip = results.findIndex((r) => r.faces[0].dominant === 'happy');
    assert.ok(flip > 5 && flip < 20, `label flipped at frame ${flip}`);
    const { happy, neutral } = face(flip).emotions;
    assert.ok(happy - neutral >= 0.05, 'it flips once happy leads by the hysteresis');
    // The same stream through a bare FaceTracker gives the same numbers: analyzeFrames adds no smoothing of its own.
    const tracker = new FaceTracker({ probabilityTauMs: 600, hysteresis: 0.05 });
    let direct: ReturnType<FaceTracker['update']> = [];
    for (const s of script) direct = tracker.update([{ box: s.faces[0].box, score: 0.9, emotions: probs(s.faces[0].emotion, 0.9) }], s.tMs);
    assert.deepEqual(results.at(-1)!.faces[0].emotions, direct[0].emotions);
  });

  test('a frame time that is not a finite number is a UsageError', async () => {
    const { frames, analyzer } = scriptedStream(timeline(1, 0, () => []));
    frames[0].tMs = Number.NaN;
    await assert.rejects(collect(analyzeFrames(frames, { analyzer })), UsageError);
  });
});

describe('DetectionSchedule (track, then detect)', () => {
  const flat = (value: number, half = false): RgbaImage => {
    const width = 64;
    const height = 36;
    const data = new Uint8ClampedArray(width * height * 4);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
      const i = 4 * (y * width + x);
      const v = half && x < width / 2 ? 255 - value : value;
      data[i] = data[i + 1] = data[i + 2] = v;
      data[i + 3] = 255;
    }
    return { data, width, height };
  };

  test('full detection first, then every detectEveryMs; a scene cut brings it forward', () => {
    const s = new DetectionSchedule({ detectEveryMs: 400 });
    const frame = flat(100);
    const decide = (t: number, image = frame) => {
      const d = s.needsFullDetection(t, image);
      if (d.full) s.detected(t);
      return d.reason;
    };
    assert.deepEqual([0, 200, 400, 600, 800].map((t) => decide(t)), ['first', 'follow', 'due', 'follow', 'due']);
    assert.equal(decide(1000, flat(104)), 'follow');            // a small change of light is not a cut
    assert.equal(decide(1100, flat(100, true)), 'cut');          // half the picture changes
    assert.equal(decide(1200, flat(100, true)), 'follow');
    assert.equal(decide(1500, flat(100, true)), 'due');
    const every = new DetectionSchedule({ detectEveryMs: 0 });
    assert.ok([0, 40, 80].every((t) => every.needsFullDetection(t, frame).full));
    assert.throws(() => new DetectionSchedule({ detectEveryMs: -1 }), UsageError);
  });

  test('StreamDetector follows between full detections; with maxFollowed, a larger group is detected in full', async () => {
    const frame = flat(100);
    const face = (x: number): DetectedFace => ({
      box: { x, y: 4, width: 10, height: 10 }, score: 0.9, landmarks: { rightEye: { x: 0, y: 0 }, leftEye: { x: 0, y: 0 }, nose: { x: 0, y: 0 }, mouth: { x: 0, y: 0 } },
    });
    const run = async (faces: number, maxFollowed?: number) => {
      const calls: string[] = [];
      const analyzer = {
        detect: async () => { calls.push('full'); return Array.from({ length: faces }, (_, i) => face(i * 20)); },
        follow: async (_image: RgbaImage, boxes: readonly Box[]) => { calls.push('follow'); return boxes.map((b) => face(b.x)); },
      };
      const detector = new StreamDetector(analyzer, { maxFollowed });
      const kinds: string[] = [];
      for (const t of [0, 100, 200, 300, 400, 500]) kinds.push((await detector.detect(t, frame)).detection);
      return { calls, kinds };
    };
    assert.deepEqual((await run(1)).kinds, ['full', 'follow', 'follow', 'follow', 'full', 'follow']);
    assert.deepEqual((await run(2, 2)).kinds, ['full', 'follow', 'follow', 'follow', 'full', 'follow']);
    const crowd = await run(3, 2);
    assert.deepEqual(crowd.kinds, ['full', 'full', 'full', 'full', 'full', 'full']);
    assert.ok(!crowd.calls.includes('follow'), 'three faces over maxFollowed 2 are never followed');
  });
});
