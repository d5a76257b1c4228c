/**
 * `emolens explain` as users run it (the built CLI): overlay PNGs and saliency JSON for the demo photos, and bad
 * input as one error line with the good files still explained.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { EMOTIONS } from '../src/labels.js';
import { ensureBuiltCli, runCli as run } from './helpers/cli.js';
import { ROOT, SAMPLE_PHOTOS, tempDir, testEmotionModel } from './helpers/fixtures.js';
import { requires, sharedData } from './helpers/prerequisites.js';

const FER = join(ROOT, '..', 'shared', 'datasets', 'fer2013');

const model = testEmotionModel().path;

before(() => ensureBuiltCli());

interface ExplainJson {
  images: Array<{ file: string; width: number; height: number; error?: string; code?: string; faces: Array<{ box: object; emotions: Record<string, number>; dominant: string; png?: string; saliency: { method: string; emotion: string; width: number; height: number; data: number[] } }> }>;
}

describe('emolens explain', () => {
  it('writes an overlay PNG per face and the saliency map beside box and emotions in JSON', async () => {
    const out = tempDir();
    const r = run('explain', SAMPLE_PHOTOS[0], '--out', out, '--json', '--model', model);
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout) as ExplainJson;
    assert.equal(json.images.length, 1);
    const faces = json.images[0].faces;
    assert.ok(faces.length >= 1);
    for (const [i, face] of faces.entries()) {
      assert.deepEqual(Object.keys(face), ['box', 'score', 'landmarks', 'emotions', 'dominant', 'saliency', 'png']);
      assert.deepEqual(Object.keys(face.emotions), [...EMOTIONS]);
      const s = face.saliency;
      assert.equal(s.emotion, face.dominant);
      assert.equal(s.width, 48);
      assert.equal(s.height, 48);
      assert.equal(s.data.length, 48 * 48);
      assert.ok(s.data.every((v) => v >= 0 && v <= 1) && s.data.includes(1));
      assert.equal(face.png, join(out, `sample1-face${i + 1}.png`));
      const meta = await sharp(face.png!).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['png', 192, 192]);
    }
  });

  it('explains another emotion by occlusion on request, and names the method', () => {
    const r = run('explain', SAMPLE_PHOTOS[0], '--json', '--method', 'occlusion', '--emotion', 'sad', '--max-faces', '1', '--model', model);
    assert.equal(r.code, 0, r.stderr);
    const face = (JSON.parse(r.stdout) as ExplainJson).images[0].faces[0];
    assert.equal(face.saliency.method, 'occlusion');
    assert.equal(face.saliency.emotion, 'sad');
    assert.equal(face.png, undefined, '--json without --out writes no PNGs');
  });

  it('takes face crops as they are with --crops (one face: the whole image)', () => {
    const out = tempDir();
    const r = run('explain', SAMPLE_PHOTOS[1], '--crops', '--out', out, '--model', model);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /sample2\.jpg {2}1 face\n/);
    assert.ok(existsSync(join(out, 'sample2-face1.png')));
  });

  it('a bad file is one error line; the good file is still explained; exit 1', () => {
    const dir = tempDir();
    const broken = join(dir, 'broken.jpg');
    writeFileSync(broken, 'not an image');
    const r = run('explain', broken, SAMPLE_PHOTOS[0], join(dir, 'missing.png'), '--json', '--max-faces', '1', '--model', model);
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 2, r.stderr);
    assert.ok(lines.every((l) => l.startsWith('error: ')), r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    const images = (JSON.parse(r.stdout) as ExplainJson).images;
    assert.deepEqual(images.map((i) => i.error === undefined), [false, true, false]);
    assert.equal(images[1].faces.length, 1);
  });

  it('bad usage is one error line and exit 2', () => {
    for (const args of [['--method', 'lime'], ['--emotion', 'bored'], ['--scale', '0']]) {
      const r = run('explain', SAMPLE_PHOTOS[0], ...args, '--model', model);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^error: invalid --/);
    }
  });
});

describe('emolens eval --saliency', () => {
  it('adds right and wrong faces per class with their maps to the report, and only when asked', requires(sharedData(FER)), () => {
    const dir = tempDir();
    const withFaces = join(dir, 'with.html');
    const r = run('eval', '--data', FER, '--split', 'val', '--limit', '140', '--report', withFaces, '--saliency', '1', '--model', model);
    assert.equal(r.code, 0, r.stderr);
    const html = readFileSync(withFaces, 'utf8');
    assert.match(html, /<section class="card" id="saliency">/);
    assert.match(html, /embeds faces from your data set/);
    const rows = html.split('<table class="why">')[1].split('</table>')[0].match(/<tr><th scope="row">/g) ?? [];
    assert.equal(rows.length, 7);
    // 1 right + 1 wrong per class at most, two images (crop, overlay) each
    const images = html.match(/<img src="data:image\/png;base64,/g) ?? [];
    assert.ok(images.length >= 14 && images.length <= 28, `${images.length} images`);
    const without = join(dir, 'without.html');
    assert.equal(run('eval', '--data', FER, '--split', 'val', '--limit', '140', '--report', without, '--model', model).code, 0);
    assert.doesNotMatch(readFileSync(without, 'utf8'), /id="saliency"|data:image\/png/);
  });

  it('--saliency without --report is a usage error', () => {
    const r = run('eval', '--data', FER, '--saliency', '--model', model);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: --saliency adds a section to the HTML report/);
  });
});
