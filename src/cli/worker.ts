/**
 * `emolens worker --redis …`: take jobs queued by `emolens api --redis …` from BullMQ and run them on this machine's
 * cores (src/api/jobs-bullmq.ts). Run any number, on any machines that reach the Redis. Owns flag parsing only.
 */
import type { Command } from 'commander';
import { DEFAULT_LIMITS } from '../api/errors.js';
import { UsageError } from '../errors.js';
import { redactUrl, untilSignal } from './api.js';
import { parseNumber } from './common.js';
import { addAnalyzerOptions, analyzerOptionsFrom, type AnalyzerFlags } from './options.js';

interface WorkerFlags extends AnalyzerFlags {
  redis?: string;
  queue: string;
  workers?: string;
  lockMs?: string;
  verbose?: boolean;
}

export function register(program: Command): void {
  const command = program
    .command('worker')
    .description('run jobs from `emolens api --redis`: any number of these, on any machines that reach the Redis')
    .option('--redis <url>', 'the Redis the API queues jobs in (redis://host:6379)')
    .option('--queue <name>', 'BullMQ queue name', 'emolens-jobs')
    .option('--workers <n>', 'inference worker threads = jobs run at once (default: one per core)');
  addAnalyzerOptions(command, 'server', ['model', 'detector', 'minScore', 'maxFaces', 'maxPixels', 'tiles', 'threads'])
    .option('--lock-ms <ms>', 'job lock; a worker that died hands its job on after about 2-3 of these (default 30000)')
    .addHelpText('after', `
Example:
  $ emolens api --redis redis://10.0.0.5:6379 --host 0.0.0.0     # one API server (with EMOLENS_API_TOKEN set)
  $ emolens worker --redis redis://10.0.0.5:6379                  # on every machine that should do the work`)
    .action(async (flags: WorkerFlags) => {
      await runWorker(flags);
    });
}

async function runWorker(flags: WorkerFlags): Promise<void> {
  if (!flags.redis) throw new UsageError('emolens worker needs --redis <url> (the Redis that `emolens api --redis` uses)');
  const analyzer = analyzerOptionsFrom(flags);
  // The API's limits, as `emolens api` applies them to its own worker threads (src/api/server.ts).
  analyzer.maxPixels ??= DEFAULT_LIMITS.maxPixels;
  analyzer.maxFaces ??= DEFAULT_LIMITS.maxFaces;
  const workers = flags.workers === undefined ? undefined : parseNumber('--workers', flags.workers, { min: 1, integer: true });
  const lockMs = flags.lockMs === undefined ? undefined : parseNumber('--lock-ms', flags.lockMs, { min: 500, integer: true });

  const { WorkerPool } = await import('../api/pool.js');
  const { redisConnection, runJobWorker } = await import('../api/jobs-bullmq.js');
  redisConnection(flags.redis); // a bad URL is a usage error before the threads load the models
  const pool = await WorkerPool.start({ workers, analyzer });
  const log = (line: string) => process.stderr.write(`${line}\n`);
  let worker;
  try {
    worker = await runJobWorker({ redisUrl: flags.redis, queueName: flags.queue, pool, lockMs, log: flags.verbose ? log : undefined });
  } catch (err) {
    await pool.close();
    throw err;
  }
  process.stdout.write(`emolens worker: ready, ${pool.size} inference threads on queue ${flags.queue} at ${redactUrl(flags.redis)}\n`);
  await untilSignal();
  // Finish the jobs in hand (BullMQ waits for them), then stop the threads.
  await worker.close();
  await pool.close();
}
