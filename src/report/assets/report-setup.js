/*
 * Shared by the eval and video reports' chart scripts (charts.js, video-charts.js), inlined before either: the page's
 * embedded data, and Chart.js's defaults for a static report page. Plain ES5-ish script, no modules, no network.
 */
function emolensReportSetup() {
  if (typeof Chart === 'undefined') return null;
  Chart.defaults.animation = false;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = '#4b5563';
  Chart.defaults.maintainAspectRatio = false;
  return JSON.parse(document.getElementById('report-data').textContent);
}
