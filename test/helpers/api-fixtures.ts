/**
 * Fixtures for the HTTP API tests and the load script: a 640x480 group photo made from a bundled sample photo,
 * free ports, a real redis-server on one of them, and a reader for server-sent events.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import sharp from 'sharp';
import { join } from 'node:path';
import { ROOT, SAMPLE_PHOTOS } from './fixtures.js';

/** A 640x480 JPEG with several faces (sample2.jpg, centre-cropped and resized). */
export async function groupPhoto640(): Promise<Buffer> {
  return sharp(SAMPLE_PHOTOS[1]).resize(640, 480, { fit: 'cover' }).jpeg({ quality: 90 }).toBuffer();
}

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Path of redis-server, or undefined when it is not installed. */
export function redisServerPath(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export interface RedisHandle {
  url: string;
  port: number;
  process: ChildProcess;
  /** SIGTERM (Redis saves and exits). */
  stop(): Promise<void>;
  /** SIGKILL: no shutdown work at all, like a crash or `kill -9`. */
  kill(): Promise<void>;
}

/** Send `sig` and resolve once the process has exited. */
function signal(child: ChildProcess, sig: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(sig);
  });
}

/**
 * A throw-away redis-server on a free port (or `port`), ready when this resolves. Without `aofDir` nothing is
 * written to disk (the documented `--save '' --appendonly no`); with it, an append-only file there (fsync on every
 * write), so a Redis stopped and started again on the same folder has the same data.
 */
export async function startRedis(binary = redisServerPath() ?? 'redis-server', options: { port?: number; aofDir?: string } = {}): Promise<RedisHandle> {
  const port = options.port ?? await freePort();
  const persistence = options.aofDir ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', options.aofDir] : ['--appendonly', 'no'];
  const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (/Ready to accept connections/i.test(out)) { clearTimeout(timer); resolve(); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`redis-server exited (${code}): ${out}`)); });
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    process: child,
    stop: () => signal(child, 'SIGTERM'),
    kill: () => signal(child, 'SIGKILL'),
  };
}

export interface WorkerHandle { child: ChildProcess; log: () => string }

/**
 * `emolens worker --redis <url> --workers 1 --verbose <args>` as its own process (from source); resolves once it is
 * taking jobs. `onStart` gets the handle at once, so a caller can kill it even if it never becomes ready.
 */
export async function startWorkerProcess(redisUrl: string, args: string[], env: NodeJS.ProcessEnv = {}, onStart: (w: WorkerHandle) => void = () => {}): Promise<WorkerHandle> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'helpers', 'api-cli.ts'), 'worker', '--redis', redisUrl, '--workers', '1', '--verbose', ...args], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', ...env },
  });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
  const handle = { child, log: () => log };
  onStart(handle);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('emolens worker: ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker exited (${code}): ${log}`)));
  });
  return handle;
}

export interface SseEvent { event: string; data: unknown }

/** Read a text/event-stream response to its end, calling `onEvent` for each event as it arrives. */
export async function readEvents(response: Response, onEvent: (e: SseEvent) => void = () => {}): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event && data) {
        const e = { event, data: JSON.parse(data) as unknown };
        events.push(e);
        onEvent(e);
      }
    }
  }
  return events;
}
