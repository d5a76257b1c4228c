/**
 * Finding installed npm packages for the benchmark: the comparison packages (devDependencies, so maybe absent), the
 * folders holding their model files, ORT's version — whatever each package's "exports" allow.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const require = createRequire(import.meta.url);

/** The packages the comparison needs: devDependencies of emolens, absent from a user's install. */
export const COMPARISON_PACKAGES = ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', '@vladmandic/face-api', '@vladmandic/human'] as const;

/** Those of COMPARISON_PACKAGES that cannot be resolved (empty when the comparison can run). */
export function missingComparisonPackages(installed: (name: string) => boolean = isInstalled): string[] {
  return COMPARISON_PACKAGES.filter((name) => !installed(name));
}

/** The folder holding `name`'s package.json: resolve its entry and walk up. */
export function packageRoot(name: string): string {
  let dir = dirname(require.resolve(name));
  while (!isPackageJsonOf(join(dir, 'package.json'), name)) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the ${name} package folder`);
    dir = up;
  }
  return dir;
}

/** Whether `name` can be resolved from here (a devDependency may be absent from a user's install). */
export function isInstalled(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
}

function isPackageJsonOf(file: string, name: string): boolean {
  try {
    return JSON.parse(readFileSync(file, 'utf8')).name === name;
  } catch {
    return false;
  }
}
