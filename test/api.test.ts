/**
 * `emolens api` over real HTTP: auth, the JSON error shape of every bad request (never a stack trace), the result
 * byte-equal to `emolens analyze --json`, load shedding (503 + Retry-After) with the server answering afterwards,
 * saliency maps (?explain=) equal to `emolens explain --json`, the in-process job lifecycle with server-sent progress and
 * result expiry, a job's images on every worker with requests' images first, and video jobs: the result equal to
 * `emolens video --json` for the same clip (generated here), the upload's private temp file gone afterwards, and
 * bad videos answered with JSON errors.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { WorkerPool } from '../src/api/pool.js';
import { startApiServer, type RunningApiServer } from '../src/api/server.js';
import { UsageError } from '../src/errors.js';
import { groupPhoto640, readEvents } from './helpers/api-fixtures.js';
import { hugePngHeader, truncatedJpeg } from './helpers/bad-images.js';
import { makeClip } from './helpers/clips.js';
import { ROOT, tempDir, testEmotionModel } from './helpers/fixtures.js';

const TOKEN = 'test-token-0123456789abcdef';
const OTHER_TOKEN = 'other-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };
const model = testEmotionModel().path;
const TTL_MS = 1500;

let server: RunningApiServer;
let photo: Buffer;
let clipDir: string;
const CLIP = 'clip.mp4';
const url = (path: string) => new URL(path, server.url).href;

function postImage(body: Uint8Array | string, type = 'image/jpeg', headers: Record<string, string> = auth): Promise<Response> {
  return fetch(url('/v1/analyze'), { method: 'POST', body, headers: { ...headers, 'content-type': type } });
}

function form(files: Array<[field: string, name: string, type: string, bytes: Uint8Array]>): FormData {
  const fd = new FormData();
  for (const [field, name, type, bytes] of files) fd.append(field, new Blob([bytes], { type }), name);
  return fd;
}

/** The one error shape: exactly { error: { code, message } }, a one-line message, no stack. */
async function assertJsonError(response: Response, status: number, code: string): Promise<string> {
  const text = await response.text();
  assert.equal(response.status, status, text);
  assert.match(response.headers.get('content-type') ?? '', /application\/json/);
  const body = JSON.parse(text) as { error: { code: string; message: string } };
  assert.deepEqual(Object.keys(body), ['error']);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message']);
  assert.equal(body.error.code, code, text);
  assert.doesNotMatch(text, /\n|\s+at \S+ \(|node_modules|\.ts:\d+/, `no stack trace: ${text}`);
  return body.error.message;
}

before(async () => {
  photo = await groupPhoto640();
  // Two faces, one moving, one coming and going; 2 s at 5 analysed fps = 10 frames (small, so the test stays quick).
  clipDir = tempDir('emolens-api-video-');
  await makeClip({
    out: join(clipDir, CLIP), width: 320, height: 180, fps: 10, durationS: 2,
    faces: [{ face: 2, size: 110, x: '10+50*t', y: '30' }, { face: 0, size: 90, x: '210', y: '60', from: 0.6, to: 1.6 }],
  }, clipDir);
  server = await startApiServer({
    port: 0,
    tokens: [TOKEN, OTHER_TOKEN],
    workers: 1,
    analyzer: { model },
    // `--budget-ms all`: the default budget is wall-clock time, so which faces are read in a frame would depend on
    // the machine's load; with every face read every frame the API and the CLI must agree to the byte.
    video: { budgetMs: Infinity },
    // Tiny queue so a burst of requests meets the bound; small body limit so 413 needs no big upload.
    limits: { maxQueue: 1, maxBodyBytes: 1024 * 1024, maxRequestBytes: 2 * 1024 * 1024, resultTtlMs: TTL_MS },
  });
});

let closed = false;
after(async () => {
  if (!closed) await server?.close();
});

describe('emolens api: auth', () => {
  it('answers 401 JSON without a token or with a wrong one; health and the OpenAPI document are public', async () => {
    await assertJsonError(await postImage(photo, 'image/jpeg', {}), 401, 'UNAUTHORIZED');
    const wrong = await postImage(photo, 'image/jpeg', { authorization: `Bearer ${TOKEN}x` });
    assert.equal(wrong.headers.get('www-authenticate'), 'Bearer');
    await assertJsonError(wrong, 401, 'UNAUTHORIZED');
    await assertJsonError(await fetch(url('/v1/models')), 401, 'UNAUTHORIZED');
    await assertJsonError(await fetch(url('/v1/jobs/00000000-0000-4000-8000-000000000000')), 401, 'UNAUTHORIZED');
    assert.equal((await fetch(url('/v1/health'))).status, 200);
    const doc = await (await fetch(url('/openapi.json'))).json() as { paths: Record<string, unknown> };
    for (const path of ['/v1/health', '/v1/models', '/v1/analyze', '/v1/jobs', '/v1/jobs/{id}', '/v1/jobs/{id}/events']) assert.ok(doc.paths[path], path);
    assert.equal((await fetch(url('/docs'))).status < 400, true);
  });

  it('refuses to listen beyond loopback without a token', async () => {
    await assert.rejects(startApiServer({ host: '0.0.0.0', port: 0 }), (err: unknown) => err instanceof UsageError && /without a token/.test(err.message));
  });

  it('lists the loaded models', async () => {
    const body = await (await fetch(url('/v1/models'), { headers: auth })).json() as { emotion: { labels: string[] }; detector: { name: string } };
    assert.equal(body.emotion.labels.length, 7);
    assert.equal(body.detector.name, 'blazeface');
  });
});

describe('emolens api: bad requests are JSON errors', () => {
  it('413 for a body over the limit and for an image over the pixel limit', async () => {
    await assertJsonError(await postImage(Buffer.alloc(1024 * 1024 + 10, 0xff), 'image/jpeg'), 413, 'PAYLOAD_TOO_LARGE');
    await assertJsonError(await postImage(hugePngHeader(), 'image/png'), 413, 'IMAGE_TOO_LARGE');
    const big = form([['image', 'big.jpg', 'image/jpeg', Buffer.alloc(1024 * 1024 + 10, 0xff)]]);
    await assertJsonError(await fetch(url('/v1/analyze'), { method: 'POST', body: big, headers: auth }), 413, 'PAYLOAD_TOO_LARGE');
  });

  it('415 for bodies that are not images', async () => {
    await assertJsonError(await postImage('{"url":"http://example.com/a.jpg"}', 'application/json'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    await assertJsonError(await postImage('<svg/>', 'image/svg+xml'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    await assertJsonError(await postImage('x', 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    await assertJsonError(await fetch(url('/v1/jobs'), { method: 'POST', body: photo, headers: { ...auth, 'content-type': 'image/jpeg' } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('400 for an empty body, a form without "image" and a malformed job id', async () => {
    await assertJsonError(await postImage(Buffer.alloc(0), 'image/jpeg'), 400, 'EMPTY_BODY');
    const other = form([['photo', 'a.jpg', 'image/jpeg', photo]]);
    await assertJsonError(await fetch(url('/v1/analyze'), { method: 'POST', body: other, headers: auth }), 400, 'MISSING_IMAGE');
    await assertJsonError(await fetch(url('/v1/jobs/../../etc/passwd'), { headers: auth }), 404, 'NOT_FOUND');
    await assertJsonError(await fetch(url('/v1/jobs/not-a-job-id'), { headers: auth }), 400, 'BAD_REQUEST');
    await assertJsonError(await fetch(url('/v1/jobs/00000000-0000-4000-8000-000000000000'), { headers: auth }), 404, 'JOB_NOT_FOUND');
  });

  it('422 for bytes that are not a decodable image (SVG and other formats included)', async () => {
    await assertJsonError(await postImage('this is not an image', 'image/png'), 422, 'INVALID_IMAGE');
    await assertJsonError(await postImage(await truncatedJpeg(), 'image/jpeg'), 422, 'INVALID_IMAGE');
    await assertJsonError(await postImage('<svg xmlns="http://www.w3.org/2000/svg"><image href="file:///etc/passwd"/></svg>', 'image/jpeg'), 422, 'INVALID_IMAGE');
  });
});

describe('emolens api: results', () => {
  it('POST /v1/analyze answers the bytes `emolens analyze --json` prints for the same image', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'group.jpg'), photo);
    // The CLI from source (tsx), so this test needs no build.
    const cli = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, 'src', 'cli', 'main.ts'), 'analyze', 'group.jpg', '--json', '--no-progress', '--model', model], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(cli.status, 0, cli.stderr);
    const line = cli.stdout.split('\n').find((l) => l.includes('"file":"group.jpg"'))!.trim();
    const entry = JSON.parse(line) as { faces: unknown[] };
    assert.ok(entry.faces.length >= 2, `several faces in the test photo, got ${entry.faces.length}`);

    const multipart = await fetch(url('/v1/analyze'), { method: 'POST', body: form([['image', 'group.jpg', 'image/jpeg', photo]]), headers: auth });
    assert.equal(multipart.status, 200);
    assert.equal(await multipart.text(), line);

    const raw = await postImage(photo);
    assert.equal(raw.status, 200);
    const { file: _file, ...withoutFile } = JSON.parse(line) as Record<string, unknown>;
    assert.equal(await raw.text(), JSON.stringify(withoutFile));
  });
});

describe('emolens api: saliency', () => {
  it('POST /v1/analyze?explain= answers the entry `emolens explain --json` prints; bad parameters are 400', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'group.jpg'), photo);
    const cli = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, 'src', 'cli', 'main.ts'), 'explain', 'group.jpg', '--json', '--model', model], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(cli.status, 0, cli.stderr);
    const line = cli.stdout.split('\n').find((l) => l.includes('"file":"group.jpg"'))!.trim();
    const entry = JSON.parse(line) as { faces: Array<{ saliency: { method: string; emotion: string; width: number; height: number; data: number[] }; dominant: string }> };
    assert.ok(entry.faces.length >= 2);
    const explained = await fetch(url('/v1/analyze?explain=auto'), { method: 'POST', body: form([['image', 'group.jpg', 'image/jpeg', photo]]), headers: auth });
    assert.equal(explained.status, 200);
    assert.equal(await explained.text(), line);
    for (const f of entry.faces) {
      assert.equal(f.saliency.data.length, f.saliency.width * f.saliency.height);
      assert.equal(f.saliency.emotion, f.dominant);
      assert.ok(f.saliency.data.every((v) => v >= 0 && v <= 1));
    }

    const happy = await fetch(url('/v1/analyze?explain=gradcam&emotion=happy'), { method: 'POST', body: photo, headers: { ...auth, 'content-type': 'image/jpeg' } });
    assert.equal(happy.status, 200);
    const body = await happy.json() as typeof entry;
    assert.deepEqual(body.faces.map((f) => [f.saliency.method, f.saliency.emotion]), entry.faces.map(() => ['gradcam', 'happy']));

    const plain = JSON.parse(await (await postImage(photo)).text()) as { faces: Array<Record<string, unknown>> };
    assert.ok(plain.faces.every((f) => !('saliency' in f)), 'no saliency unless asked');
    await assertJsonError(await fetch(url('/v1/analyze?explain=shap'), { method: 'POST', body: photo, headers: { ...auth, 'content-type': 'image/jpeg' } }), 400, 'BAD_REQUEST');
    await assertJsonError(await fetch(url('/v1/analyze?explain=auto&emotion=joy'), { method: 'POST', body: photo, headers: { ...auth, 'content-type': 'image/jpeg' } }), 400, 'BAD_REQUEST');
    await assertJsonError(await fetch(url('/v1/analyze?emotion=happy'), { method: 'POST', body: photo, headers: { ...auth, 'content-type': 'image/jpeg' } }), 400, 'BAD_REQUEST');
  });
});

describe('emolens api: load shedding', () => {
  it('answers 503 with Retry-After beyond the queue bound, and normally afterwards', async () => {
    const responses = await Promise.all(Array.from({ length: 12 }, () => postImage(photo)));
    const statuses = responses.map((r) => r.status);
    assert.ok(statuses.every((s) => s === 200 || s === 503), `only 200 and 503: ${statuses}`);
    assert.ok(statuses.includes(200), `some answered: ${statuses}`);
    const shed = responses.filter((r) => r.status === 503);
    assert.ok(shed.length >= 1, `some shed: ${statuses}`);
    for (const r of shed) {
      assert.match(r.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
      await assertJsonError(r, 503, 'OVERLOADED');
    }
    for (const r of responses.filter((x) => x.status === 200)) await r.arrayBuffer();

    const health = await fetch(url('/v1/health'));
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { status: string }).status, 'ok');
    assert.equal((await postImage(photo)).status, 200);
  });
});

describe('emolens api: in-process jobs', () => {
  it('runs a job of several images with server-sent progress, then expires its result', async () => {
    const files = form([
      ['image', 'one.jpg', 'image/jpeg', photo],
      ['image', 'broken.jpg', 'image/jpeg', Buffer.from('not an image')],
      ['image', 'two.jpg', 'image/jpeg', photo],
    ]);
    const created = await fetch(url('/v1/jobs'), { method: 'POST', body: files, headers: auth });
    assert.equal(created.status, 202);
    const { id } = await created.json() as { id: string };
    assert.equal(created.headers.get('location'), `/v1/jobs/${id}`);

    const stream = await fetch(url(`/v1/jobs/${id}/events`), { headers: auth });
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get('content-type') ?? '', /text\/event-stream/);
    const events = await readEvents(stream);
    const names = events.map((e) => e.event);
    assert.equal(names.filter((n) => n === 'completed').length, 1, `one completed event: ${names}`);
    assert.equal(names.at(-1), 'completed');
    const done = events.filter((e) => e.event === 'progress').map((e) => (e.data as { progress: { done: number } }).progress.done);
    assert.deepEqual(done, [...done].sort((a, b) => a - b), 'progress never goes back');

    const view = await (await fetch(url(`/v1/jobs/${id}`), { headers: auth })).json() as { state: string; progress: { done: number; total: number }; result: { images: Array<Record<string, unknown>> }; expiresAt: string };
    assert.equal(view.state, 'completed');
    assert.deepEqual(view.progress, { done: 3, total: 3 });
    assert.deepEqual(view.result, (events.at(-1)!.data as { result: unknown }).result);
    const [one, broken, two] = view.result.images;
    assert.equal(one.file, 'one.jpg');
    assert.ok((one.faces as unknown[]).length >= 2);
    assert.deepEqual(two.faces, one.faces);
    assert.equal(broken.file, 'broken.jpg');
    assert.equal((broken.error as { code: string }).code, 'INVALID_IMAGE');

    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(view.expiresAt) - Date.now()) + 100));
    await assertJsonError(await fetch(url(`/v1/jobs/${id}`), { headers: auth }), 404, 'JOB_NOT_FOUND');
  });

  it('a job\'s images run on every worker of the pool, their entries in upload order', async () => {
    const two = await startApiServer({ port: 0, workers: 2, tokens: [TOKEN], analyzer: { model } });
    try {
      const names = Array.from({ length: 8 }, (_, i) => `p${i}.jpg`);
      const created = await fetch(new URL('/v1/jobs', two.url), { method: 'POST', body: form(names.map((n): [string, string, string, Uint8Array] => ['image', n, 'image/jpeg', photo])), headers: auth });
      assert.equal(created.status, 202);
      const { id } = await created.json() as { id: string };
      let mostBusy = 0;
      let view: { state: string; result?: { images: Array<{ file: string; faces: unknown[] }> } };
      do {
        mostBusy = Math.max(mostBusy, ((await (await fetch(new URL('/v1/health', two.url))).json()) as { busy: number }).busy);
        view = await (await fetch(new URL(`/v1/jobs/${id}`, two.url), { headers: auth })).json() as typeof view;
        await new Promise((r) => setTimeout(r, 5));
      } while (view.state !== 'completed' && view.state !== 'failed');
      assert.equal(view.state, 'completed');
      assert.equal(mostBusy, 2, 'both workers analysed the job\'s images');
      assert.deepEqual(view.result!.images.map((i) => i.file), names);
      for (const image of view.result!.images) assert.deepEqual(image.faces, view.result!.images[0].faces);
    } finally {
      await two.close();
    }
  });
});

