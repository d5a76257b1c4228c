/**
 * Load test of `emolens api` (npm run bench:api): N concurrent clients post a 640x480 group photo to /v1/analyze for
 * D seconds (autocannon) while J more clients post the largest jobs the default limits allow (files of ~9.5 MB, each
 * a 25-megapixel JPEG of noise, as many as fit the 50 MB per request); then prints throughput, the latency of
 * answered requests (and that as a share of what the workers can do, from one request's time on the idle server),
 * failures other than 503/429, what the job posts got, the server's peak RSS and whether it answers normally
 * afterwards — against the targets of docs/api.md. The server runs in its own process (this script started with
 * --serve) so its RSS is its own.
 *
 *   npm run bench:api -- [--duration 20] [--connections 100] [--job-connections 4] [--workers N]
 *                        [--max-queue-wait-ms 250] [--shed-delay-ms 250]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import sharp from 'sharp';
import { DEFAULT_LIMITS } from '../src/api/errors.js';
import { startApiServer } from '../src/api/server.js';
import { groupPhoto640 } from '../test/helpers/api-fixtures.js';

const { values: args } = parseArgs({
  options: {
    serve: { type: 'boolean', default: false },
    duration: { type: 'string', default: '20' },
    connections: { type: 'string', default: '100' },
    'job-connections': { type: 'string', default: '4' },
    workers: { type: 'string' },
    'max-queue-wait-ms': { type: 'string' },
    'shed-delay-ms': { type: 'string' },
  },
});
const TOKEN = 'bench-token-0123456789abcdef';

if (args.serve) {
  // The server side: print the URL, run until killed.
  const running = await startApiServer({
    port: 0,
    tokens: [TOKEN],
    workers: args.workers ? Number(args.workers) : undefined,
    limits: { ...(args['max-queue-wait-ms'] ? { maxQueueWaitMs: Number(args['max-queue-wait-ms']) } : {}), ...(args['shed-delay-ms'] ? { shedDelayMs: Number(args['shed-delay-ms']) } : {}) },
  });
  process.stdout.write(`emolens api: ${running.url}\n`);
  process.on('SIGTERM', () => void running.close().then(() => process.exit(0)));
} else {
  await bench();
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function rssMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) / 1024;
}

/** The largest job the default limits take: files just under the per-file limit (≤ 25 MP JPEGs), up to the per-request total. */
async function largestJob(): Promise<{ body: Buffer; boundary: string; files: number; fileBytes: number }> {
  const side = Math.floor(Math.sqrt(DEFAULT_LIMITS.maxPixels));
  const noise = Buffer.alloc(side * side * 3);
  for (let i = 0; i < noise.length; i++) noise[i] = (Math.random() * 256) | 0;
  let file = Buffer.alloc(0);
  for (let quality = 60; quality > 10; quality -= 2) {
    file = await sharp(noise, { raw: { width: side, height: side, channels: 3 } }).jpeg({ quality }).toBuffer();
    if (file.length <= DEFAULT_LIMITS.maxBodyBytes - 4096) break;
  }
  const files = Math.max(1, Math.min(DEFAULT_LIMITS.maxJobFiles, Math.floor((DEFAULT_LIMITS.maxRequestBytes - 64 * 1024) / file.length)));
  const boundary = 'emolensbench0123456789';
  const parts: Buffer[] = [];
  for (let i = 0; i < files; i++) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="big${i}.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`), file, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), boundary, files, fileBytes: file.length };
}

