/**
 * `emolens api`: the HTTP API (src/api/server.ts). Owns flag parsing, the token sources and start-up lines only.
 */
import type { Command } from 'commander';
import { loadTokens } from '../api/auth.js';
import { DEFAULT_LIMITS, type ApiLimits } from '../api/errors.js';
import { listFlag } from '../api/origin.js';
import { parseNumber } from './common.js';
import { addAnalyzerOptions, analyzerOptionsFrom, type AnalyzerFlags } from './options.js';

interface ApiFlags extends AnalyzerFlags {
  port: string;
  host: string;
  tokenFile?: string;
  redis?: string;
  queue?: string;
  workers?: string;
  maxBodyMb?: string;
  maxJobFiles?: string;
  maxQueue?: string;
  maxQueueWaitMs?: string;
  shedDelayMs?: string;
  timeoutMs?: string;
  resultTtlS?: string;
  maxRequestMb?: string;
  maxQueuedMb?: string;
  maxConnections?: string;
  cors?: string;
  allowedHosts?: string;
  verbose?: boolean;
}

/** Hide a password in a redis:// URL before printing it. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

export function register(program: Command): void {
  const command = program
    .command('api')
    .description('HTTP API: POST images, get faces and emotions as JSON; background jobs (in-process, or on Redis with `emolens worker`)')
    .option('--port <port>', 'port to listen on (0 = any free port)', '8081')
    .option('--host <host>', 'interface to bind; beyond loopback a token is required', '127.0.0.1')
    .option('--token-file <file>', 'bearer tokens, one per line (also: EMOLENS_API_TOKEN)')
    .option('--redis <url>', 'queue jobs on BullMQ in this Redis (redis://host:6379) for `emolens worker` processes')
    .option('--queue <name>', 'BullMQ queue name', 'emolens-jobs')
    .option('--workers <n>', 'inference worker threads (default: one per core)');
  addAnalyzerOptions(command, 'server', ['model', 'detector', 'minScore', 'maxFaces', 'maxPixels', 'tiles', 'threads'])
    .option('--max-body-mb <n>', `largest image or uploaded file in MB (default ${DEFAULT_LIMITS.maxBodyBytes / 2 ** 20})`)
    .option('--max-job-files <n>', `most files in one job (default ${DEFAULT_LIMITS.maxJobFiles})`)
    .option('--max-connections <n>', `open connections at once; more are closed when accepted (default ${DEFAULT_LIMITS.maxConnections})`)
    .option('--max-queue <n>', `images waiting for a worker before 503 (default ${DEFAULT_LIMITS.maxQueue})`)
    .option('--max-queue-wait-ms <ms>', `expected queue wait before 503 (default ${DEFAULT_LIMITS.maxQueueWaitMs})`)
    .option('--shed-delay-ms <ms>', `hold a shed request this long before its 503, so clients that retry at once cannot starve the workers (default ${DEFAULT_LIMITS.shedDelayMs}; 0 = answer at once)`)
    .option('--timeout-ms <ms>', `give up on an analysis after this long, 503 (default ${DEFAULT_LIMITS.requestTimeoutMs})`)
    .option('--result-ttl-s <s>', `keep finished jobs this long (default ${DEFAULT_LIMITS.resultTtlMs / 1000})`)
    .option('--max-request-mb <n>', `largest total of one request's files in MB (default ${DEFAULT_LIMITS.maxRequestBytes / 2 ** 20})`)
    .option('--max-queued-mb <n>', `uploads held by queued jobs (and being received) before POST /v1/jobs gets 503 OVERLOADED, in MB (default ${DEFAULT_LIMITS.maxQueuedBytes / 2 ** 20})`)
    .option('--cors <origins>', 'comma-separated origins (https://app.example) whose pages may call the API; "*" = any (default: none, cross-origin requests get 403)')
    .option('--allowed-hosts <hosts>', 'comma-separated names the server answers to besides loopback and its addresses (Host header); "*" = any (default: none)')
    .addHelpText('after', `
Examples:
  $ emolens api
  $ curl -s --data-binary @photo.jpg -H 'Content-Type: image/jpeg' http://127.0.0.1:8081/v1/analyze
  $ EMOLENS_API_TOKEN=$(openssl rand -hex 24) emolens api --host 0.0.0.0 --redis redis://127.0.0.1:6379

Routes, limits and examples: docs/api.md; OpenAPI at /openapi.json, docs page at /docs.`)
    .action(async (flags: ApiFlags) => {
      await runApi(flags);
    });
}

async function runApi(flags: ApiFlags): Promise<void> {
  if (!/^\d+$/.test(flags.port)) throw new (await import('../errors.js')).UsageError(`invalid --port: ${flags.port} (a number 0..65535)`);
  const analyzer = analyzerOptionsFrom(flags);
  const limits: Partial<ApiLimits> = {};
  const int = (name: string, value: string | undefined, min = 1) => (value === undefined ? undefined : parseNumber(name, value, { min, integer: true }));
  if (flags.maxBodyMb !== undefined) limits.maxBodyBytes = Math.round(parseNumber('--max-body-mb', flags.maxBodyMb, { min: 0.001 }) * 2 ** 20);
  if (flags.maxPixels !== undefined) limits.maxPixels = analyzer.maxPixels;
  if (flags.maxRequestMb !== undefined) limits.maxRequestBytes = Math.round(parseNumber('--max-request-mb', flags.maxRequestMb, { min: 0.001 }) * 2 ** 20);
  if (flags.maxQueuedMb !== undefined) limits.maxQueuedBytes = Math.round(parseNumber('--max-queued-mb', flags.maxQueuedMb, { min: 0.001 }) * 2 ** 20);
  limits.maxJobFiles = int('--max-job-files', flags.maxJobFiles);
  limits.maxConnections = int('--max-connections', flags.maxConnections);
  limits.maxQueue = int('--max-queue', flags.maxQueue, 0);
  limits.maxQueueWaitMs = int('--max-queue-wait-ms', flags.maxQueueWaitMs, 0);
  limits.shedDelayMs = int('--shed-delay-ms', flags.shedDelayMs, 0);
  limits.requestTimeoutMs = int('--timeout-ms', flags.timeoutMs);
  const ttlS = int('--result-ttl-s', flags.resultTtlS);
  if (ttlS !== undefined) limits.resultTtlMs = ttlS * 1000;
  for (const key of Object.keys(limits) as (keyof ApiLimits)[]) if (limits[key] === undefined) delete limits[key];
  const tokens = loadTokens(process.env, flags.tokenFile);

  // Loaded on use, so `--help` works without onnxruntime-node, Fastify or BullMQ.
  const { startApiServer } = await import('../api/server.js');
  const running = await startApiServer({
    port: Number(flags.port),
    host: flags.host,
    tokens,
    limits,
    workers: int('--workers', flags.workers),
    analyzer,
    redisUrl: flags.redis,
    queueName: flags.queue,
    cors: listFlag(flags.cors),
    allowedHosts: listFlag(flags.allowedHosts),
    verbose: flags.verbose,
  });
  process.stdout.write(`emolens api: ${running.url}\n`);
  const stats = running.pool.stats();
  process.stderr.write(`${stats.workers} inference workers; jobs ${flags.redis ? `on ${redactUrl(flags.redis)} (queue ${flags.queue})` : 'in this process'}; ${tokens.length ? `${tokens.length} token${tokens.length === 1 ? '' : 's'}` : 'no token (loopback only)'}; docs at ${running.url}docs. Ctrl+C to stop.\n`);
  await untilSignal();
  await running.close();
}

/** Resolves on the first SIGINT or SIGTERM. */
export function untilSignal(): Promise<void> {
  return new Promise((done) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
