/**
 * docs/zoo.md's tables and its val-accuracy chart, from what the zoo runs left behind (prints Markdown; writes the SVG).
 * Per architecture it reads the exported sidecar (models/zoo-<arch>.json, or runs/zoo/<arch>/model/ for the ones not
 * shipped), `emolens eval --json` output (runs/zoo/<arch>/eval.json) and `emolens bench --json` output
 * (runs/zoo/<arch>/bench-*.json, the minimum over the repeats) and scripts/zoo-speed.ts --json output
 * (runs/zoo/speed.json). Nothing here measures anything.
 *
 *   node --import tsx scripts/zoo-table.ts [--svg docs/zoo/val-acc.svg]
 */
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { svg: { type: 'string', default: 'docs/zoo/val-acc.svg' } } });

/** The architectures of docs/zoo.md, the seed each comes from and the figure its paper reports (issue 10). */
const ZOO = [
  { arch: 'seed000_mobilenet_v2', seed: '000 MobileNet transfer', paper: 'not stated' },
  { arch: 'seed001_cnn12', seed: '001 12-layer CNN', paper: '≈ 66 % val' },
  { arch: 'seed002_cnn', seed: '002 CNN (2,345,607 params)', paper: 'not stated' },
  { arch: 'mini_xception', seed: '002 mini-Xception', paper: '62.5 % test' },
  { arch: 'seed003_gelu_cnn', seed: '003 GELU CNN', paper: '≈ 51 % val' },
];
const LABELS = ['angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise'];

type Json = Record<string, any>;
const readJson = (file: string): Json | null => (existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null);

function sidecarOf(name: string, arch: string): { sidecar: Json | null; file: string } {
  for (const file of [join('models', `${name}.json`), join('runs', 'zoo', arch, 'model', `${name}.json`)]) {
    const sidecar = readJson(file);
    if (sidecar) return { sidecar, file };
  }
  return { sidecar: null, file: '' };
}

/** ms/face at batch 1 and 32 of the first classifier row (emolens, ORT default threads), minimum over bench files. */
function benchOf(dir: string): { b1: number; b32: number; runs: number } | null {
  if (!existsSync(dir)) return null;
  const rows = readdirSync(dir).filter((f) => /^bench-.*\.json$/.test(f))
    .map((f) => readJson(join(dir, f))!.classifiers[0] as { batch1MsPerFace: number; batch32MsPerFace: number });
  if (!rows.length) return null;
  return { b1: Math.min(...rows.map((r) => r.batch1MsPerFace)), b32: Math.min(...rows.map((r) => r.batch32MsPerFace)), runs: rows.length };
}

const speed = (readJson(join('runs', 'zoo', 'speed.json'))?.results ?? []) as Array<{ model: string; batch: number; cpuMsPerFace: number }>;
const cpuMs = (name: string): string => {
  const [b1, b32] = [1, 32].map((b) => speed.find((t) => t.model === name && t.batch === b)?.cpuMsPerFace);
  return b1 === undefined || b32 === undefined ? '—' : `${b1.toFixed(2)} / ${b32.toFixed(2)}`;
};
const pct = (v: number | undefined): string => (typeof v === 'number' ? `${(v * 100).toFixed(1)} %` : '—');
const fix = (v: number | undefined, d: number): string => (typeof v === 'number' ? v.toFixed(d) : '—');

const rows = [...ZOO.map((z) => ({ ...z, name: `zoo-${z.arch}` })),
  { arch: 'emolens_vgg', seed: 'emolens-fer (shipped, reference)', paper: '—', name: 'emolens-fer' }];
