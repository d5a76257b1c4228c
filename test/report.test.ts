import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { calibrationMetrics } from '../src/eval/calibration.js';
import { metricsFromConfusion } from '../src/eval/metrics.js';
import { EMOTIONS } from '../src/labels.js';
import { esc, renderEvalReport, trainingCurves, type EvalReportData, type ReportAssets } from '../src/report/html.js';
import { readReportAssets } from '../src/report/load-assets.js';

/** 7x7 confusion matrix: 10 faces per class, 7 right (8 for happy), the rest called neutral. */
function matrix(): number[][] {
  const n = EMOTIONS.indexOf('neutral');
  return EMOTIONS.map((e, i) => EMOTIONS.map((_, j) => {
    const right = e === 'happy' ? 8 : 7;
    if (i === n) return j === n ? 10 : 0;
    return j === i ? right : j === n ? 10 - right : 0;
  }));
}

function reportData(overrides: Partial<EvalReportData> = {}): EvalReportData {
  return {
    data: '../shared/datasets/fer2013',
    split: 'val',
    metrics: metricsFromConfusion(EMOTIONS, matrix()),
    model: {
      name: 'emolens-fer', sha256: 'ab'.repeat(32), parameters: 1176231, macs: 94048256, arch: 'emolens_vgg',
      inputSize: 44, faceCropSize: 48, tta: true, shippedVal: { n: 3589, accuracy: 0.71, macroF1: 0.69, split: 'val' },
    },
    msPerImage: 1.234,
    skipped: { count: 0, examples: [] },
    history: [
      { epoch: 1, train_loss: 1.9, val_loss: 1.7, train_acc: 0.3, val_acc: 0.35, val_macro_f1: 0.2, lr: 0.05, val_recall: { happy: 0.5 } },
      { epoch: 2, train_loss: 1.5, val_loss: 1.4, train_acc: 0.45, val_acc: 0.5, val_macro_f1: 0.4, lr: 0.04 },
    ],
    generatedAt: '2025-01-02T03:04:05.000Z',
    ...overrides,
  };
}

const CHART_STUB = '/* chart stub */ window.Chart = function () {};';
/** The real stylesheet and chart script with a stub in place of Chart.js (400 KB less to search). */
const ASSETS: ReportAssets = { ...readReportAssets(), chartJs: CHART_STUB };

