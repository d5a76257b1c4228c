/**
 * `emolens explain <images…>`: for every face, which pixels of its aligned crop drove the label — a heat-map overlay
 * PNG per face and, with --json, each face's JSON entry (the analyze one) plus `saliency`. The maps come from
 * src/explain/ (Grad-CAM or occlusion); this file parses flags, writes files and prints. A bad input is reported
 * on stderr (or as an error entry in the JSON) and the rest are still explained; exit 1 if any failed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import type { Command } from 'commander';
import { EmolensError, UsageError } from '../errors.js';
import { isEmotion, EMOTIONS, type Emotion } from '../labels.js';
import type { DetectedFace, GrayImage, Landmarks } from '../types.js';
import { inputErrorEntry } from '../result/error.js';
import { serializeFace } from '../result/image.js';
import { lumaWeights } from '../classify/index.js';
import { resolveMethod, SALIENCY_METHODS, type ExplainOptions, type FaceExplanation } from '../explain/index.js';
import { bold, dim, emotionColor, errorLine, expandInputs, parseNumber, red, styleFor } from './common.js';
import { addAnalyzerOptions, analyzerOptionsFrom, type AnalyzerFlags } from './options.js';

interface ExplainFlags extends AnalyzerFlags {
  out?: string;
  json?: boolean;
  method: string;
  emotion?: string;
  crops?: boolean;
  patch?: string;
  stride?: string;
  scale: string;
}

/** Where PNGs go when neither --out nor --json is given. */
export const DEFAULT_EXPLAIN_DIR = 'emolens-explain';

export function register(program: Command): void {
  const command = program
    .command('explain')
    .description('show which parts of each face drove its emotion: a heat-map PNG per face, saliency maps in JSON')
    .argument('<inputs...>', 'image files, folders or glob patterns')
    .option('--out <dir>', `write <image>-face<N>.png overlays here (default ${DEFAULT_EXPLAIN_DIR}/ unless --json)`)
    .option('--json', 'JSON on stdout: { "images": [ { file, width, height, faces: [ { box, …, emotions, dominant, saliency, png? } ] } ] }')
    .option('--method <auto|gradcam|occlusion>', 'auto: Grad-CAM when the model has its outputs (contract /2), else occlusion', 'auto')
    .option('--emotion <name>', `explain this emotion for every face instead of its dominant one (${EMOTIONS.join(', ')})`)
    .option('--crops', 'inputs are aligned face crops already (e.g. FER2013 48x48 JPEGs): no detection')
    .option('--patch <px>', 'occlusion: side of the grey patch in crop px (default 8)')
    .option('--stride <px>', 'occlusion: step between patches in crop px (default 4)')
    .option('--scale <n>', 'PNG size as a multiple of the crop (48 px)', '4');
  addAnalyzerOptions(command, 'photos', ['model', 'detector', 'minScore', 'maxFaces', 'maxPixels', 'threads'])
    .addHelpText('after', `
Examples:
  $ emolens explain photo.jpg                       overlays in ${DEFAULT_EXPLAIN_DIR}/
  $ emolens explain photos/ --out maps/ --json > saliency.json
  $ emolens explain face.jpg --crops --method occlusion --emotion sad

Maps are over the aligned 48x48 face crop the classifier sees, values in [0, 1] (1 = most salient).
Grad-CAM is exact and costs one classifier pass; occlusion costs about 100 passes per face. See docs/explain.md.

Exit status: 0 when every input was explained, 1 when any failed (the others are still reported), 2 for bad usage.`)
    .action(async (inputs: string[], flags: ExplainFlags) => {
      process.exitCode = await runExplain(inputs, flags);
    });
}

