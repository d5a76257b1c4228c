/**
 * The `emolens eval --report` page: ONE self-contained HTML file (styles, data and Chart.js inlined, no network),
 * showing headline numbers, the model card, the confusion matrix as a heat map, per-class precision/recall/F1, the
 * reliability diagram (calibration) and, when the sidecar carries `training.history`, the training curves.
 *
 * Browser-safe and pure: it turns data into a string. The page's stylesheet and chart script are real files
 * (src/report/assets/) and Chart.js comes from node_modules; the caller passes all three in (Node: readReportAssets()
 * in load-assets.ts), so nothing here touches the file system.
 */
import type { EmotionModelSidecar } from '../classify/contract.js';
import type { CalibrationMetrics } from '../eval/calibration.js';
import type { EvalResult } from '../eval/evaluate.js';
import type { FerPlusMetrics } from '../eval/ferplus.js';
import { rowNormalized, type ClassificationMetrics } from '../eval/metrics.js';

export interface ReportModelInfo {
  name: string;
  sha256: string;
  parameters?: number;
  macs?: number;
  arch?: string;
  /** Side of the net's input in px (e.g. 44). */
  inputSize?: number;
  /** Side of the face crop in px (e.g. 48). */
  faceCropSize?: number;
  /** Flip test-time augmentation in the graph. */
  tta?: boolean;
  /** The sidecar's own validation metrics, for comparison with this run (ece: only in newer sidecars). */
  shippedVal?: { n: number; accuracy: number; macroF1: number; split?: string; ece?: number };
  provenance?: string;
}

export interface EvalReportData {
  /** Data set path as given on the command line. */
  data: string;
  split: string | null;
  metrics: ClassificationMetrics;
  /** ECE and reliability bins of this run; the page leaves the calibration out without them. */
  calibration?: CalibrationMetrics;
  model: ReportModelInfo;
  msPerImage: number;
  /** Images that could not be scored (unreadable, or no face with --detect). */
  skipped: { count: number; examples: Array<{ source: string; reason: string }> };
  /** Per-epoch training log from the sidecar (`training.history`): {epoch, train_loss, val_loss, train_acc, val_acc, …}. */
  history?: Array<Record<string, unknown>>;
  /** ISO time of the run. */
  generatedAt: string;
  /** How faces were obtained: FER-style pre-cropped images, or detection + alignment on photos. */
  mode?: 'crops' | 'detect';
  /** `eval --saliency`: right and wrong faces per true class with their maps (embeds the user's faces: opt-in). */
  saliency?: SaliencyReport;
  /** `eval --labels`: the same predictions against the FER+ raters, and the sidecar's FER+ figures to compare with. */
  ferplus?: { run: FerPlusMetrics; shipped?: Omit<FerPlusMetrics, 'votes'> & { votes?: string } };
}

/** One face in the saliency section: images as data: URLs (the caller encodes them; this module stays pure). */
export interface SaliencyExampleView {
  name: string;
  predicted: string;
  confidence: number;
  cropUrl: string;
  overlayUrl: string;
}

export interface SaliencyReport {
  method: string;
  perClass: Array<{ label: string; correct: SaliencyExampleView[]; wrong: SaliencyExampleView[] }>;
}

export interface ReportAssets {
  /** Source of Chart.js's UMD build (chart.umd.min.js), inlined into the page. */
  chartJs: string;
  /** The page's stylesheet (src/report/assets/report.css). */
  css: string;
  /** The script that draws the charts from the embedded data (src/report/assets/charts.js). */
  chartScript: string;
}

