/**
 * Labelled face sets for `emolens eval` (Node only): a folder per label, or Kaggle's fer2013.csv.
 *
 * Pixels come out exactly as training/data/datasets.py reads them (PIL `convert('L')`, then PIL's bilinear resize when
 * an image is not the model's crop size), so eval reproduces the sidecar's metrics: a model is only as good as
 * the agreement between the pixels it was trained on and the pixels it is scored on.
 *
 * Owns reading and decoding the set; knows nothing about models or metrics.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { DatasetError } from '../errors.js';
import { EMOTIONS, isEmotion, type Emotion } from '../labels.js';
import type { GrayImage } from '../types.js';
import { openImage } from './decode.js';
import { IMAGE_EXTENSIONS } from './formats.js';
import { resizeGrayBilinear, toGray8 } from './gray-resize.js';

export const SPLITS = ['train', 'val', 'test'] as const;
export type Split = (typeof SPLITS)[number];

/** Kaggle numbering: 0=angry 1=disgust 2=fear 3=happy 4=sad 5=surprise 6=neutral. */
export const KAGGLE_EMOTIONS: readonly Emotion[] = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];
/** Kaggle's `Usage` column for each split (val = PublicTest, as training/data/datasets.py). */
export const KAGGLE_USAGE: Record<Split, string> = { train: 'Training', val: 'PublicTest', test: 'PrivateTest' };

/** One labelled image, decoded to a gray face crop. `source` is the file path or `<csv>:<line>`. */
export interface LabelledFace {
  ok: true;
  source: string;
  label: Emotion;
  image: GrayImage;
  /** A fer2013.csv image's data row (0-based, header and blank lines not counted): FER+ votes are keyed by it. */
  row?: number;
}

/** An image that could not be used (unreadable file); eval counts and reports these instead of stopping. */
export interface SkippedFace {
  ok: false;
  source: string;
  label: Emotion;
  reason: string;
}

export type DatasetItem = LabelledFace | SkippedFace;

/** One image file of a folder data set. */
export interface LabelledFile {
  file: string;
  label: Emotion;
}

export interface DatasetOptions {
  /** Split to read: `<dir>/<split>/` when present; the `Usage` rows of a CSV. Default: val. */
  split?: Split;
  /** Side of the square gray crop to produce (the model's faceCrop.size). Default 48. */
  size?: number;
  /** Read at most this many images (folders: an even, class-proportional sample; CSV: the first rows). */
  limit?: number;
  /** Images decoded concurrently from a folder (sharp runs them on its own threads). Default 4. */
  concurrency?: number;
}

export interface Dataset {
  kind: 'folder' | 'csv';
  /** The folder actually read (`<dir>/<split>` or `<dir>`) or the CSV file. */
  path: string;
  /** The split read: null for a folder of label folders without split folders. */
  split: Split | null;
  /** Number of images that will be yielded, when known before reading (folders). */
  size: number | null;
  /** Progress through the set, 0..1 (CSV: bytes read, folders: images yielded). */
  progress(): number;
  items(): AsyncGenerator<DatasetItem>;
}

export function isSplit(name: string): name is Split {
  return (SPLITS as readonly string[]).includes(name);
}

/**
 * Open a data set: a folder (of split folders or of label folders) or a Kaggle-style CSV file.
 * Structural problems (missing path, unknown label folder, no images, missing CSV columns) throw DatasetError here;
 * a bad CSV row throws DatasetError when it is reached; an unreadable image is yielded as a SkippedFace.
 */
export async function openDataset(source: string, options: DatasetOptions = {}): Promise<Dataset> {
  const info = await stat(source).catch(() => null);
  if (!info) throw new DatasetError(`data not found: ${source}`);
  if (info.isFile()) {
    if (path.extname(source).toLowerCase() !== '.csv') {
      throw new DatasetError(`expected a folder of label folders or a fer2013.csv file, got ${source}`);
    }
    return openCsvDataset(source, options, info.size);
  }
  const { root, split, files } = await listFolderDataset(source, options.split ?? 'val');
  const chosen = evenSample(files, options.limit);
  return openFolderDataset(root, split, chosen, options);
}

/**
 * The labelled files of a folder data set: `<dir>/<split>/<label>/*` when `<dir>/<split>` exists,
 * else `<dir>/<label>/*`. Sorted by label folder, then file name (training's order).
 */
