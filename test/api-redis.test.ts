/**
 * Jobs on BullMQ with a real redis-server (started here on a free port): `emolens worker` processes take the jobs
 * queued by the API; a worker killed with SIGKILL mid-job has its job handed to another worker and the result is
 * delivered once; uploads are deleted when the job ends; finished jobs expire after the TTL.
 * Without redis-server this file skips, except under CI=true where it fails (CI installs it, see .ci/run).
 */
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { startApiServer, type RunningApiServer } from '../src/api/server.js';
import { readEvents, redisServerPath, startRedis, startWorkerProcess, type RedisHandle } from './helpers/api-fixtures.js';
import { makeClip } from './helpers/clips.js';
import { SAMPLE_PHOTOS, tempDir, testEmotionModel } from './helpers/fixtures.js';

const REDIS_SERVER = redisServerPath();
const skip = !REDIS_SERVER && !process.env.CI ? 'redis-server is not installed (apt-get install redis-server)' : false;
const model = testEmotionModel().path;
const TTL_MS = 4000;
const LOCK_MS = 1500;

let redis: RedisHandle;
let server: RunningApiServer;
const children: ChildProcess[] = [];
const url = (path: string) => new URL(path, server.url).href;

/** `emolens worker` as its own process; resolves once it is taking jobs. */
const startWorker = (_name: string) => startWorkerProcess(redis.url, ['--lock-ms', String(LOCK_MS), '--model', model], {}, (w) => children.push(w.child));

const redisCli = (...args: string[]) => spawnSync('redis-cli', ['-p', String(redis.port), ...args], { encoding: 'utf8' }).stdout.trim();

/** Our keys left in Redis, except the `result:<id>` tombstones ("ENDED", no data) of jobs that ended. */
const ourKeys = () => redisCli('--scan', '--pattern', 'emolens:*').split('\n').filter((k) => k && !(/:result:/.test(k) && redisCli('get', k) === 'ENDED'));