const main: string[] = [
  '| model | seed / paper | paper\'s figure | val acc | macro-F1 | ECE | eval = sidecar | parameters | MACs / face | ONNX MB | CPU ms / face, 1 thread (b1 / b32) | bench wall ms / face (b1 / b32) | train CPU-min | wall min | epochs |',
  '|---|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|',
];
const recall: string[] = [`| model | ${LABELS.join(' | ')} |`, `|---|${LABELS.map(() => '---:').join('|')}|`];
const curves: Array<{ arch: string; points: Array<[number, number]> }> = [];
for (const r of rows) {
  const { sidecar, file } = sidecarOf(r.name, r.arch);
  const dir = join('runs', 'zoo', r.name === 'emolens-fer' ? 'emolens-fer' : r.arch);
  const ev = readJson(join(dir, 'eval.json'));
  const bench = benchOf(dir);
  const val = sidecar?.metrics?.val as Json | undefined;
  const stages = (sidecar?.training?.stages ?? []) as Json[];
  const last = stages[stages.length - 1] ?? {};
  const cpuMin = typeof last.trainCpuSeconds === 'number' ? (last.trainCpuSeconds / 60).toFixed(1) : '—';
  const wallMin = stages.length ? (stages.reduce((s, st) => s + (st.trainSeconds ?? 0), 0) / 60).toFixed(0) : '—';
  const same = ev && val
    ? (ev.accuracy.toFixed(4) === val.accuracy.toFixed(4) && ev.macroF1.toFixed(4) === val.macroF1.toFixed(4)
      && (val.ece === undefined || ev.ece.toFixed(4) === val.ece.toFixed(4)) ? 'yes' : `no (eval ${pct(ev.accuracy)})`)
    : '—';
  const mb = file && existsSync(file.replace(/\.json$/, '.onnx')) ? (readFileSync(file.replace(/\.json$/, '.onnx')).length / 1e6).toFixed(2) : '—';
  const label = r.name === 'emolens-fer' ? '`emolens-fer`' : `\`${r.arch}\``;
  const m = ev ?? val;
  main.push(`| ${label} | ${r.seed} | ${r.paper} | ${pct(m?.accuracy)} | ${fix(m?.macroF1, 3)} | ${fix(m?.ece, 3)} | ${same} | ` +
    `${sidecar ? sidecar.parameters.toLocaleString('en-US') : '—'} | ${sidecar ? `${(sidecar.macs / 1e6).toFixed(0)} M` : '—'} | ${mb} | ` +
    `${cpuMs(r.name)} | ${bench ? `${bench.b1.toFixed(2)} / ${bench.b32.toFixed(2)}` : '—'} | ${cpuMin} | ${wallMin} | ${fix(sidecar?.training?.epochsRun, 2)} |`);
  if (m) recall.push(`| ${label} | ${LABELS.map((l) => fix(m.perClass?.[l]?.recall, 2)).join(' | ')} |`);
  const history = (sidecar?.training?.history ?? []) as Json[];
  if (r.name !== 'emolens-fer' && history.length && typeof history[0].train_cpu_seconds === 'number') {
    curves.push({ arch: r.arch, points: history.map((h) => [h.train_cpu_seconds / 60, h.val_acc]) });
  }
}

const curveRows = curves.map((c) => `| \`${c.arch}\` | ${c.points.map(([x, y]) => `${x.toFixed(1)}: ${pct(y)}`).join(', ')} |`);
process.stdout.write([...main, '', ...recall, '', '| model | val accuracy at training CPU-min |', '|---|---|', ...curveRows, ''].join('\n'));

// One chart: val accuracy against training CPU minutes, every architecture on the same axes.
if (curves.length) {
  const W = 640, H = 360, L = 50, R = 180, T = 20, B = 40;
  const xMax = Math.max(...curves.flatMap((c) => c.points.map((p) => p[0])));
  const yMax = Math.min(1, Math.ceil(Math.max(...curves.flatMap((c) => c.points.map((p) => p[1]))) * 10) / 10 + 0.05);
  const x = (v: number): number => L + (v / xMax) * (W - L - R);
  const y = (v: number): number => H - B - (v / yMax) * (H - T - B);
  const colours = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd'];
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`];
  for (let v = 0; v <= yMax + 1e-9; v += 0.1) {
    parts.push(`<line x1="${L}" y1="${y(v).toFixed(1)}" x2="${W - R}" y2="${y(v).toFixed(1)}" stroke="#ddd"/><text x="${L - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${Math.round(v * 100)}%</text>`);
  }
  for (let v = 0; v <= xMax + 1e-9; v += 1) parts.push(`<text x="${x(v).toFixed(1)}" y="${H - B + 16}" text-anchor="middle">${v}</text>`);
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle">training CPU minutes (all threads)</text>`);
  parts.push(`<text x="12" y="${T + (H - T - B) / 2}" transform="rotate(-90 12 ${T + (H - T - B) / 2})" text-anchor="middle">FER2013 val accuracy</text>`);
  // Always answering "happy", the largest val class (895 of 3,589): the floor every curve should clear.
  const floor = 895 / 3589;
  parts.push(`<line x1="${L}" y1="${y(floor).toFixed(1)}" x2="${W - R}" y2="${y(floor).toFixed(1)}" stroke="#888" stroke-dasharray="4 3"/><text x="${W - R + 10}" y="${(y(floor) + 4).toFixed(1)}" fill="#666">always "happy"</text>`);
  curves.forEach((c, i) => {
    const pts = c.points.map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${pts}" fill="none" stroke="${colours[i % colours.length]}" stroke-width="2"/>`);
    for (const [px, py] of c.points) parts.push(`<circle cx="${x(px).toFixed(1)}" cy="${y(py).toFixed(1)}" r="2.5" fill="${colours[i % colours.length]}"/>`);
    parts.push(`<line x1="${W - R + 10}" y1="${T + 10 + i * 18}" x2="${W - R + 30}" y2="${T + 10 + i * 18}" stroke="${colours[i % colours.length]}" stroke-width="2"/><text x="${W - R + 36}" y="${T + 14 + i * 18}">${c.arch}</text>`);
  });
  parts.push('</svg>');
  mkdirSync(dirname(args.svg!), { recursive: true });
  writeFileSync(args.svg!, `${parts.join('\n')}\n`);
  process.stderr.write(`wrote ${args.svg}\n`);
}
