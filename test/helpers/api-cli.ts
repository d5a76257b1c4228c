/**
 * `emolens api` and `emolens worker` as child processes for the tests, before src/cli/main.ts registers them:
 * the same Commander setup, with only these two commands. Run: node --import tsx test/helpers/api-cli.ts worker …
 */
import { Command } from 'commander';
import { register as registerApi } from '../../src/cli/api.js';
import { register as registerWorker } from '../../src/cli/worker.js';

const program = new Command('emolens').option('--verbose');
program.hook('preAction', (_root, action) => {
  if (program.opts().verbose && action !== program) action.setOptionValue('verbose', true);
});
registerApi(program);
registerWorker(program);
try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`error: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
