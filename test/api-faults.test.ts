/**
 * The job path under faults, with a real redis-server (append-only file, started here on a free port) and real
 * `emolens worker` processes: a worker killed with SIGKILL mid-job, Redis restarted (SIGTERM, then started again
 * on the same port and data) and Redis killed (SIGKILL, started again on its append-only file) while jobs run. Every job the client got an id for ends exactly once with its full
 * result; no request hangs past its timeout (503 + Retry-After while Redis is away, /v1/health/ready 503,
 * /v1/health/live 200); one log line per change of state; uploads gone from Redis and from the workers' temp folder.
 * Also: Idempotency-Key, per-token ownership, DELETE, the byte budget, the persistence warning, the sweep of a
 * killed worker's upload folder. Without redis-server this file skips, except under CI=true where it fails.
 */
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startApiServer, type RunningApiServer } from '../src/api/server.js';
import { groupPhoto640, redisServerPath, startRedis, startWorkerProcess, type RedisHandle } from './helpers/api-fixtures.js';
import { makeClip } from './helpers/clips.js';
import { tempDir, testEmotionModel } from './helpers/fixtures.js';

const REDIS_SERVER = redisServerPath();
const skip = !REDIS_SERVER && !process.env.CI ? 'redis-server is not installed (apt-get install redis-server)' : false;
const model = testEmotionModel().path;
const LOCK_MS = 1500;
const TOKEN_A = 'token-a-0123456789abcdef';
const TOKEN_B = 'token-b-0123456789abcdef';
const authA = { authorization: `Bearer ${TOKEN_A}` };
/** No request may take longer: the server's Redis calls give up after 3 s. */
const REQUEST_LIMIT_MS = 5000;

let redis: RedisHandle;
let aofDir: string;
let workerTmp: string;
let server: RunningApiServer;
const serverLog: string[] = [];
const children: ChildProcess[] = [];
const workerLogs = new Map<ChildProcess, () => string>();
/** Every worker's stderr so far. */
const workerText = () => [...workerLogs.values()].map((f) => f()).join('\n');
let photo: Buffer;
const url = (path: string) => new URL(path, server.url).href;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const redisCli = (...args: string[]) => spawnSync('redis-cli', ['-p', String(redis.port), ...args], { encoding: 'utf8' }).stdout.trim();

/** fetch that must answer within REQUEST_LIMIT_MS (an abort fails the test: that request hung). */
async function call(path: string, init: RequestInit = {}): Promise<Response> {
  const started = Date.now();
  const response = await fetch(url(path), { ...init, signal: AbortSignal.timeout(REQUEST_LIMIT_MS) });
  assert.ok(Date.now() - started < REQUEST_LIMIT_MS, `${path} answered within ${REQUEST_LIMIT_MS} ms`);
  return response;
}

async function assertUnavailable(response: Response): Promise<void> {
  const text = await response.text();
  assert.equal(response.status, 503, text);
  assert.match(response.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
  assert.deepEqual(Object.keys(JSON.parse(text) as object), ['error']);
  assert.equal((JSON.parse(text) as { error: { code: string } }).error.code, 'REDIS_UNAVAILABLE');
}

/** `emolens worker` as its own process with its own TMPDIR; resolves once it is taking jobs. */
const startWorker = (_name: string) => startWorkerProcess(redis.url, ['--lock-ms', String(LOCK_MS), '--model', model], { TMPDIR: workerTmp }, (w) => {
  children.push(w.child);
  workerLogs.set(w.child, w.log);
});

function imagesForm(n: number): FormData {
  const fd = new FormData();
  for (let i = 0; i < n; i++) fd.append('image', new Blob([photo], { type: 'image/jpeg' }), `p${i}.jpg`);
  return fd;
}

/** POST a job until it is accepted, the same Idempotency-Key on every try (a retry must get the same job). */
async function submit(key: string, body: () => FormData, deadlineMs = 60_000): Promise<{ id: string; tries: number; statuses: number[] }> {
  const statuses: number[] = [];
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    const r = await call('/v1/jobs', { method: 'POST', body: body(), headers: { ...authA, 'idempotency-key': key } });
    statuses.push(r.status);
    if (r.status === 202) return { id: ((await r.json()) as { id: string }).id, tries: statuses.length, statuses };
    assert.equal(r.status, 503, await r.text());
    await r.arrayBuffer().catch(() => {});
    await sleep(300);
  }
  throw new Error(`job ${key} never accepted: ${statuses}`);
}

interface Finished { state: string; result?: { images?: Array<{ file: string; faces: unknown[] }>; frames?: unknown[] }; error?: { code: string; message: string } }

/** Poll until the job has ended (503s while Redis is away are expected, hangs are not). */
async function finish(id: string, deadlineMs = 120_000): Promise<Finished> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    const r = await call(`/v1/jobs/${id}`, { headers: authA });
    if (r.status === 200) {
      const view = await r.json() as Finished;
      if (view.state === 'completed' || view.state === 'failed') return view;
    } else {
      assert.equal(r.status, 503, await r.text());
      await r.arrayBuffer().catch(() => {});
    }
    await sleep(250);
  }
  throw new Error(`job ${id} did not end`);
}

