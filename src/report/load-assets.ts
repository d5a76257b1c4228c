/**
 * Node side of the eval and video reports: reads what src/report/html.ts inlines into its page — the stylesheet and chart
 * script in src/report/assets/ (copied next to this module's build in dist/report/assets/ by `npm run build`) and
 * Chart.js's UMD build from node_modules. html.ts stays pure; only this module touches the file system.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ReportAssets } from './html.js';

/** The report page's assets, read relative to this module (src/report/ under tsx, dist/report/ when built). */
export function readReportAssets(): ReportAssets {
  return {
    chartJs: readChartJs(),
    css: readFileSync(new URL('./assets/report.css', import.meta.url), 'utf8'),
    chartScript: chartScript('./assets/charts.js'),
  };
}

/** A report's chart script, preceded by the setup both reports share (assets/report-setup.js). */
function chartScript(path: string): string {
  return ['./assets/report-setup.js', path].map((p) => readFileSync(new URL(p, import.meta.url), 'utf8')).join('\n');
}

/** The video report's assets (src/report/video-html.ts): the eval page's stylesheet plus its own, and its chart script. */
export function readVideoReportAssets(): ReportAssets {
  const css = ['./assets/report.css', './assets/video-report.css'].map((p) => readFileSync(new URL(p, import.meta.url), 'utf8')).join('\n');
  return { chartJs: readChartJs(), css, chartScript: chartScript('./assets/video-charts.js') };
}

/** Chart.js's UMD build from node_modules, to inline into the report (no CDN). */
export function readChartJs(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve('chart.js');  // <pkg>/dist/chart.cjs
  return readFileSync(join(dirname(main), 'chart.umd.min.js'), 'utf8');
}
