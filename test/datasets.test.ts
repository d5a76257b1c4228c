import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { DatasetError } from '../src/errors.js';
import {
  batches, decodeGray, evenSample, openDataset, splitCsvLine, type Dataset, type DatasetItem,
} from '../src/image/datasets.js';
import { resizeGrayBilinear } from '../src/image/gray-resize.js';

const SHARED_VAL = join(import.meta.dirname, '..', '..', 'shared', 'datasets', 'fer2013', 'val');

async function collect(dataset: Dataset): Promise<DatasetItem[]> {
  const items: DatasetItem[] = [];
  for await (const item of dataset.items()) items.push(item);
  return items;
}

/** PIL's convert('L') of one RGB pixel, computed by hand from Pillow's fixed-point formula. */
const pilLuma = (r: number, g: number, b: number): number => Math.floor((r * 19595 + g * 38470 + b * 7471 + 32768) / 65536);

async function png(file: string, width: number, height: number, rgb: [number, number, number]): Promise<void> {
  await sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toFile(file);
}

/** <root>/{train,val}/<label>/… with known pixel values, plus whatever `extra` adds. */
async function makeFolderSet(extra?: (root: string) => Promise<void> | void): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'emolens-ds-'));
  for (const [split, label, name, size, rgb] of [
    ['val', 'happy', 'b.png', 48, [77, 77, 77]],
    ['val', 'happy', 'a.png', 48, [10, 20, 30]],
    ['val', 'sad', 'c.png', 48, [200, 100, 50]],
    ['val', 'sad', 'wide.png', 60, [200, 100, 50]],
    ['train', 'angry', 'd.png', 48, [1, 2, 3]],
  ] as Array<[string, string, string, number, [number, number, number]]>) {
    mkdirSync(join(root, split, label), { recursive: true });
    await png(join(root, split, label, name), size, size === 48 ? 48 : 40, rgb);
  }
  writeFileSync(join(root, 'val', 'happy', 'notes.txt'), 'not an image, ignored');
  await extra?.(root);
  return root;
}