async function bench(): Promise<void> {
  const duration = Number(args.duration);
  const connections = Number(args.connections);
  const photo = await groupPhoto640();
  const self = fileURLToPath(import.meta.url);
  const serverArgs = ['--import', 'tsx', self, '--serve', ...(args.workers ? ['--workers', args.workers] : []), ...(args['max-queue-wait-ms'] ? ['--max-queue-wait-ms', args['max-queue-wait-ms']] : []), ...(args['shed-delay-ms'] ? ['--shed-delay-ms', args['shed-delay-ms']] : [])];
  const server = spawn(process.execPath, serverArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
  const base = await new Promise<string>((resolve, reject) => {
    let out = '';
    server.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /emolens api: (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    server.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'image/jpeg' };
  const analyze = () => fetch(new URL('v1/analyze', base), { method: 'POST', body: photo, headers });
  const warm = await analyze();
  const faces = ((await warm.json()) as { faces: unknown[] }).faces.length;
  // One request on the idle server (median of 5): what the workers can do at most is workers x 1000 / this.
  const singles: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await (await analyze()).arrayBuffer();
    singles.push(performance.now() - t);
  }
  const singleMs = singles.sort((a, b) => a - b)[2];
  const workers = ((await (await fetch(new URL('v1/health', base))).json()) as { workers: number }).workers;
  const capacity = (workers * 1000) / singleMs;
  process.stdout.write(`server ${base} (pid ${server.pid}), ${availableParallelism()} cores; photo 640x480, ${photo.length} bytes, ${faces} faces\n`);
  process.stdout.write(`one request on the idle server: ${singleMs.toFixed(0)} ms (median of 5) → ${workers} workers can answer at most ${capacity.toFixed(1)}/s\n`);
  process.stdout.write(`load: ${connections} connections for ${duration} s ...\n`);

  const jobConnections = Number(args['job-connections']);
  // Made only when posted: 25-MP noise JPEGs take seconds to encode.
  const job = jobConnections > 0 ? await largestJob() : undefined;
  if (job) {
    process.stdout.write(`and ${jobConnections} connections posting jobs of ${job.files} files of ${(job.fileBytes / 2 ** 20).toFixed(1)} MB (${(job.body.length / 2 ** 20).toFixed(1)} MB a request; 25 MP each)\n`);
  }

  const answered: number[] = [];
  const statuses = new Map<number, number>();
  const jobStatuses = new Map<number, number>();
  let peakSampled = 0;
  const sampler = setInterval(() => { peakSampled = Math.max(peakSampled, rssMb(server.pid!, 'VmRSS')); }, 250);
  const instance = autocannon({ url: new URL('v1/analyze', base).href, method: 'POST', body: photo, headers, connections, duration, timeout: 10 });
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTimeMs: number) => {
    statuses.set(statusCode, (statuses.get(statusCode) ?? 0) + 1);
    if (statusCode === 200) answered.push(responseTimeMs);
  });
  const jobs = job
    ? autocannon({
      url: new URL('v1/jobs', base).href, method: 'POST', body: job.body, connections: jobConnections, duration, timeout: 30,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': `multipart/form-data; boundary=${job.boundary}` },
    })
    : undefined;
  jobs?.on('response', (_client: unknown, statusCode: number) => { jobStatuses.set(statusCode, (jobStatuses.get(statusCode) ?? 0) + 1); });
  const [result, jobResult] = await Promise.all([instance, jobs]);
  clearInterval(sampler);
  const peakMb = Math.max(peakSampled, rssMb(server.pid!, 'VmHWM'));

  // "Afterwards" means once the work admitted during the load has drained (at most maxQueueWaitMs of it, plus the
  // requests held before their 503), not while the last queued images are still being analysed.
  for (const until = Date.now() + 10_000; Date.now() < until;) {
    const h = (await (await fetch(new URL('v1/health', base))).json()) as { busy?: number; queued?: number };
    if (!h.busy && !h.queued) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const t0 = performance.now();
  const health = await fetch(new URL('v1/health', base));
  const healthMs = performance.now() - t0;
  const t1 = performance.now();
  const after = await analyze();
  await after.arrayBuffer();
  const afterMs = performance.now() - t1;
  server.kill('SIGTERM');

  answered.sort((a, b) => a - b);
  const total = [...statuses.values()].reduce((a, b) => a + b, 0);
  const shed = (statuses.get(503) ?? 0) + (statuses.get(429) ?? 0);
  // autocannon counts a timeout both in `errors` and in `timeouts`.
  const otherFailures = total - (statuses.get(200) ?? 0) - shed + result.errors;
  const jobTotal = [...jobStatuses.values()].reduce((a, b) => a + b, 0);
  const jobFailures = jobTotal - (jobStatuses.get(202) ?? 0) - (jobStatuses.get(503) ?? 0) + (jobResult?.errors ?? 0);
  const perSecond = answered.length / duration;
  const p99 = percentile(answered, 99);
  const lines = [
    `responses: ${total} (${[...statuses.entries()].sort().map(([s, n]) => `${s}: ${n}`).join(', ')}); connection errors ${result.errors} (of which ${result.timeouts} timeouts, no answer within 10 s)`,
    `answered (200): ${answered.length} = ${perSecond.toFixed(1)} analyses/s; shed (503/429): ${shed}`,
    `latency of answered requests: p50 ${percentile(answered, 50).toFixed(0)} ms, p90 ${percentile(answered, 90).toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, max ${(answered.at(-1) ?? NaN).toFixed(0)} ms`,
    ...(jobResult ? [`job posts: ${jobTotal} (${[...jobStatuses.entries()].sort().map(([st, n]) => `${st}: ${n}`).join(', ')}); connection errors ${jobResult.errors} (of which ${jobResult.timeouts} timeouts)`] : []),
    `server peak RSS: ${peakMb.toFixed(0)} MB`,
    `afterwards: /v1/health ${health.status} in ${healthMs.toFixed(0)} ms, /v1/analyze ${after.status} in ${afterMs.toFixed(0)} ms`,
    '',
    `targets: failures other than 503/429 = 0: ${otherFailures + jobFailures === 0 ? 'yes' : `NO (${otherFailures} analyses, ${jobFailures} jobs)`}; ${jobConnections > 0 ? `${((100 * perSecond) / capacity).toFixed(0)} % of that capacity (jobs hold a worker)` : `>= 75 % of that capacity: ${perSecond >= 0.75 * capacity ? 'yes' : 'NO'} (${((100 * perSecond) / capacity).toFixed(0)} %)`}; `
      + `p99 <= 1 s: ${p99 <= 1000 ? 'yes' : 'NO'}; peak RSS <= 1.5 GB: ${peakMb <= 1536 ? 'yes' : 'NO'}; answers afterwards: ${health.status === 200 && after.status === 200 ? 'yes' : 'NO'}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
