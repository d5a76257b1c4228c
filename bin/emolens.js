#!/usr/bin/env node
// The CLI lives in src/cli/main.ts, compiled to dist/ by `npm run build`.
import '../dist/cli/main.js';
