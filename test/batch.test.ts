/**
 * Resumable batches: `emolens analyze DIR --out results.jsonl [--resume]` as users run it (node bin/emolens.js on
 * dist/, built here when stale). The run is killed with SIGKILL once its first lines are on disk, then resumed:
 * the file must end with exactly the entries a clean run writes, one success line per image, no duplicates.
 * Also pins the reading rules of src/cli/results-file.ts: torn last lines, retried errors, foreign files; and that
 * --workers 2 writes what --workers 1 does.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { readResults } from '../src/cli/results-file.js';
import { CLI, ROOT, SAMPLE_PHOTOS, tempDir, testEmotionModel } from './helpers/fixtures.js';
import { ensureBuiltCli, runCli as run } from './helpers/cli.js';

const model = testEmotionModel().path;
// One thread: the same numbers in every run, so entries of a resumed run compare equal to a clean run's.
const ANALYZE = ['analyze', '--model', model, '--threads', '1', '--no-progress'];


/** Start a run and SIGKILL it as soon as the results file holds more than `after` complete lines. */
async function runAndKill(out: string, after: number, ...args: string[]): Promise<{ signal: NodeJS.Signals | null; code: number | null }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: 'ignore', env: { ...process.env, NO_COLOR: '1' } });
  const exited = new Promise<{ signal: NodeJS.Signals | null; code: number | null }>((done) => child.on('exit', (code, signal) => done({ code, signal })));
  const poll = setInterval(() => {
    if (existsSync(out) && completeLines(readFileSync(out, 'utf8')).length > after) child.kill('SIGKILL');
  }, 10);
  try {
    return await exited;
  } finally {
    clearInterval(poll);
  }
}

const completeLines = (text: string) => text.split('\n').slice(0, -1);

interface Entry { file: string; faces?: unknown[]; error?: { code: string; message: string } }
/** Every line of a results file, each checked to be one JSON entry (a parse error fails the test). */
function entries(path: string): { line: string; entry: Entry }[] {
  const text = readFileSync(path, 'utf8');
  assert.ok(text === '' || text.endsWith('\n'), 'the file ends with a complete line');
  return completeLines(text).map((line) => ({ line, entry: JSON.parse(line) as Entry }));
}

const successLines = (path: string) => entries(path).filter(({ entry }) => entry.faces).map(({ line }) => line);

let dir: string;
let work: string;
let goodImages: string[];
let corrupt: string;
let clean: string;

before(async () => {
  ensureBuiltCli();
  work = tempDir('emolens-batch-');
  dir = join(work, 'photos');
  mkdirSync(join(dir, 'more'), { recursive: true });
  // Small copies, so a whole batch takes seconds; one in a subfolder (folders are walked recursively).
  goodImages = SAMPLE_PHOTOS.map((_, i) => join(dir, `sample${i + 1}.jpg`));
  goodImages.push(join(dir, 'more', 'sample1-small.jpg'));
  await Promise.all(SAMPLE_PHOTOS.map((src, i) => sharp(src).resize(480).jpeg().toFile(goodImages[i])));
  await sharp(SAMPLE_PHOTOS[0]).resize(360).jpeg().toFile(goodImages[6]);
  corrupt = join(dir, 'corrupt.jpg');
  writeFileSync(corrupt, readFileSync(SAMPLE_PHOTOS[1]).subarray(0, 64)); // a JPEG cut off inside its header

  clean = join(work, 'clean.jsonl');
  const r = run(...ANALYZE, dir, '--out', clean);
  assert.equal(r.code, 1, `the corrupt file makes the exit code 1: ${r.stderr}`);
});