/** Render the report page. */
export function renderEvalReport(report: EvalReportData, assets: ReportAssets): string {
  const m = report.metrics;
  const title = `emolens eval — ${report.model.name} on ${report.data}${report.split ? ` (${report.split})` : ''}`;
  const curves = trainingCurves(report.history);
  const chartData = {
    labels: m.confusionMatrix.labels,
    perClass: m.confusionMatrix.labels.map((l) => m.perClass[l]),
    reliability: report.calibration?.reliability ?? null,
    curves,
  };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="emolens eval">
<title>${esc(title)}</title>
<style>${assets.css}</style>
</head>
<body>
<header>
  <div class="brand">emolens <span>eval report</span></div>
  <h1>${esc(report.model.name)} <span class="on">on</span> ${esc(report.data)}${report.split ? ` <span class="split">${esc(report.split)}</span>` : ''}</h1>
  <p class="meta">${esc(formatDate(report.generatedAt))} · ${m.n.toLocaleString('en-US')} images scored${
    report.skipped.count ? ` · ${report.skipped.count.toLocaleString('en-US')} skipped` : ''
  } · ${report.mode === 'detect' ? 'faces found by detection + alignment' : 'pre-cropped faces (FER-style)'}</p>
</header>
<main>
${headline(report)}
<section class="card" id="confusion">
  <h2>Confusion matrix</h2>
  <p class="hint">Rows are the true label, columns the model's prediction. Each cell shows the count and the share of its row
  (so the diagonal is each class's recall); colour follows the row share.</p>
  ${confusionTable(m)}
</section>
<section class="card" id="per-class">
  <h2>Per-class precision, recall and F1</h2>
  <div class="chart"><canvas id="perClassChart" aria-label="Per-class precision, recall and F1 bar chart"></canvas></div>
  ${perClassTable(m)}
</section>
${report.ferplus ? ferplusSection(report.ferplus) : ''}
${report.calibration ? calibrationSection(report.calibration) : ''}
${curves ? trainingSection(curves) : ''}
${report.saliency ? saliencySection(report.saliency) : ''}
${modelCard(report.model)}
${report.skipped.count ? skippedSection(report.skipped) : ''}
</main>
<footer>Generated by <code>emolens eval</code>. Precision: of the faces predicted as a class, the share truly of it.
Recall: of the faces truly of a class, the share found. F1: their harmonic mean. Macro-F1: the unweighted mean of the 7 F1 scores,
so rare classes (disgust) count as much as common ones. ECE: the face-weighted mean gap between accuracy and mean top-1
confidence over 15 equal-width confidence bins.</footer>
<script id="report-data" type="application/json">${jsonForScript(chartData)}</script>
<script>${inlineScript(assets.chartJs)}</script>
<script>${inlineScript(assets.chartScript)}</script>
</body>
</html>
`;
}

function headline(report: EvalReportData): string {
  const m = report.metrics;
  const shipped = report.model.shippedVal;
  const delta = (now: number, then: number | undefined): string => {
    if (then === undefined || !Number.isFinite(then)) return '';
    const d = (now - then) * 100;
    const cls = Math.abs(d) <= 0.5 ? 'same' : d > 0 ? 'up' : 'down';
    const sample = shipped && shipped.n !== m.n ? `, n ${shipped.n.toLocaleString('en-US')}` : '';
    return `<div class="delta ${cls}">${d >= 0 ? '+' : '−'}${Math.abs(d).toFixed(1)} pt vs sidecar ${esc(shipped?.split ?? 'val')} (${pct(then)}${sample})</div>`;
  };
  const worst = [...m.confusionMatrix.labels].sort((a, b) => m.perClass[a].f1 - m.perClass[b].f1)[0];
  const best = [...m.confusionMatrix.labels].sort((a, b) => m.perClass[b].f1 - m.perClass[a].f1)[0];
  return `<section class="tiles">
  <div class="tile"><div class="label">Accuracy</div><div class="value">${pct(m.accuracy)}</div>${delta(m.accuracy, shipped?.accuracy)}</div>
  <div class="tile"><div class="label">Macro-F1</div><div class="value">${pct(m.macroF1)}</div>${delta(m.macroF1, shipped?.macroF1)}</div>
${report.calibration ? eceTile(report.calibration.ece, shipped?.ece) : ''}
  <div class="tile"><div class="label">Images</div><div class="value">${m.n.toLocaleString('en-US')}</div>
    <div class="sub">${report.skipped.count ? `${report.skipped.count} skipped` : 'none skipped'}</div></div>
  <div class="tile"><div class="label">Speed</div><div class="value">${report.msPerImage.toFixed(2)}<small> ms/image</small></div>
    <div class="sub">decode + classify, this machine</div></div>
  <div class="tile"><div class="label">Best / worst class</div><div class="value small">${esc(best)} <small>${pct(m.perClass[best]?.f1 ?? 0)}</small></div>
    <div class="sub">${esc(worst)} F1 ${pct(m.perClass[worst]?.f1 ?? 0)}</div></div>
</section>`;
}

/** The FER+ truth beside the FER2013 one: tiles, and the majority confusion matrix next to the label one above. */
function ferplusSection(f: NonNullable<EvalReportData['ferplus']>): string {
  const { run, shipped } = f;
  const m = run.majority;
  const d = run.distribution;
  const vs = (now: number, then: number | undefined, digits: 'pct' | 'num'): string =>
    then === undefined || !Number.isFinite(then) ? '' : `<div class="sub">sidecar ${digits === 'pct' ? pct(then) : then.toFixed(3)}</div>`;
  return `<section class="card" id="ferplus">
  <h2>Against ten raters (FER+)</h2>
  <p class="hint">The same predictions scored against FER+: every image relabelled by 10 people. <b>Majority</b>: the
  ${m.n.toLocaleString('en-US')} images whose top vote is unique and an emotion, labelled with it. <b>Distribution</b>: how far
  the model's probabilities are from the raters' vote shares (${d.n.toLocaleString('en-US')} images; contempt, unknown and
  not-a-face votes left out). ${run.matched.toLocaleString('en-US')} of the scored images have votes.</p>
  <div class="tiles">
  <div class="tile"><div class="label">FER+ majority accuracy</div><div class="value">${pct(m.accuracy)}</div>${vs(m.accuracy, shipped?.majority.accuracy, 'pct')}</div>
  <div class="tile"><div class="label">FER+ macro-F1</div><div class="value">${pct(m.macroF1)}</div>${vs(m.macroF1, shipped?.majority.macroF1, 'pct')}</div>
  <div class="tile"><div class="label">KL to raters</div><div class="value">${d.kl.toFixed(3)}<small> nats</small></div>${vs(d.kl, shipped?.distribution.kl, 'num')}</div>
  <div class="tile"><div class="label">ECE vs raters</div><div class="value">${d.ece.toFixed(3)}</div>${vs(d.ece, shipped?.distribution.ece, 'num')}</div>
  <div class="tile"><div class="label">Rater agreement</div><div class="value">${pct(d.raterAgreement)}</div><div class="sub">share of raters who chose the model's top label</div></div>
  </div>
  <h3>Confusion matrix by FER+ majority</h3>
  ${confusionTable(m)}
  ${perClassTable(m)}
</section>`;
}

function eceTile(ece: number, shipped: number | undefined): string {
  const sub = shipped !== undefined && Number.isFinite(shipped) ? `sidecar ${shipped.toFixed(3)}` : 'top-1 confidence, 15 bins';
  return `  <div class="tile"><div class="label">Calibration (ECE)</div><div class="value">${ece.toFixed(3)}</div><div class="sub">${sub}</div></div>`;
}

function calibrationSection(calibration: CalibrationMetrics): string {
  const bins = calibration.reliability;
  const filled = bins.filter((b) => b.count > 0 && b.confidence !== null && b.accuracy !== null);
  const n = filled.reduce((sum, b) => sum + b.count, 0);
  // Which way the model errs, weighted by faces: a positive gap is accuracy above confidence (under-confident).
  const gap = n ? filled.reduce((sum, b) => sum + (b.count / n) * (b.accuracy! - b.confidence!), 0) : 0;
  const leaning = Math.abs(gap) < 0.005 ? 'neither over- nor under-confident on the whole'
    : gap > 0 ? `under-confident on the whole (accuracy ${(gap * 100).toFixed(1)} pt above confidence)`
      : `over-confident on the whole (confidence ${(-gap * 100).toFixed(1)} pt above accuracy)`;
  const rows = filled
    .map((b) => `<tr><th scope="row">${pct(b.lo)}–${pct(b.hi)}</th><td>${b.count.toLocaleString('en-US')}</td><td>${pct(b.confidence!)}</td><td>${pct(b.accuracy!)}</td></tr>`)
    .join('\n');
  return `<section class="card" id="calibration">
  <h2>Calibration</h2>
  <p class="hint">Does "88% sad" mean 88%? Faces are grouped by their top-1 probability into ${bins.length} equal-width bins; in each,
  the share classified right (bars) should equal the mean confidence (dots). ECE ${calibration.ece.toFixed(3)}: the gap between them,
  averaged over bins weighted by their faces. This model is ${leaning}.</p>
  <div class="chart"><canvas id="reliabilityChart" aria-label="Reliability diagram: accuracy against confidence per bin"></canvas></div>
  <table class="numbers">
<thead><tr><th>confidence</th><th>faces</th><th>mean confidence</th><th>accuracy</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</section>`;
}

function confusionTable(m: ClassificationMetrics): string {
  const { labels, matrix } = m.confusionMatrix;
  const shares = rowNormalized(matrix);
  const head = labels.map((l) => `<th scope="col">${esc(l)}</th>`).join('');
  const rows = labels
    .map((truth, i) => {
      const support = matrix[i].reduce((a, b) => a + b, 0);
      const cells = labels
        .map((_, j) => {
          const share = shares[i][j];
          const count = matrix[i][j];
          const hue = i === j ? '142, 71%, 36%' : '0, 72%, 51%';
          const alpha = Math.min(1, share * 1.6);
          const style = count ? `background: hsla(${hue}, ${alpha.toFixed(3)}); color: ${alpha > 0.55 ? '#fff' : 'inherit'}` : '';
          return `<td class="${i === j ? 'diag' : ''}" style="${style}" title="true ${esc(truth)}, predicted ${esc(labels[j])}: ${count} (${(share * 100).toFixed(1)}% of ${esc(truth)})"><span class="count">${count}</span><span class="share">${(share * 100).toFixed(1)}%</span></td>`;
        })
        .join('');
      return `<tr><th scope="row">${esc(truth)}<span class="support">${support}</span></th>${cells}</tr>`;
    })
    .join('\n');
  return `<div class="scroll"><table class="heatmap">
<thead><tr><th class="corner">true ↓ · predicted →</th>${head}</tr></thead>
<tbody>
${rows}
</tbody></table></div>`;
}

function perClassTable(m: ClassificationMetrics): string {
  const rows = m.confusionMatrix.labels
    .map((l) => {
      const c = m.perClass[l];
      return `<tr><th scope="row">${esc(l)}</th><td>${pct(c.precision)}</td><td>${pct(c.recall)}</td><td>${bar(c.f1)}${pct(c.f1)}</td><td>${c.support}</td></tr>`;
    })
    .join('\n');
  return `<table class="numbers">
<thead><tr><th></th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr></thead>
<tbody>
${rows}
<tr class="total"><th scope="row">macro avg</th><td>${pct(mean(m, 'precision'))}</td><td>${pct(mean(m, 'recall'))}</td><td>${bar(m.macroF1)}${pct(m.macroF1)}</td><td>${m.n}</td></tr>
</tbody></table>`;
}

function mean(m: ClassificationMetrics, key: 'precision' | 'recall'): number {
  const values = Object.values(m.perClass).map((c) => c[key]);
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
}

function bar(value: number): string {
  return `<span class="bar" style="width:${Math.round(Math.max(0, Math.min(1, value)) * 60)}px"></span>`;
}

interface Curves {
  epochs: number[];
  series: Record<string, Array<number | null>>;
}

/** Numeric per-epoch series from the sidecar's history (unknown keys are kept; nested objects are not). */
export function trainingCurves(history: Array<Record<string, unknown>> | undefined): Curves | null {
  if (!Array.isArray(history) || history.length === 0) return null;
  const rows = history.filter((r) => r && typeof r === 'object');
  const epochs = rows.map((r, i) => (typeof r.epoch === 'number' ? r.epoch : i + 1));
  const keys = new Set<string>();
  for (const r of rows) for (const [k, v] of Object.entries(r)) if (k !== 'epoch' && typeof v === 'number') keys.add(k);
  const series: Record<string, Array<number | null>> = {};
  for (const k of keys) series[k] = rows.map((r) => (typeof r[k] === 'number' && Number.isFinite(r[k]) ? (r[k] as number) : null));
  const plotted = ['train_loss', 'val_loss', 'train_acc', 'val_acc', 'val_macro_f1', 'lr'].some((k) => k in series);
  return plotted ? { epochs, series } : null;
}

function trainingSection(curves: Curves): string {
  const has = (k: string): boolean => k in curves.series;
  const best = bestEpoch(curves);
  return `<section class="card" id="training">
  <h2>Training curves</h2>
  <p class="hint">From the sidecar's <code>training.history</code> (${curves.epochs.length} epoch${curves.epochs.length === 1 ? '' : 's'}${best ? `; best val accuracy ${pct(best.value)} at epoch ${best.epoch}` : ''}).
  A widening gap between train and val loss is over-fitting; val accuracy here is on the training run's own validation split.</p>
  <div class="grid2">
    ${has('train_loss') || has('val_loss') ? '<div class="chart"><canvas id="lossChart" aria-label="Loss per epoch"></canvas></div>' : ''}
    ${has('train_acc') || has('val_acc') || has('val_macro_f1') ? '<div class="chart"><canvas id="accChart" aria-label="Accuracy per epoch"></canvas></div>' : ''}
  </div>
  ${has('lr') ? '<div class="chart short"><canvas id="lrChart" aria-label="Learning rate per epoch"></canvas></div>' : ''}
</section>`;
}

function bestEpoch(curves: Curves): { epoch: number; value: number } | null {
  const acc = curves.series.val_acc;
  if (!acc) return null;
  let best: { epoch: number; value: number } | null = null;
  acc.forEach((v, i) => {
    if (v !== null && (!best || v > best.value)) best = { epoch: curves.epochs[i], value: v };
  });
  return best;
}

function saliencySection(saliency: SaliencyReport): string {
  const face = (e: SaliencyExampleView, correct: boolean): string => `<figure class="why-face">
      <img src="${esc(e.cropUrl)}" alt="face ${esc(e.name)}" width="72" height="72"><img src="${esc(e.overlayUrl)}" alt="${esc(saliency.method)} map of ${esc(e.predicted)}" width="72" height="72">
      <figcaption>${correct ? '' : `→ <b>${esc(e.predicted)}</b> `}${pct(e.confidence)}<br><span title="${esc(e.name)}">${esc(shortName(e.name))}</span></figcaption></figure>`;
  const cell = (list: SaliencyExampleView[], correct: boolean): string => (list.length ? list.map((e) => face(e, correct)).join('') : '<span class="none">none</span>');
  const rows = saliency.perClass
    .map((c) => `<tr><th scope="row">${esc(c.label)}</th><td>${cell(c.correct, true)}</td><td>${cell(c.wrong, false)}</td></tr>`)
    .join('\n');
  return `<section class="card" id="saliency">
  <h2>Why: saliency of right and wrong faces</h2>
  <p class="hint">For the first faces of each true class that the model got right and wrong: the face crop the model saw and its
  ${esc(saliency.method === 'gradcam' ? 'Grad-CAM' : saliency.method)} map of the <em>predicted</em> label (bright = the prediction rests on it;
  docs/explain.md). Wrong faces show the label the model chose. This section embeds faces from your data set: share the report accordingly.</p>
  <div class="scroll"><table class="why">
<thead><tr><th>true</th><th>right</th><th>wrong</th></tr></thead>
<tbody>
${rows}
</tbody></table></div>
</section>`;
}

function shortName(path: string): string {
  const base = path.split(/[\\/]/).pop() ?? path;
  return base.length > 22 ? `…${base.slice(-21)}` : base;
}

function modelCard(model: ReportModelInfo): string {
  const rows: Array<[string, string]> = [['name', esc(model.name)]];
  if (model.arch) rows.push(['architecture', esc(model.arch)]);
  if (model.parameters !== undefined) rows.push(['parameters', model.parameters.toLocaleString('en-US')]);
  if (model.macs !== undefined) rows.push(['MACs per face', `${(model.macs / 1e6).toFixed(1)} M`]);
  if (model.inputSize) rows.push(['input', `${model.inputSize}×${model.inputSize} gray${model.faceCropSize ? ` (centre of a ${model.faceCropSize}×${model.faceCropSize} face crop)` : ''}`]);
  if (model.tta !== undefined) rows.push(['test-time augmentation', model.tta ? 'horizontal flip (in the graph)' : 'none']);
  if (model.shippedVal) {
    const ece = model.shippedVal.ece !== undefined ? `, ECE ${model.shippedVal.ece.toFixed(3)}` : '';
    rows.push(['sidecar metrics', `${esc(model.shippedVal.split ?? 'val')}: accuracy ${pct(model.shippedVal.accuracy)}, macro-F1 ${pct(model.shippedVal.macroF1)}${ece}, n ${model.shippedVal.n}`]);
  }
  rows.push(['sha256', `<code class="hash">${esc(model.sha256)}</code>`]);
  if (model.provenance) rows.push(['provenance', esc(model.provenance)]);
  return `<section class="card" id="model">
  <h2>Model</h2>
  <dl class="kv">${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>
</section>`;
}

function skippedSection(skipped: EvalReportData['skipped']): string {
  const items = skipped.examples.map((e) => `<li><code>${esc(e.source)}</code>: ${esc(e.reason)}</li>`).join('');
  const more = skipped.count > skipped.examples.length ? `<li>… and ${skipped.count - skipped.examples.length} more</li>` : '';
  return `<section class="card" id="skipped">
  <h2>Skipped images (${skipped.count})</h2>
  <p class="hint">Not scored and not counted in the metrics above.</p>
  <ul class="skipped">${items}${more}</ul>
</section>`;
}

function pct(v: number): string {
  return `${(v * 100).toFixed(1)}%`;
}

function formatDate(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

/** Escape text for HTML content and attribute values. */
export function esc(text: string): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON safe inside a <script> element (no `</script>`, no HTML comment openers, no line separators). */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

export function inlineScript(source: string): string {
  return source.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

/** What the report needs from an evaluate() run and the model's sidecar. */
export function evalReportData(result: EvalResult, sidecar: EmotionModelSidecar, detect = false, saliency?: SaliencyReport): EvalReportData {
  const val = sidecar.metrics?.val;
  return {
    data: result.data,
    split: result.split,
    metrics: result,
    calibration: { ece: result.ece, reliability: result.reliability },
    model: {
      name: result.model.name,
      sha256: result.model.sha256,
      parameters: typeof sidecar.parameters === 'number' ? sidecar.parameters : undefined,
      macs: typeof sidecar.macs === 'number' ? sidecar.macs : undefined,
      arch: typeof sidecar.training?.arch === 'string' ? sidecar.training.arch : undefined,
      inputSize: sidecar.input?.height,
      faceCropSize: sidecar.preprocess?.faceCrop?.size,
      tta: sidecar.tta ? sidecar.tta.hflip : undefined,
      shippedVal: val ? { n: val.n, accuracy: val.accuracy, macroF1: val.macroF1, split: val.split, ece: val.ece } : undefined,
      provenance: sidecar.provenance,
    },
    msPerImage: result.msPerImage,
    skipped: { count: result.skipped, examples: result.skippedExamples },
    history: Array.isArray(sidecar.training?.history) ? sidecar.training.history : undefined,
    generatedAt: new Date().toISOString(),
    mode: detect ? 'detect' : 'crops',
    ...(saliency ? { saliency } : {}),
    ...(result.ferplus ? { ferplus: { run: result.ferplus, shipped: val?.ferplus } } : {}),
  };
}
