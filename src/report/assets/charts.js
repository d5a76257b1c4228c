/*
 * Draws the eval report's charts (src/report/html.ts) from the JSON in <script id="report-data">, with the Chart.js
 * build inlined before it. Inlined into the page as it is: plain ES5-ish script, so it runs in any browser that
 * opens the file; no modules, no network.
 */
(function () {
  var data = emolensReportSetup();  // report-setup.js: the page's data and Chart.js's defaults
  if (!data) return;
  var pctTicks = { callback: function (v) { return Math.round(v * 100) + '%'; } };
  var pctTip = { callbacks: { label: function (c) { return c.dataset.label + ': ' + (c.parsed.y * 100).toFixed(1) + '%'; } } };
  new Chart(document.getElementById('perClassChart'), {
    type: 'bar',
    data: {
      labels: data.labels,
      datasets: [
        { label: 'precision', data: data.perClass.map(function (c) { return c.precision; }), backgroundColor: '#6366f1', borderRadius: 4 },
        { label: 'recall', data: data.perClass.map(function (c) { return c.recall; }), backgroundColor: '#f59e0b', borderRadius: 4 },
        { label: 'F1', data: data.perClass.map(function (c) { return c.f1; }), backgroundColor: '#10b981', borderRadius: 4 }
      ]
    },
    options: { scales: { y: { min: 0, max: 1, ticks: pctTicks } }, plugins: { tooltip: pctTip, legend: { position: 'top' } } }
  });
  if (data.reliability) reliabilityChart(data.reliability);
  var curves = data.curves;
  if (!curves) return;
  function line(id, keys, colors, opts) {
    var el = document.getElementById(id);
    if (!el) return;
    var datasets = [];
    keys.forEach(function (k, i) {
      if (!curves.series[k]) return;
      datasets.push({ label: k.replace(/_/g, ' '), data: curves.series[k], borderColor: colors[i], backgroundColor: colors[i],
        borderWidth: 2, pointRadius: curves.epochs.length > 40 ? 0 : 2.5, tension: 0.25, spanGaps: true,
        borderDash: k.indexOf('train') === 0 ? [6, 4] : [] });
    });
    new Chart(el, { type: 'line', data: { labels: curves.epochs, datasets: datasets },
      options: Object.assign({ interaction: { mode: 'index', intersect: false },
        scales: { x: { title: { display: true, text: 'epoch' } } } }, opts || {}) });
  }
  line('lossChart', ['train_loss', 'val_loss'], ['#6366f1', '#ef4444'],
    { plugins: { title: { display: true, text: 'Loss' } } });
  line('accChart', ['train_acc', 'val_acc', 'val_macro_f1'], ['#6366f1', '#ef4444', '#10b981'],
    { plugins: { title: { display: true, text: 'Accuracy / macro-F1' }, tooltip: pctTip },
      scales: { x: { title: { display: true, text: 'epoch' } }, y: { ticks: pctTicks } } });
  line('lrChart', ['lr'], ['#9ca3af'], { plugins: { title: { display: true, text: 'Learning rate' }, legend: { display: false } } });
  // Reliability diagram: per confidence bin, the share of faces classified right (bars) against the faces' mean
  // top-1 confidence (dots). A calibrated model's bars reach its dots; empty bins are gaps.
  function reliabilityChart(bins) {
    var el = document.getElementById('reliabilityChart');
    if (!el) return;
    var labels = bins.map(function (b) { return Math.round(b.lo * 100) + '–' + Math.round(b.hi * 100) + '%'; });
    new Chart(el, {
      data: {
        labels: labels,
        datasets: [
          { type: 'line', label: 'mean confidence', data: bins.map(function (b) { return b.confidence; }), borderColor: '#ef4444',
            backgroundColor: '#ef4444', borderWidth: 2, borderDash: [6, 4], pointRadius: 3, spanGaps: true, order: 0 },
          { type: 'bar', label: 'accuracy', data: bins.map(function (b) { return b.accuracy; }), backgroundColor: '#6366f1',
            borderRadius: 3, categoryPercentage: 1, barPercentage: 0.92, order: 1 }
        ]
      },
      options: {
        scales: { x: { title: { display: true, text: 'top-1 confidence' } }, y: { min: 0, max: 1, ticks: pctTicks } },
        plugins: { legend: { position: 'top' }, tooltip: { callbacks: {
          label: function (c) { return c.dataset.label + ': ' + (c.parsed.y * 100).toFixed(1) + '%'; },
          afterBody: function (items) { return items.length ? bins[items[0].dataIndex].count.toLocaleString('en-US') + ' faces' : ''; }
        } } }
      }
    });
  }
})();