export async function listFolderDataset(dir: string, split: Split = 'val'): Promise<{ root: string; split: Split | null; files: LabelledFile[] }> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    throw new DatasetError(`cannot read ${dir}: ${err.code ?? err.message}`);
  });
  const subdirs = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  let root = dir;
  let usedSplit: Split | null = null;
  if (subdirs.includes(split)) {
    root = path.join(dir, split);
    usedSplit = split;
  } else if (subdirs.some(isSplit)) {
    throw new DatasetError(`no "${split}" split in ${dir} (found: ${subdirs.filter(isSplit).join(', ')})`);
  }
  const labelDirs = usedSplit
    ? (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort()
    : subdirs;
  if (labelDirs.length === 0) throw new DatasetError(`no label folders in ${root} (expected ${EMOTIONS.join(', ')})`);
  const unknown = labelDirs.filter((name) => !isEmotion(name));
  if (unknown.length) {
    throw new DatasetError(`unknown label folder(s) in ${root}: ${unknown.join(', ')} (expected ${EMOTIONS.join(', ')})`);
  }
  const files: LabelledFile[] = [];
  for (const label of labelDirs as Emotion[]) {
    const names = (await readdir(path.join(root, label), { withFileTypes: true }))
      .filter((e) => e.isFile() && IMAGE_EXTENSIONS.has(path.extname(e.name).toLowerCase()))
      .map((e) => e.name)
      .sort();
    for (const name of names) files.push({ file: path.join(root, label, name), label });
  }
  if (files.length === 0) throw new DatasetError(`no images under ${root}`);
  return { root, split: usedSplit, files };
}

/** `limit` items spread evenly over a list sorted by label, so each class keeps its share. */
export function evenSample<T>(items: readonly T[], limit?: number): T[] {
  if (!limit || limit >= items.length) return [...items];
  const out: T[] = [];
  for (let i = 0; i < limit; i++) out.push(items[Math.floor((i * items.length) / limit)]);
  return out;
}

function openFolderDataset(root: string, split: Split | null, files: LabelledFile[], options: DatasetOptions): Dataset {
  const size = options.size ?? 48;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  let yielded = 0;
  return {
    kind: 'folder',
    path: root,
    split,
    size: files.length,
    progress: () => (files.length ? yielded / files.length : 1),
    async *items() {
      // A small window of decodes in flight, yielded in order: keeps sharp's threads busy without reading ahead far.
      const pending: Promise<DatasetItem>[] = [];
      let next = 0;
      const decode = ({ file, label }: LabelledFile): Promise<DatasetItem> =>
        readGrayFace(file, size).then(
          (image): DatasetItem => ({ ok: true, source: file, label, image }),
          (err: unknown): DatasetItem => ({ ok: false, source: file, label, reason: errorReason(err) }),
        );
      while (next < files.length || pending.length) {
        while (next < files.length && pending.length < concurrency) pending.push(decode(files[next++]));
        const item = await pending.shift()!;
        yielded++;
        yield item;
      }
    },
  };
}

function errorReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0];
}

async function openCsvDataset(file: string, options: DatasetOptions, bytes: number): Promise<Dataset> {
  const split = options.split ?? 'val';
  const usage = KAGGLE_USAGE[split];
  const size = options.size ?? 48;
  const limit = options.limit && options.limit > 0 ? options.limit : Infinity;
  // Read the header now, so a file that is not a FER CSV fails before any work starts.
  const columns = await readCsvHeader(file);
  let bytesRead = 0;
  let yielded = 0;
  return {
    kind: 'csv',
    path: file,
    split,
    size: null,
    progress: () => Math.min(1, Math.max(bytes ? bytesRead / bytes : 1, limit < Infinity ? yielded / limit : 0)),
    async *items() {
      const stream = createReadStream(file);
      stream.on('data', (chunk) => (bytesRead += chunk.length));
      const lines = createInterface({ input: stream, crlfDelay: Infinity });
      let line = 0;
      let row = -1;
      try {
        for await (const text of lines) {
          line++;
          if (line === 1 || text.trim() === '') continue;
          row++;
          const fields = splitCsvLine(text);
          if (fields.length !== columns.count) {
            throw badRow(file, line, `${fields.length} fields, expected ${columns.count}`);
          }
          if (fields[columns.usage].trim() !== usage) continue;
          const { label, image } = parseFerRow(fields[columns.emotion], fields[columns.pixels], file, line);
          yielded++;
          yield { ok: true, source: `${file}:${line}`, row, label, image: image.width === size ? image : resizeGrayBilinear(image, size, size) };
          if (yielded >= limit) break;
        }
      } finally {
        lines.close();
        stream.destroy();
      }
      if (yielded === 0) throw new DatasetError(`${file}: no rows with Usage=${usage}`);
    },
  };
}