/** Uploads and results are deleted once BullMQ has recorded the job's end: a few ms after the client can see it. */
async function noUploadsLeft(what: string): Promise<void> {
  for (let i = 0; i < 50 && ourKeys().length; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(ourKeys(), [], what);
}

describe('emolens api + emolens worker on Redis', { skip }, () => {
  before(async () => {
    redis = await startRedis(REDIS_SERVER);
    server = await startApiServer({ port: 0, workers: 1, analyzer: { model }, redisUrl: redis.url, limits: { resultTtlMs: TTL_MS } });
  });

  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await server?.close();
    await redis?.stop();
  });

  it('a worker killed with SIGKILL mid-job: another worker takes the job over and its result is delivered once', async () => {
    const health = await (await fetch(url('/v1/health'))).json() as { jobs: string };
    assert.equal(health.jobs, 'redis');
    const first = await startWorker('A');

    const fd = new FormData();
    for (const path of SAMPLE_PHOTOS) fd.append('image', new Blob([readFileSync(path)], { type: 'image/jpeg' }), path.split('/').at(-1));
    const created = await fetch(url('/v1/jobs'), { method: 'POST', body: fd });
    assert.equal(created.status, 202);
    const { id } = await created.json() as { id: string };
    assert.ok(redisCli('--scan', '--pattern', `emolens:*:input:${id}:*`).split('\n').length === SAMPLE_PHOTOS.length, 'uploads stored in Redis');

    let second: Promise<{ child: ChildProcess; log: () => string }> | undefined;
    const stream = await fetch(url(`/v1/jobs/${id}/events`));
    const events = await readEvents(stream, (e) => {
      const view = e.data as { state: string; progress: { done: number } };
      if (!second && view.state === 'running' && view.progress.done >= 1) {
        first.child.kill('SIGKILL');
        second = startWorker('B');
      }
    });
    assert.ok(second, 'worker A was killed mid-job');
    const b = await second;
    assert.equal(first.child.signalCode, 'SIGKILL');

    const completed = events.filter((e) => e.event === 'completed');
    assert.equal(completed.length, 1, `one completed event: ${events.map((e) => e.event)}`);
    const view = completed[0].data as { state: string; result: { images: Array<{ file: string; faces: unknown[] }> } };
    assert.equal(view.state, 'completed');
    assert.deepEqual(view.result.images.map((i) => i.file), SAMPLE_PHOTOS.map((p) => p.split('/').at(-1)));
    assert.ok(view.result.images.every((i) => i.faces.length > 0), 'every photo has faces');
    assert.match(b.log(), new RegExp(`job ${id} completed`));
    assert.doesNotMatch(first.log(), new RegExp(`job ${id} completed`));

    const again = await (await fetch(url(`/v1/jobs/${id}`))).json() as { state: string; result: unknown };
    assert.equal(again.state, 'completed');
    assert.deepEqual(again.result, view.result);
    await noUploadsLeft('uploads deleted when the job ended');
  });

  it('finished jobs expire after the result TTL, in Redis too', async () => {
    const fd = new FormData();
    fd.append('image', new Blob([readFileSync(SAMPLE_PHOTOS[0])], { type: 'image/jpeg' }), 'one.jpg');
    const { id } = await (await fetch(url('/v1/jobs'), { method: 'POST', body: fd })).json() as { id: string };
    const events = await readEvents(await fetch(url(`/v1/jobs/${id}/events`)));
    const last = events.at(-1)!.data as { state: string; expiresAt: string };
    assert.equal(last.state, 'completed');
    assert.equal((await fetch(url(`/v1/jobs/${id}`))).status, 200);
    assert.equal(redisCli('exists', `bull:emolens-jobs:${id}`), '1');
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(last.expiresAt) - Date.now()) + 200));
    assert.equal((await fetch(url(`/v1/jobs/${id}`))).status, 404);
    assert.equal(redisCli('exists', `bull:emolens-jobs:${id}`), '0');
  });

  it('a video job goes through Redis to a worker; its upload is deleted; a bad video fails with its error code', async () => {
    const dir = tempDir('emolens-redis-video-');
    const clip = await makeClip({ out: join(dir, 'clip.mp4'), width: 320, height: 180, fps: 10, durationS: 2, faces: [{ face: 2, size: 110, x: '10+50*t', y: '30' }] }, dir);
    const post = async (name: string, bytes: Uint8Array) => {
      const fd = new FormData();
      fd.append('video', new Blob([bytes], { type: 'video/mp4' }), name);
      const created = await fetch(url('/v1/jobs'), { method: 'POST', body: fd });
      assert.equal(created.status, 202);
      const { id } = await created.json() as { id: string };
      const events = await readEvents(await fetch(url(`/v1/jobs/${id}/events`)));
      return { id, last: events.at(-1)!, events };
    };
    const ok = await post('clip.mp4', readFileSync(clip));
    assert.equal(ok.last.event, 'completed', JSON.stringify(ok.last));
    const view = ok.last.data as { kind: string; progress: unknown; result: { file: string; frames: unknown[]; tracks: unknown[] } };
    assert.equal(view.kind, 'video');
    assert.equal(view.result.file, 'clip.mp4');
    assert.equal(view.result.frames.length, 10);
    assert.equal(view.result.tracks.length, 1);
    assert.deepEqual(view.progress, { done: 10, total: 10 });

    const fake = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypisom'), Buffer.alloc(4096, 0x5a)]);
    const bad = await post('fake.mp4', fake);
    assert.equal(bad.last.event, 'failed');
    const error = (bad.last.data as { error: { code: string; message: string } }).error;
    assert.equal(error.code, 'INVALID_VIDEO');
    assert.match(error.message, /^fake\.mp4: not a video/);
    await noUploadsLeft('uploads deleted when the jobs ended');
  });
});