export async function runExplain(inputs: string[], flags: ExplainFlags): Promise<number> {
  if (!(SALIENCY_METHODS as readonly string[]).includes(flags.method)) throw new UsageError(`invalid --method: ${flags.method} (expected ${SALIENCY_METHODS.join(', ')})`);
  if (flags.emotion !== undefined && !isEmotion(flags.emotion)) throw new UsageError(`invalid --emotion: ${flags.emotion} (expected ${EMOTIONS.join(', ')})`);
  const scale = parseNumber('--scale', flags.scale, { min: 1, max: 32, integer: true });
  const explainOptions: ExplainOptions = {
    method: flags.method as ExplainOptions['method'],
    emotion: flags.emotion as Emotion | undefined,
    occlusion: {
      patch: flags.patch === undefined ? undefined : parseNumber('--patch', flags.patch, { min: 1, max: 48, integer: true }),
      stride: flags.stride === undefined ? undefined : parseNumber('--stride', flags.stride, { min: 1, max: 48, integer: true }),
    },
  };
  const outDir = flags.out ?? (flags.json ? undefined : DEFAULT_EXPLAIN_DIR);
  const items = expandInputs(inputs);

  // Loaded on use, so `--help` starts fast without onnxruntime-node and sharp.
  const [{ createAnalyzer }, { encodeOverlayPng }, { decodeFaceCrop }] = await Promise.all([
    import('../node.js'), import('../report/saliency-png.js'), import('../image/decode.js'),
  ]);
  const analyzer = await createAnalyzer(analyzerOptionsFrom(flags));
  const style = styleFor(process.stdout);
  const errStyle = styleFor(process.stderr);
  const sidecar = analyzer.emotionModel;
  const cropSize = sidecar.preprocess.faceCrop.size;
  const method = resolveMethod(sidecar, explainOptions.method); // a --method gradcam the model cannot do fails here, once
  if (outDir) mkdirSync(outDir, { recursive: true });
  const used = new Set<string>();
  let failed = 0;
  let first = true;
  let faces = 0;
  if (flags.json) process.stdout.write('{\n  "images": [');
  const writeJson = (entry: unknown) => {
    process.stdout.write(`${first ? '' : ','}\n    ${JSON.stringify(entry)}`);
    first = false;
  };

  try {
    for (const item of items) {
      try {
        if ('error' in item) throw new EmolensError('INPUT_NOT_FOUND', `${item.file}: ${item.error}`);
        let width: number, height: number, explained: Array<DetectedFace & FaceExplanation>, crops: GrayImage[];
        if (flags.crops) {
          // The whole image is the face: its box is the image, with no detection score or landmarks to report.
          const image = await analyzer.decode(item.file);
          width = image.width; height = image.height;
          crops = [await decodeFaceCrop(image, cropSize, lumaWeights(sidecar))];
          const [face] = await analyzer.explainCrops(crops, { ...explainOptions, method });
          explained = [{ box: { x: 0, y: 0, width, height }, score: 1, landmarks: {} as Landmarks, ...face }];
        } else {
          ({ width, height, faces: explained, crops } = await analyzer.explainWithImage(item.file, { ...explainOptions, method }));
        }
        const stem = uniqueStem(basename(item.file, extname(item.file)) || 'image', used);
        const entryFaces = [];
        const lines: string[] = [];
        for (let i = 0; i < explained.length; i++) {
          const { emotions, saliency } = explained[i];
          const png = outDir ? join(outDir, `${stem}-face${i + 1}.png`) : undefined;
          if (png) writeFileSync(png, await encodeOverlayPng(crops[i], saliency, scale));
          entryFaces.push({ ...serializeFace(explained[i]), ...(png ? { png } : {}) });
          const p = Math.round(emotions[saliency.emotion] * 100);
          lines.push(`  ${String(i + 1).padStart(2)}  ${emotionColor(saliency.emotion, saliency.emotion.padEnd(8), style)} ${String(p).padStart(3)}%  ${dim(saliency.method, style)}${png ? `  → ${png}` : ''}`);
        }
        faces += explained.length;
        if (flags.json) writeJson({ file: item.file, width, height, faces: entryFaces });
        else process.stdout.write(`${bold(item.file, style)}  ${dim(`${explained.length} face${explained.length === 1 ? '' : 's'}`, style)}\n${lines.join('\n')}${lines.length ? '\n' : ''}`);
      } catch (err) {
        failed++;
        if (flags.json) writeJson(inputErrorEntry(item.file, err));
        process.stderr.write(`${red('error:', errStyle)} ${errorLine(err)}\n`);
      }
    }
  } finally {
    if (flags.json) process.stdout.write(`${first ? '' : '\n  '}]\n}\n`);
    await analyzer.dispose();
  }
  if (!flags.json) {
    const ok = items.length - failed;
    process.stderr.write(`${dim(`${ok} image${ok === 1 ? '' : 's'}, ${faces} face${faces === 1 ? '' : 's'} explained by ${method}${failed ? `; ${failed} failed` : ''}${outDir ? ` — overlays in ${outDir}` : ''}`, errStyle)}\n`);
  }
  return failed > 0 ? 1 : 0;
}

/** Photos with the same name from different folders get -2, -3, … */
function uniqueStem(stem: string, used: Set<string>): string {
  let name = stem;
  for (let n = 2; used.has(name); n++) name = `${stem}-${n}`;
  used.add(name);
  return name;
}