async function eventually(what: string, test: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) assert.fail(what);
    await sleep(100);
  }
}

/**
 * Every job of `ids` ended once with its full result (`files[n]`: the upload names job n's result lists), each result
 * recorded by one run only, nothing lost as "the uploaded files … are gone", no stack trace in any log.
 */
async function assertEachEndedOnce(ids: string[], files: (n: number) => string[]): Promise<void> {
  const views = await Promise.all(ids.map((id) => finish(id)));
  for (const [n, view] of views.entries()) {
    assert.equal(view.state, 'completed', `job ${ids[n]}: ${JSON.stringify(view.error)}`);
    assert.deepEqual(view.result!.images!.map((i) => i.file), files(n));
    assert.ok(view.result!.images!.every((i) => i.faces.length > 0), 'full results');
  }
  assert.equal(new Set(ids).size, ids.length, 'distinct jobs');
  const text = workerText();
  for (const id of ids) assert.equal(count(text, new RegExp(`job ${id} result recorded`)), 1, `job ${id} recorded once:\n${text}`);
  assert.doesNotMatch(text, /are gone/);
  assert.doesNotMatch(text, /\n\s+at \S/, 'no stack traces in the workers\' logs');
  assert.ok(serverLog.every((l) => !/\n\s+at \S/.test(l)), 'no stack traces in the server log');
}

/** Uploads gone from Redis, and their byte count back to nothing. */
const uploadsDeleted = () => eventually('uploads deleted from Redis', () => redisCli('--scan', '--pattern', 'emolens:*:input:*') === '' && redisCli('exists', 'emolens:emolens-jobs:bytes') === '0', 15_000);

/** What is in the workers' TMPDIR, but tsx's compile cache (tsx-<uid>/: the tests run workers from source). */
const tmpFiles = () => readdirSync(workerTmp).filter((n) => !/^tsx-\d+$/.test(n));

const count = (text: string, re: RegExp) => (text.match(new RegExp(re.source, 'g')) ?? []).length;

