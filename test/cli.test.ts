/**
 * The `emolens` CLI as users run it: `node bin/emolens.js` on the compiled dist/ (built here when stale).
 * Pins output shapes (JSON, CSV, table), annotated files and exit codes: 0 ok, 1 any input failed, 2 usage.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { EMOTIONS } from '../src/labels.js';
import { writeBadImages } from './helpers/bad-images.js';
import { CLI, ROOT, SAMPLE_PHOTOS, tempDir, testEmotionModel } from './helpers/fixtures.js';
import { ensureBuiltCli, runCli as run } from './helpers/cli.js';


const model = testEmotionModel().path;

before(() => {
  ensureBuiltCli();
});

/** The commands `emolens --help` lists (its "Commands:" section, commander's own `help` left out). */
function listedCommands(help: string): string[] {
  const lines = help.split('\n');
  const start = lines.indexOf('Commands:');
  if (start < 0) return [];
  const end = lines.findIndex((line, i) => i > start && line.trim() === '');
  // A command's line starts with two spaces and its name; wrapped descriptions are indented further.
  return lines.slice(start + 1, end < 0 ? undefined : end)
    .flatMap((line) => /^ {2}(\S+)/.exec(line)?.[1] ?? [])
    .filter((name) => name !== 'help');
}

describe('emolens CLI: help and usage', () => {
  it('every command in --help loads: `emolens <command> --help` exits 0 with its usage', () => {
    const top = run('--help');
    assert.equal(top.code, 0, top.stderr);
    assert.match(top.stdout, /Usage: emolens/);
    assert.equal(top.stderr, '', 'no warnings while loading the commands');
    const commands = listedCommands(top.stdout);
    // The full set, so that a command that drops out of the CLI fails here rather than going unnoticed.
    assert.deepEqual([...commands].sort(), ['analyze', 'api', 'bench', 'demo', 'eval', 'explain', 'serve', 'video', 'worker'], `commands: ${commands}`);
    for (const command of commands) {
      const help = run(command, '--help');
      assert.equal(help.code, 0, `${command} --help: ${help.stderr}`);
      assert.match(help.stdout, new RegExp(`^Usage: emolens ${command} `), command);
      assert.match(help.stdout, /^Options:$/m, command);
    }
  });

  it('a command module that fails to load fails the CLI loudly instead of dropping the command', () => {
    // A module hook that makes dist/cli/serve.js throw on load, as a broken import in it would.
    const dir = tempDir('emolens-broken-cli-');
    writeFileSync(join(dir, 'hooks.mjs'), `export async function load(url, context, next) {
  if (url.endsWith('/dist/cli/serve.js')) throw new Error('simulated broken command module');
  return next(url, context);
}\n`);
    writeFileSync(join(dir, 'register.mjs'), "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n");
    const r = spawnSync(process.execPath, ['--import', pathToFileURL(join(dir, 'register.mjs')).href, CLI, '--help'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.notEqual(r.status, 0, 'the CLI must not start without one of its commands');
    assert.match(r.stderr, /simulated broken command module/);
    assert.doesNotMatch(r.stdout, /Usage: emolens/);
  });

  /** Run the CLI and close its stdout as `head` does: at once, or after the first chunk it writes. */
  async function closedEarly(args: string[], after: 'start' | 'first chunk'): Promise<{ code: number | null; stderr: string }> {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    if (after === 'start') child.stdout.destroy();
    else child.stdout.once('data', () => child.stdout.destroy());
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const code = await new Promise<number | null>((done) => child.on('close', (c) => done(c)));
    return { code, stderr };
  }

  it('a reader that closes the pipe early (`emolens <command> --help | head -1`) ends the CLI quietly, exit 0, not with an EPIPE stack trace', async () => {
    for (const args of [['--help'], ...['analyze', 'explain', 'demo', 'video', 'eval', 'bench', 'serve', 'api', 'worker'].map((c) => [c, '--help'])]) {
      const { code, stderr } = await closedEarly(args, 'start');
      assert.equal(stderr, '', args.join(' '));
      assert.equal(code, 0, args.join(' '));
    }
  });

  it('so does a run whose reader goes away while it is still writing (`emolens analyze --json … | head -c 1`)', async () => {
    const { code, stderr } = await closedEarly(['analyze', '--json', '--no-progress', '--model', model, SAMPLE_PHOTOS[0], SAMPLE_PHOTOS[1], SAMPLE_PHOTOS[2]], 'first chunk');
    assert.doesNotMatch(stderr, /EPIPE|\n\s+at /, stderr);
    assert.equal(code, 0, stderr);
  });

  it('usage errors exit 2 with one error line', () => {
    for (const args of [['analyze'], ['analyze', '--bogus', 'x.jpg'], ['nonsense'], ['analyze', '--json', '--csv', 'x.jpg'], ['analyze', '--min-score', '5', 'x.jpg'], ['analyze', '--max-pixels', 'lots', 'x.jpg']]) {
      const r = run(...args);
      assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, /^error: /m, args.join(' '));
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  });

  it('a usage error raised past flag parsing exits 2 too (a bad --redis URL of worker and api)', () => {
    for (const args of [['worker', '--redis', 'http://x'], ['worker', '--redis', 'not a url'], ['api', '--redis', 'http://x', '--port', '0']]) {
      const r = run(...args);
      assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, /^error: .*--redis/, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });

  it('a detector ONNX Runtime cannot load is one INVALID_MODEL line, exit 1, as for the emotion model', () => {
    const dir = tempDir('emolens-bad-detector-');
    const detector = join(dir, 'detector.onnx');
    writeFileSync(detector, Uint8Array.from([0x08, 0x07, 0x3a, 0x02, 0x0a, 0x00])); // protobuf with a graph field, not a model
    copyFileSync(join(ROOT, 'models', 'blazeface.json'), join(dir, 'detector.json'));
    const r = run('explain', '--json', '--model', model, '--detector', detector, SAMPLE_PHOTOS[0]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^error: blazeface: not an ONNX model ONNX Runtime can load \(/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });

  it('an unknown model is one error line, exit 1; --verbose adds the stack', () => {
    const r = run('analyze', '--model', 'no-such-model', SAMPLE_PHOTOS[0]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: model not found: no-such-model/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    const v = run('--verbose', 'analyze', '--model', 'no-such-model', SAMPLE_PHOTOS[0]);
    assert.equal(v.code, 1);
    assert.match(v.stderr, /ModelNotFoundError: model not found[\s\S]*\n\s+at /);
  });
});

describe('emolens analyze', () => {
  let dir: string;
  let bad: Awaited<ReturnType<typeof writeBadImages>>;
  before(async () => {
    dir = tempDir('emolens-cli-');
    bad = await writeBadImages(dir);
  });

  it('--json: good files analysed, bad files reported in place, exit 1', () => {
    const r = run('analyze', '--json', '--model', model, SAMPLE_PHOTOS[0], bad.truncated, bad.missing, SAMPLE_PHOTOS[1], bad.text, bad.empty, bad.huge);
    assert.equal(r.code, 1, r.stderr);
    const out = JSON.parse(r.stdout) as { images: Array<Record<string, unknown>> };
    assert.deepEqual(out.images.map((i) => i.file), [SAMPLE_PHOTOS[0], bad.truncated, bad.missing, SAMPLE_PHOTOS[1], bad.text, bad.empty, bad.huge]);
    for (const good of [out.images[0], out.images[3]]) {
      assert.deepEqual(Object.keys(good), ['file', 'width', 'height', 'faces']);
      const faces = good.faces as Array<{ box: object; score: number; landmarks: Record<string, object>; emotions: Record<string, number>; dominant: string }>;
      assert.ok(faces.length >= 3);
      for (const f of faces) {
        assert.deepEqual(Object.keys(f), ['box', 'score', 'landmarks', 'emotions', 'dominant']);
        assert.deepEqual(Object.keys(f.emotions), [...EMOTIONS]);
        assert.ok(Math.abs(Object.values(f.emotions).reduce((a, b) => a + b, 0) - 1) < 1e-3);
        assert.ok(['rightEye', 'leftEye', 'nose', 'mouth'].every((k) => k in f.landmarks));
      }
    }
    const failed = out.images.filter((i) => 'error' in i);
    for (const entry of failed) {
      assert.deepEqual(Object.keys(entry), ['file', 'error'], 'a failed input is { file, error: { code, message } }');
      assert.deepEqual(Object.keys(entry.error as object), ['code', 'message']);
      assert.match((entry.error as { message: string }).message, /^[^\n]+$/);
    }
    const errors = Object.fromEntries(failed.map((i) => [i.file, (i.error as { code: string }).code]));
    assert.deepEqual(errors, {
      [bad.truncated]: 'INVALID_IMAGE', [bad.missing]: 'INPUT_NOT_FOUND', [bad.text]: 'INVALID_IMAGE', [bad.empty]: 'INVALID_IMAGE', [bad.huge]: 'IMAGE_TOO_LARGE',
    });
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });

  it('--csv: a header and one row per face, exit 0 when all succeed', () => {
    const r = run('analyze', '--csv', '--model', model, SAMPLE_PHOTOS[2], SAMPLE_PHOTOS[3]);
    assert.equal(r.code, 0, r.stderr);
    const [header, ...rows] = r.stdout.trim().split('\n');
    assert.equal(header, `file,face,x,y,width,height,score,dominant,${EMOTIONS.join(',')}`);
    assert.ok(rows.length >= 6);
    for (const row of rows) {
      const cells = row.split(',');
      assert.equal(cells.length, 15);
      assert.ok([SAMPLE_PHOTOS[2], SAMPLE_PHOTOS[3]].includes(cells[0]));
      assert.ok((EMOTIONS as readonly string[]).includes(cells[7]));
      const probs = cells.slice(8).map(Number);
      assert.ok(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-3);
    }
    assert.deepEqual(rows.filter((r) => r.startsWith(SAMPLE_PHOTOS[2])).map((r) => r.split(',')[1]), rows.filter((r) => r.startsWith(SAMPLE_PHOTOS[2])).map((_, i) => String(i + 1)));
  });

  it('table output, folders, globs and --annotate', async () => {
    const photos = join(dir, 'photos', 'nested');
    mkdirSync(photos, { recursive: true });
    copyFileSync(SAMPLE_PHOTOS[0], join(photos, 'a.jpg'));
    copyFileSync(SAMPLE_PHOTOS[5], join(dir, 'photos', 'b.jpg'));
    const out = join(dir, 'annotated');
    const r = run('analyze', '--model', model, '--annotate', out, join(dir, 'photos'), `${dir}/photos/**/a.jpg`, join(dir, 'empty-glob-*.png'));
    assert.equal(r.code, 1, 'the glob that matches nothing is an error');
    assert.match(r.stdout, /b\.jpg {2}1920x1537, \d faces/);
    assert.match(r.stdout, /a\.jpg {2}1920x1280, \d faces/);
    assert.equal(r.stdout.match(/a\.jpg/g)?.length, 1, 'a.jpg from the folder and the glob is analysed once');
    assert.match(r.stdout, /#\s+dominant\s+angry disgust/);
    assert.match(r.stderr, /error: .*empty-glob-\*\.png: no image files match/);
    assert.deepEqual(readdirSync(out).sort(), ['a.jpg', 'b.jpg']);
    const meta = await sharp(join(out, 'b.jpg')).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 1920, 1537]);
  });
});

describe('a failed input has one JSON shape in every command', () => {
  it('analyze --json and video --json both write { file, error: { code, message } }', () => {
    const missing = join(tempDir('emolens-missing-'), 'missing.mp4');
    const analyze = run('analyze', '--json', '--model', model, missing);
    assert.equal(analyze.code, 1, analyze.stderr);
    const [image] = (JSON.parse(analyze.stdout) as { images: unknown[] }).images;
    const video = run('video', '--json', '--no-progress', '--model', model, missing);
    assert.equal(video.code, 1, video.stderr);
    const entry = JSON.parse(video.stdout.trim()) as unknown;
    for (const e of [image, entry]) {
      assert.deepEqual(Object.keys(e as object), ['file', 'error']);
      assert.equal((e as { file: string }).file, missing);
      const error = (e as { error: { code: string; message: string } }).error;
      assert.deepEqual(Object.keys(error), ['code', 'message']);
      assert.equal(error.code, 'INPUT_NOT_FOUND');
      assert.match(error.message, /missing\.mp4/);
    }
  });
});

describe('emolens demo', () => {
  it('--json analyses the six sample photos and writes annotated copies', () => {
    const out = join(tempDir('emolens-demo-'), 'demo');
    const r = run('demo', '--json', '--model', model, '--out', out);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as { images: Array<{ file: string; faces: unknown[]; annotated: string }> };
    assert.equal(result.images.length, 6);
    assert.ok(result.images.every((i) => i.faces.length >= 3 && existsSync(i.annotated)));
    assert.deepEqual(readdirSync(out).sort(), ['sample1.jpg', 'sample2.jpg', 'sample3.jpg', 'sample4.jpg', 'sample5.jpg', 'sample6.jpg']);
    assert.match(r.stderr, /annotated photos written to /);
  });
});

describe('input expansion', async () => {
  const { expandInputs, globToRegExp } = await import('../src/cli/common.js');

  it('globToRegExp: *, **, ?, [..], {a,b}', () => {
    const re = (g: string) => globToRegExp(g);
    assert.ok(re('*.jpg').test('a.jpg') && !re('*.jpg').test('x/a.jpg'));
    assert.ok(re('**/*.jpg').test('a.jpg') && re('**/*.jpg').test('x/y/a.jpg'));
    assert.ok(re('img?.{jpg,png}').test('img1.png') && !re('img?.{jpg,png}').test('img10.png'));
    assert.ok(re('[ab]*.gif').test('b1.gif') && !re('[ab]*.gif').test('c1.gif'));
    assert.ok(!re('a.jpg').test('aXjpg'), 'dots are literal');
  });

  it('folders recurse to images only; globs match relative to their fixed prefix; misses are error items', () => {
    const dir = tempDir('emolens-expand-');
    mkdirSync(join(dir, 'x', 'y'), { recursive: true });
    for (const f of ['a.jpg', 'notes.txt', 'x/b.PNG', 'x/y/c.webp', 'x/y/d.gif']) copyFileSync(SAMPLE_PHOTOS[0], join(dir, f));
    assert.deepEqual(expandInputs([dir]).map((i) => i.file.slice(dir.length + 1)), ['a.jpg', 'x/b.PNG', 'x/y/c.webp', 'x/y/d.gif']);
    assert.deepEqual(expandInputs([`${dir}/x/**/*.{webp,gif}`]).map((i) => i.file.slice(dir.length + 1)), ['x/y/c.webp', 'x/y/d.gif']);
    assert.deepEqual(expandInputs([join(dir, 'notes.txt'), join(dir, 'missing.jpg')]).map((i) => 'error' in i), [false, false], 'explicit files pass through; decode reports them');
    const [miss] = expandInputs([`${dir}/*.avif`]);
    assert.ok('error' in miss);
  });
});
