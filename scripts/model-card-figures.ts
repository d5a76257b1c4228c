/**
 * Print the model card's figure tables (per-class precision/recall/F1, confusion matrix, training stages) from a
 * model's sidecar, so docs/model-card.md is pasted from the shipped file instead of typed by hand.
 *
 *   node --import tsx scripts/model-card-figures.ts [models/emolens-fer.json]
 */
import { readFileSync } from 'node:fs';

interface ClassFigures { precision: number; recall: number; f1: number; support: number }
interface Stage { stage: number; command: string; epochsRun: number; trainSeconds: number }

const file = process.argv[2] ?? 'models/emolens-fer.json';
const sidecar = JSON.parse(readFileSync(file, 'utf8'));
const val = sidecar.metrics.val;
const f3 = (x: number) => x.toFixed(3);

console.log(`**Accuracy ${(val.accuracy * 100).toFixed(2)} %**, macro-F1 ${f3(val.macroF1)}, n = ${val.n} (PyTorch at export).\n`);
console.log('| class | precision | recall | F1 | support |\n|---|---:|---:|---:|---:|');
for (const [label, c] of Object.entries(val.perClass as Record<string, ClassFigures>)) {
  console.log(`| ${label} | ${f3(c.precision)} | ${f3(c.recall)} | ${f3(c.f1)} | ${c.support} |`);
}
const { labels, matrix } = val.confusionMatrix as { labels: string[]; matrix: number[][] };
console.log(`\n| true \\ predicted | ${labels.join(' | ')} |\n|---|${labels.map(() => '---:').join('|')}|`);
matrix.forEach((row, i) => console.log(`| **${labels[i]}** | ${row.join(' | ')} |`));

// Model v4 on: the same predictions against the FER+ raters, side by side with the FER2013-label figures above.
const fp = val.ferplus;
if (fp) {
  const m = fp.majority;
  const d = fp.distribution;
  console.log(`\n**FER+ majority accuracy ${(m.accuracy * 100).toFixed(2)} %**, macro-F1 ${f3(m.macroF1)}, n = ${m.n} ` +
    `(${fp.matched} val images with votes); KL to the raters ${f3(d.kl)} nats, ECE against the raters ${f3(d.ece)}, ` +
    `ECE by majority ${f3(m.ece)}, rater agreement ${f3(d.raterAgreement)}.\n`);
  console.log('| class | FER+ precision | FER+ recall | FER+ F1 | FER+ support | FER2013 recall |\n|---|---:|---:|---:|---:|---:|');
  for (const [label, c] of Object.entries(m.perClass as Record<string, ClassFigures>)) {
    console.log(`| ${label} | ${f3(c.precision)} | ${f3(c.recall)} | ${f3(c.f1)} | ${c.support} | ${f3((val.perClass as Record<string, ClassFigures>)[label].recall)} |`);
  }
  const cm = m.confusionMatrix as { labels: string[]; matrix: number[][] };
  console.log(`\n| FER+ majority \\ predicted | ${cm.labels.join(' | ')} |\n|---|${cm.labels.map(() => '---:').join('|')}|`);
  cm.matrix.forEach((row, i) => console.log(`| **${cm.labels[i]}** | ${row.join(' | ')} |`));
}

const stages: Stage[] = sidecar.training.stages ?? [];
if (stages.length) {
  console.log('\n| stage | epochs | CPU time | command |\n|---|---:|---:|---|');
  for (const s of stages) console.log(`| ${s.stage} | ${s.epochsRun} | ${Math.round(s.trainSeconds / 60)} min | \`${s.command}\` |`);
}
const best = sidecar.training.checkpoint;
console.log(`\nBest checkpoint: ${best}; ${sidecar.training.epochsRun} epochs in all, ${Math.round(sidecar.training.trainSeconds / 60)} min.`);
