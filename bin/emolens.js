#!/usr/bin/env node
// The CLI lives in src/cli/main.ts, compiled to dist/ by `npm run build` (run by `npm install` via prepare).
try {
  await import('../dist/cli/main.js');
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
    process.stderr.write('error: emolens is not built yet: run `npm run build` in the emolens folder\n');
    process.exitCode = 1;
  } else {
    throw err;
  }
}