describe('emolens analyze --out: results file', () => {
  it('writes exactly the --json entries, one line per image, and keeps stdout empty', () => {
    const lines = entries(clean);
    assert.equal(lines.length, goodImages.length + 1);
    assert.deepEqual(lines.map(({ entry }) => entry.file).sort(), [...goodImages, corrupt].sort());
    const error = lines.find(({ entry }) => entry.file === corrupt)!.entry;
    assert.deepEqual(Object.keys(error), ['file', 'error']);
    assert.equal(error.error?.code, 'INVALID_IMAGE');
    assert.equal(typeof error.error?.message, 'string');

    const json = run(...ANALYZE, dir, '--json');
    const images = (JSON.parse(json.stdout) as { images: unknown[] }).images;
    assert.deepEqual(new Set(images.map((e) => JSON.stringify(e))), new Set(lines.map(({ line }) => line)), 'the same entries as --json');

    const out = join(work, 'quiet.jsonl');
    const quiet = run(...ANALYZE, goodImages[0], '--out', out);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stdout, '', 'with --out, stdout stays empty');
    assert.match(quiet.stderr, /1 image, .*results in /);
  });

  it('--workers 2 (images on worker threads) writes the same lines in the same order as --workers 1', () => {
    const one = join(work, 'workers1.jsonl');
    const two = join(work, 'workers2.jsonl');
    assert.equal(run(...ANALYZE, dir, '--out', one, '--workers', '1').code, 1);
    assert.equal(run(...ANALYZE, dir, '--out', two, '--workers', '2').code, 1, 'the corrupt file still fails the batch');
    assert.equal(readFileSync(two, 'utf8'), readFileSync(one, 'utf8'));
    const bad = run(...ANALYZE, dir, '--workers', '0');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--workers/);
  });

  it('refuses a non-empty file without --resume, a foreign file, and --out with --json or --csv (exit 2, one line, file untouched)', () => {
    const before = readFileSync(clean);
    const refused = run(...ANALYZE, dir, '--out', clean);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /^error: --out .* already holds results: add --resume/);
    assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
    assert.deepEqual(readFileSync(clean), before);

    const foreign = join(work, 'notes.jsonl');
    writeFileSync(foreign, 'my notes\n');
    const notOurs = run(...ANALYZE, dir, '--out', foreign, '--resume');
    assert.equal(notOurs.code, 2);
    assert.match(notOurs.stderr, /^error: --out .*: line 1 is not a result of emolens analyze/);
    assert.equal(readFileSync(foreign, 'utf8'), 'my notes\n');

    for (const flag of ['--json', '--csv']) assert.equal(run(...ANALYZE, dir, '--out', join(work, 'x.jsonl'), flag).code, 2, flag);
    assert.equal(run(...ANALYZE, dir, '--resume').code, 2, '--resume needs --out');

    const help = run('analyze', '--help');
    assert.match(help.stdout, /--resume/);
    assert.match(help.stdout, /refused/);
  });

  it('killed (SIGKILL) mid-batch, then resumed: no finished line lost, no duplicate, a torn last line repaired, the clean run\'s entries', async () => {
    const out = join(work, 'killed.jsonl');
    const killed = await runAndKill(out, 0, ...ANALYZE, dir, '--out', out);
    assert.equal(killed.signal, 'SIGKILL', `the run was killed before it finished (exit ${killed.code})`);
    const atKill = successLines(out);
    assert.ok(atKill.length < goodImages.length, `killed mid-batch (${atKill.length} of ${goodImages.length} done)`);
    for (const line of atKill) assert.ok(successLines(clean).includes(line), 'every line written before the kill is a finished entry');

    // A kill in the middle of a write leaves a line without its newline: the resumed run must cut it off.
    const missing = goodImages.find((file) => !atKill.some((line) => line.includes(JSON.stringify(file))))!;
    appendFileSync(out, `{"file":${JSON.stringify(missing)},"width":480,"hei`);

    const resumed = run(...ANALYZE, dir, '--out', out, '--resume');
    assert.equal(resumed.code, 1, resumed.stderr); // the corrupt file failed again
    assert.match(resumed.stderr, /cut off a torn last line/);
    assert.match(resumed.stderr, new RegExp(`${atKill.length} already in .*, skipped`));

    const final = successLines(out);
    assert.equal(final.length, goodImages.length, 'one success line per image');
    assert.equal(new Set(final.map((line) => (JSON.parse(line) as Entry).file)).size, goodImages.length, 'no duplicates');
    assert.deepEqual(new Set(final), new Set(successLines(clean)), 'the same entries as an uninterrupted run');
    const errors = entries(out).filter(({ entry }) => entry.error);
    assert.ok(errors.length >= 1 && errors.every(({ entry }) => entry.file === corrupt), 'only the corrupt file has error lines');
    assert.equal(errors.at(-1)!.line, entries(clean).find(({ entry }) => entry.error)!.line);

    // Resumed again: the done images are not analysed again, the failed one is retried (one more line).
    const linesBefore = entries(out).length;
    assert.equal(run(...ANALYZE, dir, '--out', out, '--resume').code, 1);
    assert.equal(entries(out).length, linesBefore + 1);
    assert.equal(entries(out).at(-1)!.entry.file, corrupt);

    // The failure was transient: the file is good now, so the retry succeeds; the next resume has nothing to do.
    copyFileSync(goodImages[6], corrupt);
    assert.equal(run(...ANALYZE, dir, '--out', out, '--resume').code, 0);
    const afterFix = readFileSync(out);
    const idle = run(...ANALYZE, dir, '--out', out, '--resume');
    assert.equal(idle.code, 0, idle.stderr);
    assert.match(idle.stderr, /^0 images, 0 faces; 8 already in .*, skipped/m);
    assert.deepEqual(readFileSync(out), afterFix, 'an error line followed by a success line reads as done');
    writeFileSync(corrupt, readFileSync(SAMPLE_PHOTOS[1]).subarray(0, 64));
  });
});

