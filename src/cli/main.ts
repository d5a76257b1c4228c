#!/usr/bin/env node
/**
 * The `emolens` command line: global flags, command registration and the one place errors become
 * `error: <message>` on stderr with exit code 1 (2 for bad usage). Commands live one per file in src/cli/.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { UsageError } from '../errors.js';
import { register as registerAnalyze } from './analyze.js';
import { errorLine, red, styleFor } from './common.js';
import { register as registerDemo } from './demo.js';
import { register as registerVideo } from './video.js';

/** Commands written by other modules; each exports `register(program)`. A module not there yet is skipped. */
const OPTIONAL_COMMANDS = ['./eval.js', './bench.js', './serve.js'];

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

async function registerOptional(program: Command, verbose: boolean): Promise<void> {
  for (const spec of OPTIONAL_COMMANDS) {
    const url = new URL(spec, import.meta.url).href;
    try {
      const mod = (await import(url)) as { register?: (p: Command) => void };
      mod.register?.(program);
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes(spec.slice(2, -3));
      if (!missing || verbose) process.stderr.write(`warning: command module ${spec} could not be loaded: ${errorLine(err)}\n`);
    }
  }
}

export async function main(argv = process.argv): Promise<number> {
  const verbose = argv.includes('--verbose');
  const program = new Command('emolens')
    .description('Facial emotion recognition: faces, landmarks and 7 emotion probabilities (angry, disgust, fear, happy, neutral, sad, surprise).')
    .version(version(), '-V, --version')
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
  registerAnalyze(program);
  registerDemo(program);
  registerVideo(program);
  await registerOptional(program, verbose);

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
    return err instanceof UsageError ? 2 : 1;
  }
}

process.exitCode = await main();
