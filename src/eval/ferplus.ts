/**
 * FER+ (Barsoum et al. 2016) as a second truth for `emolens eval --labels`: the votes of 10 raters per FER2013 image.
 * The same definitions as training/data/ferplus.py (which writes the sidecar's `metrics.val.ferplus`), so an eval run and a
 * shipped model's figures compare field by field.
 *
 * Votes come from either file (docs/model-card.md § Data):
 * - a per-image votes CSV, `file,row,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF`,
 *   where `file` is the image's path relative to the data root (`val/angry/PublicTest_1.jpg`) and `row` its row in
 *   Kaggle's fer2013.csv; a folder holding `<split>.csv` stands for it;
 * - Microsoft's `fer2013new.csv` (`Usage,Image name,neutral,…,NF`), one line per row of Kaggle's fer2013.csv.
 *
 * - **Majority** (the FER+ paper's protocol): an image counts when its top vote over all 10 columns is unique and is
 *   one of the 7 emotions; that emotion is its label. Accuracy, per-class P/R/F1 and ECE are computed on those images.
 * - **Distribution**: contempt, unknown and not-a-face votes dropped, the 7 emotion votes renormalised; an image with
 *   no emotion vote or more than half its votes unknown/NF is left out. Mean cross-entropy H(raters, model), KL(raters ‖
 *   model) in nats, and the ECE against the raters: per top-1 confidence bin, |mean confidence − mean share of raters
 *   who chose the predicted label|.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { DatasetError } from '../errors.js';
import { splitCsvLine, type Split } from '../image/datasets.js';
import { dominantEmotion, EMOTIONS, type Emotion, type EmotionProbabilities } from '../labels.js';
import { CalibrationBins, type CalibrationMetrics } from './calibration.js';
import { ConfusionMatrix, type ClassificationMetrics } from './metrics.js';

/** The 10 vote columns of both files, in their order. */
export const VOTE_COLUMNS = ['neutral', 'happiness', 'surprise', 'sadness', 'anger', 'disgust', 'fear', 'contempt', 'unknown', 'NF'] as const;
/** For each emolens emotion, its vote column. */
const EMOTION_COLUMN: Record<Emotion, number> = { angry: 4, disgust: 5, fear: 6, happy: 1, neutral: 0, sad: 3, surprise: 2 };
const UNKNOWN_COLUMNS = [8, 9];
/** An image with more than this share of unknown / not-a-face votes has no rater distribution (as training). */
const MAX_UNKNOWN_SHARE = 0.5;

/** Votes of one image (10 counts). */
export type Votes = readonly number[];

/** Where a scored image's votes are looked up: its file (folder layout) or its fer2013.csv data row (0-based). */
export type VoteKey = { file: string } | { row: number };

export interface FerPlusMetrics {
  /** The votes file read. */
  votes: string;
  /** Scored images that had votes; `n` of `majority` and `distribution` are the images each protocol keeps. */
  matched: number;
  majority: ClassificationMetrics & CalibrationMetrics;
  distribution: { n: number; crossEntropy: number; kl: number; ece: number; raterAgreement: number };
}

/** Votes of one split, looked up by image. */
export class FerPlusVotes {
  private constructor(
    readonly file: string,
    private readonly byFile: Map<string, Votes>,
    private readonly byRow: Map<number, Votes>,
  ) {}

  /** Read `source` (a votes CSV, a folder with `<split>.csv`, or fer2013new.csv) for `split`. */
  static async load(source: string, split: Split): Promise<FerPlusVotes> {
    const info = await stat(source).catch(() => null);
    if (!info) throw new DatasetError(`FER+ votes not found: ${source}`);
    const file = info.isDirectory() ? path.join(source, `${split}.csv`) : source;
    if (!(await stat(file).catch(() => null))?.isFile()) throw new DatasetError(`FER+ votes not found: ${file}`);
    const byFile = new Map<string, Votes>();
    const byRow = new Map<number, Votes>();
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    let header: string[] | null = null;
    let columns: number[] = [];
    let kind: 'file' | 'usage' = 'file';
    let line = 0;
    let dataRow = -1;
    for await (const text of lines) {
      line++;
      if (header === null) {
        header = splitCsvLine(text.replace(/^\uFEFF/, '')).map((h) => h.trim());
        const missing = VOTE_COLUMNS.filter((c) => !header!.includes(c));
        if (missing.length) throw new DatasetError(`${file}: missing vote column(s) ${missing.join(', ')} (expected ${VOTE_COLUMNS.join(',')})`);
        columns = VOTE_COLUMNS.map((c) => header!.indexOf(c));
        if (header.includes('file')) kind = 'file';
        else if (header.includes('Usage')) kind = 'usage';
        else throw new DatasetError(`${file}: expected a file column (per-image votes) or a Usage column (fer2013new.csv)`);
        continue;
      }
      if (text.trim() === '') continue;
      dataRow++;
      const fields = splitCsvLine(text);
      const cells = columns.map((c) => (fields[c] ?? '').trim());
      let votes: Votes | null = null;
      if (cells.some((c) => c !== '')) {
        const v = cells.map(Number);
        if (v.some((x) => !Number.isFinite(x) || x < 0)) throw new DatasetError(`${file}: line ${line}: vote columns must be non-negative numbers`);
        votes = v;
      }
      if (kind === 'file') {
        if (!votes) continue;
        const name = fields[header.indexOf('file')].trim();
        byFile.set(fileKey(name), votes);
        const row = fields[header.indexOf('row')]?.trim();
        if (row) byRow.set(Number(row), votes);
      } else if (votes && (fields[header.indexOf('Image name')] ?? '').trim() !== '') {
        byRow.set(dataRow, votes);
      }
    }
    if (byFile.size === 0 && byRow.size === 0) throw new DatasetError(`${file}: no votes`);
    return new FerPlusVotes(file, byFile, byRow);
  }

