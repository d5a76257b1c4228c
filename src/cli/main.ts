#!/usr/bin/env node
/**
 * The `emolens` command line: global flags, command registration and the one place errors become
 * `error: <message>` on stderr with exit code 1 (2 for bad usage). Commands live one per file in src/cli/.
 *
 * Every command is a static import: a command module that fails to load fails the whole CLI loudly instead of
 * vanishing from `--help`. So that `emolens --help` stays fast, a command module must load its heavy
 * dependencies (ONNX Runtime, comparison libraries) inside its action, not at the top of the file.
 */
import { Command, CommanderError } from 'commander';
import { packageVersion } from '../env/node.js';
import { exitCodeFor } from '../errors.js';
import { register as registerAnalyze } from './analyze.js';
import { register as registerApi } from './api.js';
import { register as registerBench } from './bench.js';
import { errorLine, red, styleFor } from './common.js';
import { register as registerDemo } from './demo.js';
import { register as registerEval } from './eval.js';
import { register as registerExplain } from './explain.js';
import { register as registerServe } from './serve.js';
import { register as registerVideo } from './video.js';
import { register as registerWorker } from './worker.js';

/** Each command module exports `register(program)`; this order is the order of `emolens --help`. */
const COMMANDS: ReadonlyArray<(program: Command) => void> = [registerAnalyze, registerExplain, registerDemo, registerVideo, registerEval, registerBench, registerServe, registerApi, registerWorker];

export async function main(argv = process.argv): Promise<number> {
  const verbose = argv.includes('--verbose');
  const program = new Command('emolens')
    .description('Facial emotion recognition: faces, landmarks and 7 emotion probabilities (angry, disgust, fear, happy, neutral, sad, surprise).')
    .version(packageVersion(), '-V, --version')
    .option('--verbose', 'show stack traces for errors')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, `${red('error:', styleFor(process.stderr))} `)) })
    .addHelpText('after', `
Quick start:
  $ emolens demo                          analyse the bundled sample photos
  $ emolens analyze photo.jpg             faces and emotions of your own photo
  $ emolens analyze photos/ --annotate out/ --json > results.json`);
  // `--verbose` is global: hand it to whichever command runs (some commands read their own opts().verbose).
  program.hook('preAction', (_root, action) => {
    if (program.opts().verbose && action !== program) action.setOptionValue('verbose', true);
  });
  for (const register of COMMANDS) register(program);

  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has already printed its message (or the help text).
      return err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
    }
    const style = styleFor(process.stderr);
    if (verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    else process.stderr.write(`${red('error:', style)} ${errorLine(err)}\n`);
    return exitCodeFor(err);
  }
}

// A reader that stops early (`emolens --help | head`, `emolens analyze … --json | head`) closes the pipe: stop
// quietly, as Unix tools do on SIGPIPE, instead of dying on an unhandled EPIPE with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(0);
  });
}

process.exitCode = await main();