describe('jobs on Redis under faults', { skip }, () => {
  before(async () => {
    photo = await groupPhoto640();
    aofDir = tempDir('emolens-aof-');
    workerTmp = tempDir('emolens-worker-tmp-');
    redis = await startRedis(REDIS_SERVER, { aofDir });
    server = await startApiServer({
      port: 0, workers: 1, tokens: [TOKEN_A, TOKEN_B], analyzer: { model }, redisUrl: redis.url,
      limits: { maxQueuedBytes: 4 * 1024 * 1024, maxRequestBytes: 3 * 1024 * 1024 },
      log: (line) => serverLog.push(line),
    });
  });

  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await server?.close();
    await redis?.stop();
  });

  it('warns once at start that this Redis persists its data (append-only file)', () => {
    assert.equal(serverLog.filter((l) => /warning: Redis .* writes its data to disk \(appendonly yes\)/.test(l)).length, 1, serverLog.join('\n'));
  });

  it('a killed worker\'s upload folder is deleted when a worker starts', async () => {
    // A pid that is surely dead: a process that has exited.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const stale = join(workerTmp, `emolens-upload-${dead}-abc123`);
    mkdirSync(stale);
    writeFileSync(join(stale, 'upload'), 'a video of somebody');
    await startWorker('A');
    assert.deepEqual(tmpFiles(), [], 'swept at start');
  });

  it('kill -9 a worker and restart Redis mid-run: every job ends once with its full result; requests never hang', async () => {
    await startWorker('B');
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await submit(`before-${i}`, () => imagesForm(3))).id);

    // Kill the worker running the first job, once it has analysed an image.
    await eventually('a job is running', () => /"done":[12]/.test(redisCli('hget', `bull:emolens-jobs:${ids[0]}`, 'progress')), 60_000);
    const victim = children[0];
    victim.kill('SIGKILL');
    await startWorker('C');

    // Redis away for ~3 s: answered, not hung.
    await redis.stop();
    const downAt = Date.now();
    await assertUnavailable(await call('/v1/jobs', { method: 'POST', body: imagesForm(1), headers: authA }));
    await assertUnavailable(await call(`/v1/jobs/${ids[1]}`, { headers: authA }));
    await assertUnavailable(await call(`/v1/jobs/${ids[1]}/events`, { headers: authA }));
    await assertUnavailable(await call('/v1/health/ready'));
    assert.equal((await call('/v1/health/live')).status, 200);
    assert.equal((await call('/v1/health')).status, 200);
    const during = submit('during', () => imagesForm(2));
    await sleep(Math.max(0, 3000 - (Date.now() - downAt)));
    redis = await startRedis(REDIS_SERVER, { port: redis.port, aofDir });
    ids.push((await during).id);
    for (let i = 0; i < 2; i++) ids.push((await submit(`after-${i}`, () => imagesForm(2))).id);
    // A retry of an accepted job gets the same id and queues nothing new.
    assert.equal((await submit('before-0', () => imagesForm(3))).id, ids[0]);

    // Exactly once: each job's result recorded by one run only.
    await assertEachEndedOnce(ids, (n) => Array.from({ length: n < 4 ? 3 : 2 }, (_, i) => `p${i}.jpg`));
    assert.equal(serverLog.filter((l) => /lost Redis/.test(l)).length, 1, serverLog.join('\n'));
    assert.equal(serverLog.filter((l) => /Redis at .* is back/.test(l)).length, 1, serverLog.join('\n'));
    assert.equal((await call('/v1/health/ready')).status, 200);
    await uploadsDeleted();
  });

  it('kill -9 Redis mid-run (append-only file, fsync always): every job the client got an id for ends once with its full result', async () => {
    const lostBefore = serverLog.filter((l) => /lost Redis/.test(l)).length;
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await submit(`k9-before-${i}`, () => imagesForm(2))).id);
    await eventually('a job is running', () => /"done":1/.test(redisCli('hget', `bull:emolens-jobs:${ids[0]}`, 'progress')), 60_000);

    // Redis dies without saving anything (no shutdown, no AOF rewrite): only what was fsynced survives.
    await redis.kill();
    const downAt = Date.now();
    await assertUnavailable(await call('/v1/jobs', { method: 'POST', body: imagesForm(1), headers: authA }));
    await assertUnavailable(await call(`/v1/jobs/${ids[1]}`, { headers: authA }));
    await assertUnavailable(await call('/v1/health/ready'));
    assert.equal((await call('/v1/health/live')).status, 200);
    const during = submit('k9-during', () => imagesForm(2));
    await sleep(Math.max(0, 3000 - (Date.now() - downAt)));
    redis = await startRedis(REDIS_SERVER, { port: redis.port, aofDir });
    ids.push((await during).id);
    ids.push((await submit('k9-after', () => imagesForm(2))).id);

    await assertEachEndedOnce(ids, () => ['p0.jpg', 'p1.jpg']);
    assert.equal(serverLog.filter((l) => /lost Redis/.test(l)).length, lostBefore + 1, serverLog.join('\n'));
    await uploadsDeleted();
  });

  it('a video and an images job leave no file in the workers\' temp folder', async () => {
    const dir = tempDir('emolens-faults-clip-');
    const clip = await makeClip({ out: join(dir, 'clip.mp4'), width: 320, height: 180, fps: 10, durationS: 1, faces: [{ face: 2, size: 110, x: '10+50*t', y: '30' }] }, dir);
    const before = tmpFiles();
    const video = await submit('video', () => {
      const fd = new FormData();
      fd.append('video', new Blob([readFileSync(clip)], { type: 'video/mp4' }), 'clip.mp4');
      return fd;
    });
    const images = await submit('images', () => imagesForm(1));
    assert.equal((await finish(video.id)).state, 'completed');
    assert.equal((await finish(images.id)).state, 'completed');
    assert.deepEqual(before, []);
    assert.deepEqual(tmpFiles(), [], 'no temp file left (no upload, no ONNX Runtime telemetry file)');
  });

  it('jobs belong to their token; DELETE removes the job, its uploads and its result', async () => {
    const { id } = await submit('owned', () => imagesForm(1));
    const b = { authorization: `Bearer ${TOKEN_B}` };
    assert.equal((await call(`/v1/jobs/${id}`, { headers: b })).status, 404);
    assert.equal((await call(`/v1/jobs/${id}`, { method: 'DELETE', headers: b })).status, 404);
    assert.equal((await finish(id)).state, 'completed');
    assert.equal((await call(`/v1/jobs/${id}`, { method: 'DELETE', headers: authA })).status, 204);
    assert.equal((await call(`/v1/jobs/${id}`, { headers: authA })).status, 404);
    assert.equal(redisCli('exists', `bull:emolens-jobs:${id}`), '0');
    assert.equal(redisCli('--scan', '--pattern', `emolens:*:${id}*`), '');
  });

  it('over the byte budget of queued uploads: 503 OVERLOADED; over the total per request: 413', async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL'); // nothing takes the jobs now
    const big = Buffer.concat([photo, Buffer.alloc(900 * 1024)]);
    const form = () => { const fd = new FormData(); fd.append('image', new Blob([big], { type: 'image/jpeg' }), 'big.jpg'); return fd; };
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await call('/v1/jobs', { method: 'POST', body: form(), headers: authA });
      statuses.push(r.status);
      if (r.status === 503) assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'OVERLOADED');
      else await r.arrayBuffer();
    }
    assert.ok(statuses.includes(202) && statuses.includes(503), `${statuses}`);
    assert.ok(statuses.indexOf(503) < statuses.length && statuses.slice(statuses.indexOf(503)).every((s) => s === 503), `${statuses}`);
    const four = new FormData();
    for (let i = 0; i < 4; i++) four.append('image', new Blob([big], { type: 'image/jpeg' }), `${i}.jpg`);
    const tooBig = await call('/v1/jobs', { method: 'POST', body: four, headers: authA });
    assert.equal(tooBig.status, 413);
    assert.equal(((await tooBig.json()) as { error: { code: string } }).error.code, 'PAYLOAD_TOO_LARGE');
  });
});