describe('HTML report', () => {
  it('shows the headline numbers, model card and a heat map with counts and row shares', () => {
    const html = renderEvalReport(reportData(), ASSETS);
    const acc = (7 * 5 + 8 + 10) / 70;
    assert.ok(html.startsWith('<!doctype html>'));
    assert.ok(html.includes(`${(acc * 100).toFixed(1)}%`), 'accuracy tile');
    assert.ok(html.includes('1.23<small> ms/image'), 'speed tile');
    assert.match(html, /<table class="heatmap">/);
    // happy row: 8 right (80.0% of the row), 2 called neutral (20.0%).
    assert.match(html, /title="true happy, predicted happy: 8 \(80\.0% of happy\)"><span class="count">8<\/span><span class="share">80\.0%<\/span>/);
    assert.match(html, /title="true happy, predicted neutral: 2 \(20\.0% of happy\)"/);
    assert.equal((html.match(/<td class="diag"/g) ?? []).length, 7);
    assert.match(html, /1,176,231/);
    assert.match(html, /94\.0 M/);
    assert.ok(html.includes('ab'.repeat(32)), 'sha256');
    assert.match(html, /vs sidecar val \(71\.0%, n 3,589\)/);
  });

  it('draws per-class bars and, with a training history, the training curves', () => {
    const html = renderEvalReport(reportData(), ASSETS);
    for (const id of ['perClassChart', 'lossChart', 'accChart', 'lrChart']) assert.match(html, new RegExp(`<canvas id="${id}"`));
    const json = html.match(/<script id="report-data" type="application\/json">(.*?)<\/script>/s)![1];
    const data = JSON.parse(json);
    assert.deepEqual(data.labels, [...EMOTIONS]);
    assert.deepEqual(data.curves.epochs, [1, 2]);
    assert.deepEqual(data.curves.series.val_acc, [0.35, 0.5]);
    assert.equal(data.curves.series.val_recall, undefined, 'nested values are not plotted');
    assert.equal(data.perClass[EMOTIONS.indexOf('happy')].recall, 0.8);
    assert.match(html, /best val accuracy 50\.0% at epoch 2/);

    const noHistory = renderEvalReport(reportData({ history: undefined }), ASSETS);
    assert.doesNotMatch(noHistory, /id="training"/);
    assert.doesNotMatch(noHistory, /<canvas id="lossChart"/);
  });

  it('is self-contained: Chart.js, styles and chart script inlined, no external scripts, styles or fonts', () => {
    const assets = readReportAssets();
    assert.match(assets.chartJs, /Chart\.js v4/);
    assert.match(assets.css, /\.heatmap td/);
    assert.match(assets.chartScript, /getElementById\('perClassChart'\)/);
    const html = renderEvalReport(reportData(), assets);
    assert.ok(html.includes(assets.chartJs.slice(0, 200)), 'Chart.js source is inlined');
    assert.ok(html.includes(`<style>${assets.css}</style>`), 'the stylesheet is inlined');
    assert.ok(html.includes(assets.chartScript.slice(0, 200)), 'the chart script is inlined');
    assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)=/i);
    assert.doesNotMatch(html, /@import|url\(\s*['"]?https?:/i);
    // Only our three script elements close: nothing inlined can end a <script> early.
    assert.equal((html.match(/<\/script>/g) ?? []).length, 3);
  });

  it('escapes names and paths, and lists skipped images', () => {
    const html = renderEvalReport(reportData({
      data: '<img src=x onerror=alert(1)>',
      model: { name: 'm</script><script>alert(1)</script>', sha256: 'x' },
      skipped: { count: 3, examples: [{ source: 'a&b.jpg', reason: 'no face found' }] },
    }), ASSETS);
    assert.doesNotMatch(html, /<img src=x/);
    assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'));
    assert.equal((html.match(/<\/script>/g) ?? []).length, 3);
    assert.match(html, /Skipped images \(3\)/);
    assert.match(html, /<code>a&amp;b\.jpg<\/code>: no face found/);
    assert.match(html, /… and 2 more/);
    assert.equal(esc(`"'&<>`), '&quot;&#39;&amp;&lt;&gt;');
  });

  it('draws the reliability diagram and an ECE tile when the run has calibration data', () => {
    const calibration = calibrationMetrics([0.95, 0.97, 0.5, 0.52, 0.3], [true, true, true, false, false]);
    const html = renderEvalReport(reportData({ calibration }), ASSETS);
    assert.match(html, /<canvas id="reliabilityChart"/);
    assert.match(html, /Calibration \(ECE\)<\/div><div class="value">0\.080</);
    const data = JSON.parse(html.match(/<script id="report-data" type="application\/json">(.*?)<\/script>/s)![1]);
    assert.equal(data.reliability.length, 15);
    assert.equal(data.reliability[14].count, 2);
    // Bins with faces are listed: 26.7%–33.3% holds the one face at 0.30, none right.
    assert.match(html, /<tr><th scope="row">26\.7%–33\.3%<\/th><td>1<\/td><td>30\.0%<\/td><td>0\.0%<\/td><\/tr>/);
    assert.match(html, /over-confident on the whole/);

    const none = renderEvalReport(reportData(), ASSETS);
    assert.doesNotMatch(none, /id="calibration"/);
    assert.doesNotMatch(none, /Calibration \(ECE\)/);
  });

  it('reads training curves only from numeric per-epoch fields', () => {
    assert.equal(trainingCurves(undefined), null);
    assert.equal(trainingCurves([]), null);
    assert.equal(trainingCurves([{ epoch: 1, note: 'x' }]), null);
    assert.deepEqual(trainingCurves([{ val_acc: 0.5 }, { val_acc: Number.NaN }]), { epochs: [1, 2], series: { val_acc: [0.5, null] } });
  });
});
