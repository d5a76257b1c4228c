/**
 * `emolens serve`: start the local web app (live camera / screen share / uploads, analysed in the browser).
 * Owns option parsing and start-up checks only; the server is src/serve/server.ts, the app src/web/.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { isLoopback } from '../api/auth.js';
import { ModelNotFoundError, SidecarMissingError, UsageError } from '../errors.js';
import { DEFAULT_DETECTOR_MODEL, DEFAULT_EMOTION_MODEL, MODEL_NAME_PATTERN } from '../env/models.js';
import { MODELS_DIR } from '../env/node.js';
import { startWebServer } from '../serve/server.js';
import { LIVE_MODEL_OPTION, LIVE_MODEL_SAME } from './common.js';

interface ServeOptions {
  port: string;
  host: string;
  model: string;
  liveModel: string;
  detector: string;
  modelsDir?: string;
  /** The global --verbose (main.ts hands it to every command): also log every request. */
  verbose?: boolean;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('serve the web app: live camera, screen share and uploads, analysed in your browser (frames never reach the server)')
    .option('--port <port>', 'port to listen on (0 = any free port)', '8080')
    .option('--host <host>', 'interface to bind; keep loopback unless you know why not', '127.0.0.1')
    .option('--model <name>', 'emotion model in the models folder: snapshots and images', DEFAULT_EMOTION_MODEL)
    .option(...LIVE_MODEL_OPTION)
    .option('--detector <name>', 'face detector model in the models folder', DEFAULT_DETECTOR_MODEL)
    .option('--models-dir <dir>', 'folder with <name>.onnx + <name>.json (default: the bundled models/)')
    .action(async (opts: ServeOptions, command: Command) => {
      await serve(opts, command.getOptionValueSource('liveModel') === 'default');
    });
}

/** `liveIsDefault`: --live-model was not given, so a missing live model falls back to --model's instead of failing. */
async function serve(opts: ServeOptions, liveIsDefault: boolean): Promise<void> {
  if (!/^\d+$/.test(opts.port)) throw new UsageError(`invalid --port: ${opts.port} (a number 0..65535)`);
  const port = Number(opts.port);
  const modelsDir = resolve(opts.modelsDir ?? MODELS_DIR);
  for (const name of [opts.detector, opts.model]) checkModel(modelsDir, name);
  const live = liveModel(modelsDir, opts, liveIsDefault);

  const running = await startWebServer({
    port,
    host: opts.host,
    modelsDir,
    detectorModel: opts.detector,
    emotionModel: opts.model,
    liveModel: live.name,
    liveFallback: live.fallback,
    log: opts.verbose ? (line) => process.stderr.write(`${line}\n`) : undefined,
  });
  process.stdout.write(`emolens web app: ${running.url}\n`);
  process.stdout.write(`live view: ${live.name}; snapshots and images: ${opts.model}\n`);
  if (live.fallback) process.stderr.write(`warning: ${live.fallback}; the live view uses ${opts.model} (slower)\n`);
  process.stdout.write('frames are analysed in the browser and never sent to this server. Ctrl+C to stop.\n');
  if (!isLoopback(opts.host)) {
    process.stderr.write(`warning: listening on ${opts.host}: other machines can load the app; browsers allow the camera only on localhost or HTTPS\n`);
  }
  await new Promise<void>((done) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void running.close().then(done);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/**
 * The live view's model: --live-model, or --model's for "same". The default (emolens-fast) may be absent from a
 * models folder (a custom --models-dir, a checkout without it): then the live view uses --model's, and `fallback`
 * says why. A live model named on the command line must exist, like --model.
 */
function liveModel(modelsDir: string, opts: ServeOptions, isDefault: boolean): { name: string; fallback?: string } {
  if (opts.liveModel === LIVE_MODEL_SAME || opts.liveModel === opts.model) return { name: opts.model };
  const missing = [`${opts.liveModel}.onnx`, `${opts.liveModel}.json`].filter((file) => !existsSync(join(modelsDir, file)));
  if (isDefault && missing.length) {
    return { name: opts.model, fallback: `the live model ${opts.liveModel} is not in ${modelsDir} (no ${missing.join(', no ')})` };
  }
  checkModel(modelsDir, opts.liveModel);
  return { name: opts.liveModel };
}

function checkModel(modelsDir: string, name: string): void {
  if (!MODEL_NAME_PATTERN.test(name)) throw new UsageError(`invalid model name: ${JSON.stringify(name)}`);
  const onnx = join(modelsDir, `${name}.onnx`);
  const sidecar = join(modelsDir, `${name}.json`);
  if (!existsSync(onnx)) {
    let known: string[] = [];
    try {
      known = readdirSync(modelsDir).filter((f) => f.endsWith('.onnx')).map((f) => f.slice(0, -'.onnx'.length));
    } catch { /* no models folder: nothing to list */ }
    throw new ModelNotFoundError(`${name} (looked for ${onnx})`, known);
  }
  if (!existsSync(sidecar)) throw new SidecarMissingError(onnx, sidecar);
}