describe('readResults (src/cli/results-file.ts)', () => {
  const ok = (file: string) => JSON.stringify({ file, width: 1, height: 1, faces: [] });
  const bad = (file: string) => JSON.stringify({ file, error: { code: 'INVALID_IMAGE', message: 'x: not an image' } });

  it('a success after errors is done; an error last is failed; a torn last line is cut off the file', () => {
    const path = join(tempDir('emolens-results-'), 'r.jsonl');
    writeFileSync(path, `${bad('/a.jpg')}\n${ok('/a.jpg')}\n${bad('/b.jpg')}\n\n${ok('/c.jpg')}\n{"file":"/d.jpg","wi`);
    const intact = `${bad('/a.jpg')}\n${ok('/a.jpg')}\n${bad('/b.jpg')}\n\n${ok('/c.jpg')}\n`;
    const soFar = readResults(path);
    assert.deepEqual([...soFar.done].sort(), ['/a.jpg', '/c.jpg']);
    assert.deepEqual([...soFar.failed], ['/b.jpg']);
    assert.equal(soFar.tornBytes, '{"file":"/d.jpg","wi'.length);
    assert.equal(readFileSync(path, 'utf8'), intact);
    assert.equal(readResults(path).tornBytes, 0);
  });

  it('reads the error lines of earlier versions too ({ file, error: "…", code })', () => {
    const path = join(tempDir('emolens-results-'), 'r.jsonl');
    const old = (file: string) => JSON.stringify({ file, error: 'x: not an image', code: 'INVALID_IMAGE' });
    writeFileSync(path, `${old('/a.jpg')}\n${ok('/a.jpg')}\n${old('/b.jpg')}\n`);
    const soFar = readResults(path);
    assert.deepEqual([...soFar.done], ['/a.jpg']);
    assert.deepEqual([...soFar.failed], ['/b.jpg']);
  });

  it('a torn line ending inside a multi-byte character is cut at the last newline, in bytes', () => {
    const path = join(tempDir('emolens-results-'), 'r.jsonl');
    const line = `${ok('/photos/é.jpg')}\n`;
    writeFileSync(path, Buffer.concat([Buffer.from(line), Buffer.from(ok('/photos/日本.jpg')).subarray(0, 22)]));
    assert.deepEqual([...readResults(path).done], ['/photos/é.jpg']);
    assert.equal(readFileSync(path, 'utf8'), line);
  });

  it('lines that straddle its 1 MB read chunks are read whole (a file of 2.5 MB)', () => {
    const path = join(tempDir('emolens-results-'), 'r.jsonl');
    const files = Array.from({ length: 5000 }, (_, i) => `/photos/${String(i).padStart(5, '0')}-${'x'.repeat(400)}.jpg`);
    writeFileSync(path, files.map((f) => `${ok(f)}\n`).join(''));
    const soFar = readResults(path);
    assert.equal(soFar.done.size, files.length);
    assert.ok(files.every((f) => soFar.done.has(f)));
    assert.equal(soFar.tornBytes, 0);
  });

  it('a missing file is an empty start', () => {
    const soFar = readResults(join(tempDir('emolens-results-'), 'none.jsonl'));
    assert.equal(soFar.done.size + soFar.failed.size + soFar.tornBytes, 0);
  });
});