describe('folder data sets', () => {
  it('reads <dir>/<split>/<label>/* in label then file order, as PIL-style 48x48 luma', async () => {
    const root = await makeFolderSet();
    const dataset = await openDataset(root, { split: 'val' });
    assert.equal(dataset.kind, 'folder');
    assert.equal(dataset.split, 'val');
    assert.equal(dataset.path, join(root, 'val'));
    assert.equal(dataset.size, 4);
    const items = await collect(dataset);
    assert.deepEqual(items.map((i) => [i.label, i.source.split('/').slice(-1)[0]]), [
      ['happy', 'a.png'], ['happy', 'b.png'], ['sad', 'c.png'], ['sad', 'wide.png'],
    ]);
    const values = items.map((i) => (i.ok ? [i.image.width, i.image.height, i.image.data[0], i.image.data[2303]] : null));
    assert.deepEqual(values, [
      [48, 48, pilLuma(10, 20, 30), pilLuma(10, 20, 30)],
      [48, 48, 77, 77],
      [48, 48, pilLuma(200, 100, 50), pilLuma(200, 100, 50)],
      [48, 48, pilLuma(200, 100, 50), pilLuma(200, 100, 50)], // 60x40 resized to the crop size
    ]);
    assert.equal(dataset.progress(), 1);
  });

  it('reads another split, and a folder that is itself a split', async () => {
    const root = await makeFolderSet();
    const train = await collect(await openDataset(root, { split: 'train' }));
    assert.deepEqual(train.map((i) => i.label), ['angry']);
    const plain = await openDataset(join(root, 'val'), { split: 'test' });
    assert.equal(plain.split, null);
    assert.equal(plain.size, 4);
  });

  it('names a missing split, an unknown label folder and an empty set', async () => {
    const root = await makeFolderSet();
    await assert.rejects(openDataset(root, { split: 'test' }), (err: Error) =>
      err instanceof DatasetError && /no "test" split in .* \(found: train, val\)/.test(err.message));
    const odd = await makeFolderSet((r) => mkdirSync(join(r, 'val', 'contempt')));
    await assert.rejects(openDataset(odd, { split: 'val' }), (err: Error) =>
      err instanceof DatasetError && /unknown label folder\(s\) in .*val: contempt \(expected angry, disgust/.test(err.message));
    const empty = mkdtempSync(join(tmpdir(), 'emolens-ds-'));
    mkdirSync(join(empty, 'happy'));
    await assert.rejects(openDataset(empty), (err: Error) => err instanceof DatasetError && /no images under/.test(err.message));
    await assert.rejects(openDataset(join(empty, 'nope')), (err: Error) => err instanceof DatasetError && /data not found/.test(err.message));
    await assert.rejects(openDataset(join(empty, 'x.txt')), DatasetError);
  });

  it('yields an unreadable image as skipped, with the reason, and keeps going', async () => {
    const root = await makeFolderSet((r) => writeFileSync(join(r, 'val', 'sad', 'broken.jpg'), 'this is not a JPEG'));
    const items = await collect(await openDataset(root, { split: 'val' }));
    assert.equal(items.length, 5);
    const broken = items.find((i) => i.source.endsWith('broken.jpg'))!;
    assert.equal(broken.ok, false);
    assert.equal(broken.label, 'sad');
    assert.ok(!broken.ok && broken.reason.length > 0);
    assert.equal(items.filter((i) => i.ok).length, 4);
  });

  it('--limit takes an even sample that keeps each class', async () => {
    assert.deepEqual(evenSample([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 5), [0, 2, 4, 6, 8]);
    assert.deepEqual(evenSample([1, 2, 3], 10), [1, 2, 3]);
    const root = await makeFolderSet();
    const items = await collect(await openDataset(root, { split: 'val', limit: 2 }));
    assert.deepEqual(items.map((i) => i.label), ['happy', 'sad']);
  });

  it('groups items into batches', async () => {
    async function* numbers() { for (let i = 0; i < 7; i++) yield i; }
    const out: number[][] = [];
    for await (const b of batches(numbers(), 3)) out.push(b);
    assert.deepEqual(out, [[0, 1, 2], [3, 4, 5], [6]]);
  });
});

const pixels = (v: number, n = 2304): string => Array(n).fill(v).join(' ');

describe('fer2013.csv', () => {
  function writeCsv(rows: string[], header = 'emotion,pixels,Usage'): string {
    const file = join(mkdtempSync(join(tmpdir(), 'emolens-csv-')), 'fer2013.csv');
    writeFileSync(file, `${[header, ...rows].join('\n')}\n`);
    return file;
  }

  it('maps Kaggle numbering to emolens labels and Usage to splits (default val = PublicTest)', async () => {
    const file = writeCsv([
      `0,${pixels(1)},Training`,
      `4,${pixels(2)},PublicTest`,   // Kaggle 4 = sad
      `6,${pixels(3)},PublicTest`,   // Kaggle 6 = neutral
      `5,"${pixels(4)}",PublicTest`, // quoted pixel column; Kaggle 5 = surprise
      `3,${pixels(5)},PrivateTest`,
    ]);
    const val = await collect(await openDataset(file));
    assert.deepEqual(val.map((i) => [i.label, i.source.split(':').pop()]), [['sad', '3'], ['neutral', '4'], ['surprise', '5']]);
    assert.deepEqual(val.map((i) => (i.ok ? [i.image.width, i.image.data[0], i.image.data[2303]] : null)), [[48, 2, 2], [48, 3, 3], [48, 4, 4]]);
    const train = await collect(await openDataset(file, { split: 'train' }));
    assert.deepEqual(train.map((i) => i.label), ['angry']);
    const test = await collect(await openDataset(file, { split: 'test' }));
    assert.deepEqual(test.map((i) => i.label), ['happy']);
    const limited = await collect(await openDataset(file, { limit: 2 }));
    assert.equal(limited.length, 2);
  });

  it('a bad row is a DatasetError naming the line and the reason', async () => {
    const cases: Array<[string, RegExp]> = [
      [`3,${pixels(5, 2000)},PublicTest`, /bad row at line 3: 2000 pixels, expected 2304/],
      [`9,${pixels(5)},PublicTest`, /bad row at line 3: emotion "9" is not an integer in 0\.\.6/],
      [`2,${pixels(5, 2303)} 256,PublicTest`, /bad row at line 3: pixel 2304 is "256"/],
      [`2,${pixels(5)}`, /bad row at line 3: 2 fields, expected 3/],
    ];
    for (const [row, pattern] of cases) {
      const file = writeCsv([`0,${pixels(1)},PublicTest`, row]);
      const dataset = await openDataset(file);
      await assert.rejects(collect(dataset), (err: Error) => err instanceof DatasetError && pattern.test(err.message) && err.message.includes(file), row.slice(0, 20));
    }
  });

  it('rejects a CSV without the FER columns, and one without rows of the split', async () => {
    await assert.rejects(openDataset(writeCsv([], 'label,image')), (err: Error) =>
      err instanceof DatasetError && /missing column\(s\) emotion, pixels, Usage/.test(err.message));
    const onlyTrain = writeCsv([`0,${pixels(1)},Training`]);
    await assert.rejects(collect(await openDataset(onlyTrain)), /no rows with Usage=PublicTest/);
  });

  it('splits CSV lines with quotes', () => {
    assert.deepEqual(splitCsvLine('1,"a b",PublicTest'), ['1', 'a b', 'PublicTest']);
    assert.deepEqual(splitCsvLine('1,"say ""hi""",x'), ['1', 'say "hi"', 'x']);
  });
});

describe('pixels as training reads them (PIL)', () => {
  it('resizes with PIL\'s bilinear filter (hand-computed 4→2 and 2→4)', () => {
    // Shrinking 4→2 widens the triangle filter to support 2 (centres 1 and 3, weights 1 − |d|/2 over pixel centres):
    // out[0] = (3·0 + 3·70 + 1·140)/7 = 50, out[1] = (1·70 + 3·140 + 3·210)/7 = 160. PIL 9.4 gives [50, 160].
    const down = resizeGrayBilinear({ data: Uint8Array.from([0, 70, 140, 210]), width: 4, height: 1 }, 2, 1);
    assert.deepEqual([...down.data], [50, 160]);
    // Enlarging 2→4: centres at 0.25, 0.75, … → weights (1, 0), (0.75, 0.25), (0.25, 0.75), (0, 1) on [0, 100].
    const up = resizeGrayBilinear({ data: Uint8Array.from([0, 100]), width: 2, height: 1 }, 4, 1);
    assert.deepEqual([...up.data], [0, 25, 75, 100]);
    const tall = resizeGrayBilinear({ data: Uint8Array.from([0, 70, 140, 210]), width: 1, height: 4 }, 1, 2);
    assert.deepEqual([...tall.data], [50, 160]);
  });

  it('converts RGB to luma with PIL\'s fixed-point ITU-R 601 weights', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'emolens-luma-'));
    const file = join(dir, 'c.png');
    await png(file, 3, 2, [255, 128, 1]);
    const gray = await decodeGray(file);
    assert.equal(gray.width, 3);
    assert.equal(gray.data[0], pilLuma(255, 128, 1));
  });

  it('reads the real FER2013 val folder', { skip: skipWithoutShared() }, async () => {
    const dataset = await openDataset(SHARED_VAL, { limit: 300 });
    const items = await collect(dataset);
    assert.equal(items.length, 300);
    assert.ok(items.every((i) => i.ok && i.image.width === 48 && i.image.height === 48));
    const perLabel = new Map<string, number>();
    for (const i of items) perLabel.set(i.label, (perLabel.get(i.label) ?? 0) + 1);
    assert.equal(perLabel.size, 7, 'every class is sampled');
    assert.ok(Math.abs(perLabel.get('happy')! - 300 * (895 / 3589)) <= 1, 'classes keep their share');
  });
});

function skipWithoutShared(): string | false {
  return existsSync(SHARED_VAL) ? false : `FER2013 not found at ${SHARED_VAL} (../shared is absent)`;
}
