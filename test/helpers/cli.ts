/**
 * Running `emolens` from tests: one synchronous run of the built CLI, a run interrupted by Ctrl+C, and the build check the CLI tests start with
 * (dist/ rebuilt with tsc when any file under src/ is newer than dist/cli/main.js).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, ROOT } from './fixtures.js';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** `node bin/emolens.js ...args` in the repository root, without colours. */
export function runCli(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Rebuild dist/ (tsc) if it is missing or older than src/, so the CLI under test is the current code. */
export function ensureBuiltCli(): void {
  const main = join(ROOT, 'dist', 'cli', 'main.js');
  if (!existsSync(main) || statSync(main).mtimeMs < newestMtime(join(ROOT, 'src'))) {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', ROOT], { stdio: 'inherit' });
  }
}

/**
 * Run the CLI from source (tsx) and send one Ctrl+C (SIGINT) as soon as its stdout matches `trigger` — once only:
 * a second Ctrl+C quits at once, before what is done is written. Resolves with the exit code and both streams.
 */
export async function interruptCli(args: string[], trigger: RegExp): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } });
  let stdout = '';
  let stderr = '';
  let sent = false;
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const code = await new Promise<number | null>((resolve) => {
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (!sent && trigger.test(stdout)) { sent = true; child.kill('SIGINT'); }
    });
    child.on('close', resolve);
  });
  return { code, stdout, stderr };
}