  /** Votes of an image, or undefined where FER+ has none. */
  get(key: VoteKey): Votes | undefined {
    return 'row' in key ? this.byRow.get(key.row) : this.byFile.get(fileKey(key.file));
  }
}

/** An image's key in a votes file: its label folder and name (`angry/PublicTest_1.jpg`), whatever the root. */
function fileKey(file: string): string {
  const parts = file.split(/[\\/]/);
  return parts.slice(-2).join('/');
}

/** The FER+ majority label, or null where the top vote is tied or not one of the 7 emotions. */
export function majorityLabel(votes: Votes): Emotion | null {
  const top = Math.max(...votes);
  if (!(top > 0) || votes.filter((v) => v === top).length !== 1) return null;
  const column = votes.indexOf(top);
  return EMOTIONS.find((e) => EMOTION_COLUMN[e] === column) ?? null;
}

/** The raters' distribution over EMOTIONS (contempt/unknown/NF dropped), or null where it is unusable. */
export function raterDistribution(votes: Votes): EmotionProbabilities | null {
  const total = votes.reduce((a, b) => a + b, 0);
  const emotional = EMOTIONS.reduce((s, e) => s + votes[EMOTION_COLUMN[e]], 0);
  const unknown = UNKNOWN_COLUMNS.reduce((s, c) => s + votes[c], 0);
  if (!(emotional > 0) || unknown > MAX_UNKNOWN_SHARE * total) return null;
  return Object.fromEntries(EMOTIONS.map((e) => [e, votes[EMOTION_COLUMN[e]] / emotional])) as EmotionProbabilities;
}

const EPS = 1e-7;

/** Accumulates the FER+ figures one scored image at a time. */
export class FerPlusScorer {
  readonly matrix = new ConfusionMatrix(EMOTIONS);
  private readonly majorityCalibration = new CalibrationBins();
  private readonly raterCalibration = new CalibrationBins();
  private matched = 0;
  private distributionN = 0;
  private crossEntropySum = 0;
  private entropySum = 0;
  private agreementSum = 0;

  constructor(readonly votes: FerPlusVotes) {}

  add(key: VoteKey, p: EmotionProbabilities): void {
    const votes = this.votes.get(key);
    if (!votes) return;
    this.matched++;
    const predicted = dominantEmotion(p);
    const label = majorityLabel(votes);
    if (label) {
      this.matrix.add(label, predicted);
      this.majorityCalibration.add(p[predicted], predicted === label);
    }
    const d = raterDistribution(votes);
    if (d) {
      this.distributionN++;
      for (const e of EMOTIONS) {
        if (d[e] > 0) {
          this.crossEntropySum -= d[e] * Math.log(Math.min(1, Math.max(EPS, p[e])));
          this.entropySum -= d[e] * Math.log(d[e]);
        }
      }
      // As training/data/ferplus.py: confidence clipped to [EPS, 1] before binning
      this.raterCalibration.add(Math.min(1, Math.max(EPS, p[predicted])), d[predicted]);
      this.agreementSum += d[predicted];
    }
  }

  metrics(): FerPlusMetrics {
    if (this.matrix.n === 0) throw new DatasetError(`${this.votes.file}: none of the scored images has FER+ votes (is it the votes file of this split?)`);
    const n = Math.max(1, this.distributionN);
    const crossEntropy = this.crossEntropySum / n;
    return {
      votes: this.votes.file,
      matched: this.matched,
      majority: { ...this.matrix.metrics(), ...this.majorityCalibration.metrics() },
      distribution: {
        n: this.distributionN,
        crossEntropy,
        kl: crossEntropy - this.entropySum / n,
        ece: this.raterCalibration.metrics().ece,
        raterAgreement: this.agreementSum / n,
      },
    };
  }
}