interface CsvColumns { emotion: number; pixels: number; usage: number; count: number }

async function readCsvHeader(file: string): Promise<CsvColumns> {
  const stream = createReadStream(file, { end: 64 * 1024 });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let header: string | undefined;
  for await (const text of lines) {
    header = text;
    break;
  }
  lines.close();
  stream.destroy();
  const names = splitCsvLine((header ?? '').replace(/^\uFEFF/, '')).map((n) => n.trim());
  const index = (name: string): number => names.indexOf(name);
  const missing = ['emotion', 'pixels', 'Usage'].filter((name) => index(name) < 0);
  if (missing.length) {
    throw new DatasetError(`${file}: missing column(s) ${missing.join(', ')} (expected emotion,pixels,Usage)`);
  }
  return { emotion: index('emotion'), pixels: index('pixels'), usage: index('Usage'), count: names.length };
}

/** Split one CSV line; handles double-quoted fields (some exports quote the pixel column). */
export function splitCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { fields.push(field); field = ''; }
    else field += c;
  }
  fields.push(field);
  return fields;
}

function badRow(file: string, line: number, reason: string): DatasetError {
  return new DatasetError(`${file}: bad row at line ${line}: ${reason}`);
}

/** One fer2013.csv row → emolens label + 48x48 gray image; a bad row is a DatasetError naming its line. */
export function parseFerRow(emotion: string, pixels: string, file: string, line: number): { label: Emotion; image: GrayImage } {
  const code = Number(emotion.trim());
  if (emotion.trim() === '' || !Number.isInteger(code) || code < 0 || code > 6) {
    throw badRow(file, line, `emotion ${JSON.stringify(emotion)} is not an integer in 0..6`);
  }
  const values = pixels.trim().split(/\s+/);
  const side = 48;
  if (values.length !== side * side) throw badRow(file, line, `${values.length} pixels, expected ${side * side}`);
  const data = new Uint8Array(side * side);
  for (let i = 0; i < values.length; i++) {
    const v = Number(values[i]);
    if (!Number.isInteger(v) || v < 0 || v > 255) {
      throw badRow(file, line, `pixel ${i + 1} is ${JSON.stringify(values[i])}, expected an integer in 0..255`);
    }
    data[i] = v;
  }
  return { label: KAGGLE_EMOTIONS[code], image: { data, width: side, height: side } };
}

/**
 * Decode an image file to gray exactly as PIL's `Image.open(f).convert('L')` does (training's reader):
 * sharp decodes to 8-bit RGB (bit-identical to PIL's libjpeg-turbo decode on FER's JPEGs), then
 * L = (19595 R + 38470 G + 7471 B + 32768) >> 16, PIL's fixed-point ITU-R 601-2 luma. Images that are not
 * `size` square are resized with PIL's bilinear filter (aspect ratio not kept, as in training).
 */
export async function readGrayFace(file: string, size = 48): Promise<GrayImage> {
  const gray = await decodeGray(file);
  return gray.width === size && gray.height === size ? gray : resizeGrayBilinear(gray, size, size);
}

/**
 * Decode any image sharp reads to PIL-compatible 8-bit luma (alpha ignored, as PIL's convert('L') does), upright:
 * EXIF orientation applied as every emolens decoder does (openImage). FER2013's JPEGs carry no orientation tag, so
 * its pixels are the ones training read.
 */
export async function decodeGray(file: string): Promise<GrayImage> {
  const { data, info } = await openImage(file).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return toGray8(data, info.width, info.height, info.channels);
}

/** Group an async stream into arrays of `size` (the last may be shorter). */
export async function* batches<T>(items: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for await (const item of items) {
    batch.push(item);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}
