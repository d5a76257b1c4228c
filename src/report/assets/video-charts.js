/*
 * Draws the video report's charts (src/report/video-html.ts) from the JSON in <script id="report-data">, with the
 * Chart.js build inlined before it: the group's mood over time and, per face, its 7 emotion probabilities over
 * time, in the one palette (src/report/palette.ts, passed in the data). Plain ES5-ish script, no modules, no network.
 */
(function () {
  var data = emolensReportSetup();  // report-setup.js: the page's data and Chart.js's defaults
  if (!data) return;
  function clock(s) {
    var m = Math.floor(s / 60), sec = s - m * 60;
    return m + ':' + (sec < 10 ? '0' : '') + sec.toFixed(sec % 1 ? 1 : 0);
  }
  function points(ts, ys) {
    return ts.map(function (t, i) { return { x: t, y: ys[i] }; });
  }
  var xAxis = { type: 'linear', min: 0, max: data.duration || undefined, title: { display: true, text: 'time' },
    ticks: { callback: function (v) { return clock(v); } } };
  var common = { parsing: false, normalized: true, interaction: { mode: 'nearest', axis: 'x', intersect: false } };
  var m = data.mood;
  var moodEl = document.getElementById('moodChart');
  if (moodEl) {
    new Chart(moodEl, {
      type: 'line',
      data: { datasets: [
        { label: 'valence', data: points(m.t, m.valence), borderColor: '#4f46e5', backgroundColor: '#4f46e5', borderWidth: 2, pointRadius: 0, spanGaps: false, yAxisID: 'y' },
        { label: 'engagement', data: points(m.t, m.engagement), borderColor: '#f97316', backgroundColor: '#f97316', borderWidth: 2, pointRadius: 0, spanGaps: false, yAxisID: 'y' },
        { label: 'faces', data: points(m.t, m.faces), borderColor: '#9ca3af', backgroundColor: '#9ca3af', borderWidth: 1.5, borderDash: [5, 4], pointRadius: 0, stepped: true, yAxisID: 'faces' }
      ] },
      options: Object.assign({}, common, {
        scales: { x: xAxis, y: { min: -1, max: 1, title: { display: true, text: 'valence / engagement' } },
          faces: { position: 'right', min: 0, suggestedMax: 2, ticks: { precision: 0 }, grid: { drawOnChartArea: false }, title: { display: true, text: 'faces' } } },
        plugins: { legend: { position: 'top' }, tooltip: { callbacks: {
          title: function (items) { return items.length ? clock(items[0].parsed.x) : ''; },
          label: function (c) { return c.dataset.label + ': ' + (c.dataset.yAxisID === 'faces' ? c.parsed.y.toFixed(1) : c.parsed.y.toFixed(2)); }
        } } }
      })
    });
  }
  var byId = {};
  data.tracks.forEach(function (t) { byId[t.id] = t; });
  var canvases = document.querySelectorAll('canvas.track-canvas');
  for (var i = 0; i < canvases.length; i++) {
    var track = byId[canvases[i].getAttribute('data-track')];
    if (!track) continue;
    new Chart(canvases[i], {
      type: 'line',
      data: { datasets: data.emotions.map(function (e) {
        return { label: e, data: points(track.t, track.emotions[e]), borderColor: data.colors[e], backgroundColor: data.colors[e],
          borderWidth: 1.8, pointRadius: track.t.length > 60 ? 0 : 2, tension: 0.2 };
      }) },
      options: Object.assign({}, common, {
        scales: { x: xAxis, y: { min: 0, max: 1, ticks: { callback: function (v) { return Math.round(v * 100) + '%'; } } } },
        plugins: { legend: { display: false }, tooltip: { itemSort: function (a, b) { return b.parsed.y - a.parsed.y; }, callbacks: {
          title: function (items) { return items.length ? clock(items[0].parsed.x) : ''; },
          label: function (c) { return c.dataset.label + ': ' + (c.parsed.y * 100).toFixed(1) + '%'; }
        } } }
      })
    });
  }
})();