describe('emolens api: the worker pool shares its workers between requests and jobs', () => {
  it('a request\'s image goes ahead of queued job images', async () => {
    const pool = await WorkerPool.start({ workers: 1, analyzer: { model } });
    try {
      const order: string[] = [];
      const run = (name: string, bounded: boolean) => pool.analyze(photo, { bounded }).then(() => { order.push(name); });
      await Promise.all([run('job 1', false), run('job 2', false), run('job 3', false), run('request', true)]);
      assert.deepEqual(order, ['job 1', 'request', 'job 2', 'job 3']);
    } finally {
      await pool.close();
    }
  });

  it('while requests come, jobs leave one of two workers free; then they use both', async () => {
    const pool = await WorkerPool.start({ workers: 2, analyzer: { model } });
    try {
      await pool.analyze(photo); // a request: jobs now keep a worker free for about a second
      const jobs = Array.from({ length: 12 }, () => pool.analyze(photo, { bounded: false }));
      assert.equal(pool.stats().busy, 1, 'one worker kept for requests');
      let both = false;
      for (const end = Date.now() + 10_000; !both && Date.now() < end;) {
        both = pool.stats().busy === 2;
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.ok(both, 'both workers take job images once requests stop');
      await Promise.all(jobs);
    } finally {
      await pool.close();
    }
  });
});

describe('emolens api: safe defaults and the one error shape', () => {
  it('403 for a page of another origin and for a foreign Host; --cors / --allowed-hosts allow them', async () => {
    const evil = { ...auth, origin: 'https://evil.example' };
    await assertJsonError(await postImage(photo, 'image/jpeg', evil), 403, 'FORBIDDEN_ORIGIN');
    await assertJsonError(await fetch(url('/v1/jobs'), { method: 'POST', body: form([['image', 'a.jpg', 'image/jpeg', photo]]), headers: { origin: 'https://evil.example' } }), 403, 'FORBIDDEN_ORIGIN');
    // Same origin (a page served by this server) is fine.
    assert.equal((await fetch(url('/v1/health'), { headers: { origin: new URL(server.url).origin } })).status, 200);
    // A foreign Host header (DNS rebinding): raw HTTP, since fetch sets Host itself.
    const raw = await rawRequest(`GET /v1/health HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n`);
    assert.match(raw, /^HTTP\/1\.1 403 /);
    assert.match(raw, /"code":"FORBIDDEN_HOST"/);

    const open = await startApiServer({ port: 0, workers: 1, analyzer: { model }, cors: ['https://app.example'], allowedHosts: ['emolens.internal'] });
    try {
      const pre = await fetch(new URL('/v1/analyze', open.url), { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
      assert.equal(pre.status, 204);
      assert.equal(pre.headers.get('access-control-allow-origin'), 'https://app.example');
      const ok = await fetch(new URL('/v1/health', open.url), { headers: { origin: 'https://app.example' } });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example');
      assert.equal((await fetch(new URL('/v1/health', open.url), { headers: { origin: 'https://evil.example' } })).status, 403);
      assert.match(await rawRequest(`GET /v1/health HTTP/1.1\r\nHost: emolens.internal:8081\r\nConnection: close\r\n\r\n`, open.port), /^HTTP\/1\.1 200 /);
    } finally {
      await open.close();
    }
  });

  it('malformed multipart is 400; a too-long path parameter 414; a malformed request 400: all in the JSON shape', async () => {
    const broken = '--xyz\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\nnot the end';
    for (const path of ['/v1/analyze', '/v1/jobs']) {
      await assertJsonError(await fetch(url(path), { method: 'POST', body: broken, headers: { ...auth, 'content-type': 'multipart/form-data; boundary=xyz' } }), 400, 'MALFORMED_MULTIPART');
    }
    await assertJsonError(await fetch(url(`/v1/jobs/${'a'.repeat(300)}`), { headers: auth }), 414, 'URI_TOO_LONG');
    const raw = await rawRequest('GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header Line\r\n\r\n');
    assert.match(raw, /^HTTP\/1\.1 400 /);
    const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as { error: { code: string } };
    assert.equal(body.error.code, 'BAD_REQUEST');
  });

  it('at most --max-connections open at once: one more is closed when accepted, and served once another closes', async () => {
    const small = await startApiServer({ port: 0, workers: 1, analyzer: { model }, limits: { maxConnections: 2 } });
    const open = (): Promise<{ socket: ReturnType<typeof connect>; closed: Promise<string> }> => new Promise((resolve, reject) => {
      const socket = connect(small.port, '127.0.0.1', () => resolve({ socket, closed }));
      let got = '';
      socket.on('data', (d: Buffer) => { got += d.toString(); });
      const closed = new Promise<string>((done) => socket.on('close', () => done(got)));
      socket.on('error', () => {});
      socket.once('error', reject);
    });
    try {
      const [a, b] = [await open(), await open()];
      await new Promise((r) => setTimeout(r, 50)); // both accepted
      const c = await open();
      c.socket.write('GET /v1/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      assert.equal(await c.closed, '', 'the third connection is closed without an answer');
      a.socket.destroy();
      await a.closed;
      const live = await rawRequest('GET /v1/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n', small.port);
      assert.match(live, /^HTTP\/1\.1 200 /);
      b.socket.destroy();
    } finally {
      await small.close();
    }
  });

  it('health: /v1/health/live and /v1/health/ready answer 200 without a token', async () => {
    assert.deepEqual(await (await fetch(url('/v1/health/live'))).json(), { status: 'ok' });
    assert.deepEqual(await (await fetch(url('/v1/health/ready'))).json(), { status: 'ready', jobs: 'in-process' });
  });

  it('jobs belong to their token; DELETE removes one; Idempotency-Key gives a retry the same job; 413 over the total per request', async () => {
    const other = { authorization: `Bearer ${OTHER_TOKEN}` };
    const post = (key?: string) => fetch(url('/v1/jobs'), { method: 'POST', body: form([['image', 'one.jpg', 'image/jpeg', photo]]), headers: { ...auth, ...(key ? { 'idempotency-key': key } : {}) } });
    const first = await (await post('retry-1')).json() as { id: string };
    const again = await (await post('retry-1')).json() as { id: string };
    assert.equal(again.id, first.id, 'same key, same job');
    const { id } = first;
    await assertJsonError(await fetch(url(`/v1/jobs/${id}`), { headers: other }), 404, 'JOB_NOT_FOUND');
    await assertJsonError(await fetch(url(`/v1/jobs/${id}`), { method: 'DELETE', headers: other }), 404, 'JOB_NOT_FOUND');
    const events = await readEvents(await fetch(url(`/v1/jobs/${id}/events`), { headers: auth }));
    assert.equal(events.at(-1)?.event, 'completed');
    assert.equal((await fetch(url(`/v1/jobs/${id}`), { method: 'DELETE', headers: auth })).status, 204);
    await assertJsonError(await fetch(url(`/v1/jobs/${id}`), { headers: auth }), 404, 'JOB_NOT_FOUND');
    const fresh = await (await post('retry-1')).json() as { id: string };
    assert.notEqual(fresh.id, id, 'a deleted job is not answered for its key');
    await readEvents(await fetch(url(`/v1/jobs/${fresh.id}/events`), { headers: auth }));

    const big = Buffer.concat([photo, Buffer.alloc(900 * 1024)]);
    const three = form([['image', 'a.jpg', 'image/jpeg', big], ['image', 'b.jpg', 'image/jpeg', big], ['image', 'c.jpg', 'image/jpeg', big]]);
    await assertJsonError(await fetch(url('/v1/jobs'), { method: 'POST', body: three, headers: auth }), 413, 'PAYLOAD_TOO_LARGE');
  });
});

/** Send raw bytes to the server (or `port`) and read the whole answer (the connection is closed by either side). */
function rawRequest(text: string, port = server.port): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(text));
    let out = '';
    socket.on('data', (d: Buffer) => { out += d.toString(); });
    socket.on('close', () => resolve(out));
    socket.on('error', reject);
  });
}

/** Upload folders (job-kinds.ts withPrivateFile) that exist now. */
const uploadDirs = () => new Set(readdirSync(tmpdir()).filter((n) => n.startsWith('emolens-upload-')).map((n) => join(tmpdir(), n)));

describe('emolens api: video jobs', () => {
  it('runs a video job with server-sent progress; the result is `emolens video --json`; the temp file is gone after', async () => {
    // The CLI from source on the same file, alongside the job (async: this process also serves the API).
    const cliRun = promisify(execFile)(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, 'src', 'cli', 'main.ts'), 'video', CLIP, '--json', '--no-progress', '--budget-ms', 'all', '--model', model], { cwd: clipDir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });

    // Watch the temp folder while the job runs: one private upload file appears, and is gone when the job has ended.
    const before = uploadDirs();
    const seen = new Map<string, number>();
    const watch = setInterval(() => {
      for (const d of uploadDirs()) {
        if (before.has(d) || seen.has(d)) continue;
        try { seen.set(d, statSync(join(d, 'upload')).mode & 0o777); } catch { /* not written yet */ }
      }
    }, 10);
    try {
      const bytes = readFileSync(join(clipDir, CLIP));
      const created = await fetch(url('/v1/jobs'), { method: 'POST', body: form([['video', CLIP, 'video/mp4', bytes]]), headers: auth });
      assert.equal(created.status, 202, await created.clone().text());
      const { id } = await created.json() as { id: string };
      const events = await readEvents(await fetch(url(`/v1/jobs/${id}/events`), { headers: auth }));
      assert.equal(events.at(-1)?.event, 'completed', JSON.stringify(events.at(-1)));
      const progress = events.filter((e) => e.event === 'progress').map((e) => (e.data as { progress: { done: number; total: number } }).progress);
      assert.ok(progress.some((p) => p.total === 10), `progress in frames (of 10): ${JSON.stringify(progress)}`);
      assert.deepEqual(progress.map((p) => p.done), progress.map((p) => p.done).sort((a, b) => a - b), 'progress never goes back');

      const view = await (await fetch(url(`/v1/jobs/${id}`), { headers: auth })).json() as { kind: string; state: string; progress: unknown; result: { frames: unknown[] } };
      assert.equal(view.kind, 'video');
      assert.equal(view.state, 'completed');
      assert.deepEqual(view.progress, { done: 10, total: 10 });
      const cli = await cliRun;
      const document = JSON.parse(cli.stdout) as { tracks: unknown[] };
      assert.equal(document.tracks.length, 2, 'both faces found');
      assert.deepEqual(view.result, document);
    } finally {
      clearInterval(watch);
    }
    assert.equal(seen.size, 1, `one upload file while the job ran: ${[...seen.keys()]}`);
    const [[dir, mode]] = [...seen];
    assert.equal(mode, 0o600, 'private to the server user');
    assert.equal(existsSync(dir), false, 'deleted when the job ended');
  });

  it('refuses a non-video in field "video" up front, fails an undecodable one with INVALID_VIDEO; one video per job', async () => {
    const post = (files: Parameters<typeof form>[0]) => fetch(url('/v1/jobs'), { method: 'POST', body: form(files), headers: auth });
    const message = await assertJsonError(await post([['video', 'notes.mp4', 'video/mp4', Buffer.from('#EXTM3U\nfile:///etc/passwd\n')]]), 422, 'INVALID_VIDEO');
    assert.match(message, /notes\.mp4: not an MP4/);
    await assertJsonError(await post([['video', 'photo.jpg', 'video/mp4', photo]]), 422, 'INVALID_VIDEO');
    await assertJsonError(await post([['video', 'a.txt', 'text/plain', Buffer.from('hello')]]), 415, 'UNSUPPORTED_MEDIA_TYPE');
    const clip = readFileSync(join(clipDir, CLIP));
    await assertJsonError(await post([['video', 'a.mp4', 'video/mp4', clip], ['video', 'b.mp4', 'video/mp4', clip]]), 413, 'TOO_MANY_FILES');
    await assertJsonError(await post([['video', 'a.mp4', 'video/mp4', clip], ['image', 'b.jpg', 'image/jpeg', photo]]), 400, 'MIXED_JOB');

    // MP4's first bytes, then garbage: accepted, and the job fails with ffprobe's verdict as a JSON error.
    const before = uploadDirs();
    const fake = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypisom'), Buffer.alloc(4096, 0x5a)]);
    const created = await post([['video', 'fake.mp4', 'application/octet-stream', fake]]);
    assert.equal(created.status, 202);
    const { id } = await created.json() as { id: string };
    const events = await readEvents(await fetch(url(`/v1/jobs/${id}/events`), { headers: auth }));
    assert.equal(events.at(-1)?.event, 'failed');
    const text = await (await fetch(url(`/v1/jobs/${id}`), { headers: auth })).text();
    const view = JSON.parse(text) as { state: string; error: { code: string; message: string }; result?: unknown };
    assert.equal(view.state, 'failed');
    assert.equal(view.error.code, 'INVALID_VIDEO');
    assert.match(view.error.message, /^fake\.mp4: /);
    assert.equal(view.result, undefined);
    assert.doesNotMatch(text, /\s+at \S+ \(|node_modules|\.ts:\d+/, `no stack trace: ${text}`);
    assert.deepEqual([...uploadDirs()].filter((d) => !before.has(d)), [], 'no upload file left behind');
  });

  // Last: it closes the shared server.
  it('closing the server mid-job deletes the temp file of the video', async () => {
    const before = uploadDirs();
    const created = await fetch(url('/v1/jobs'), { method: 'POST', body: form([['video', CLIP, 'video/mp4', readFileSync(join(clipDir, CLIP))]]), headers: auth });
    assert.equal(created.status, 202);
    let dirs: string[] = [];
    for (let i = 0; i < 500 && dirs.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
      dirs = [...uploadDirs()].filter((d) => !before.has(d));
    }
    assert.equal(dirs.length, 1, 'the job is running on its temp file');
    closed = true;
    await server.close();
    assert.equal(existsSync(dirs[0]), false, 'deleted by the time close() resolves');
  });
});
