/**
 * Every error a user can cause through the API is a typed EmolensError with a stable code and a one-line message.
 * (The CLI side — `error: …` on stderr and the exit codes — is pinned in cli.test.ts.)
 */
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createAnalyzer, EmolensError, ImageTooLargeError, InputNotFoundError, InvalidImageError, InvalidModelError,
  ModelNotFoundError, SidecarMissingError, UsageError, type NodeAnalyzer,
} from '../src/index.js';
import { writeBadImages } from './helpers/bad-images.js';
import { tempDir, testEmotionModel } from './helpers/fixtures.js';
import { tinySidecar, writeTinyModel } from './helpers/tiny-model.js';

function isOneLine(type: new (...args: never[]) => EmolensError, code: string, message: RegExp) {
  return (err: Error) => {
    assert.ok(err instanceof type, `expected ${type.name}, got ${err.constructor.name}: ${err.message}`);
    assert.equal((err as EmolensError).code, code);
    assert.match(err.message, message);
    assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
    return true;
  };
}

describe('model errors', () => {
  const dir = tempDir('emolens-models-');
  const good = writeTinyModel(dir, 'good');

  it('unknown model name', async () => {
    await assert.rejects(createAnalyzer({ model: 'no-such-model' }), isOneLine(ModelNotFoundError, 'MODEL_NOT_FOUND', /^model not found: no-such-model/));
  });

  it('unknown model path', async () => {
    await assert.rejects(createAnalyzer({ model: join(dir, 'missing.onnx') }), isOneLine(ModelNotFoundError, 'MODEL_NOT_FOUND', /missing\.onnx/));
  });

  it('model file that is not ONNX', async () => {
    const fake = join(dir, 'fake.onnx');
    writeFileSync(fake, Buffer.from('\x89PNG\r\n\x1a\n this is a picture, not a network'));
    copyFileSync(good.replace('.onnx', '.json'), join(dir, 'fake.json'));
    await assert.rejects(createAnalyzer({ model: fake }), isOneLine(InvalidModelError, 'INVALID_MODEL', /fake\.onnx: not an ONNX model$/));
  });

  it('sidecar missing', async () => {
    const lonely = join(dir, 'lonely.onnx');
    copyFileSync(good, lonely);
    await assert.rejects(createAnalyzer({ model: lonely }), isOneLine(SidecarMissingError, 'SIDECAR_MISSING', /lonely\.json/));
  });

  it('sidecar that is not JSON, or breaks the contract', async () => {
    const broken = join(dir, 'broken.onnx');
    copyFileSync(good, broken);
    writeFileSync(join(dir, 'broken.json'), '{ "format": ');
    await assert.rejects(createAnalyzer({ model: broken }), isOneLine(InvalidModelError, 'INVALID_MODEL', /broken\.json: sidecar is not valid JSON/));
    const sidecar = tinySidecar();
    sidecar.labels = ['happy', 'sad'] as typeof sidecar.labels;
    writeFileSync(join(dir, 'broken.json'), JSON.stringify(sidecar));
    await assert.rejects(createAnalyzer({ model: broken }), isOneLine(InvalidModelError, 'INVALID_MODEL', /labels must be the 7 emotions/));
  });

  it('bad option values', async () => {
    await assert.rejects(createAnalyzer({ model: good, threads: 0 }), isOneLine(UsageError, 'USAGE', /threads must be a positive integer/));
  });
});

describe('image errors through the analyzer', () => {
  let analyzer: NodeAnalyzer;
  let bad: Awaited<ReturnType<typeof writeBadImages>>;
  before(async () => {
    analyzer = await createAnalyzer({ model: testEmotionModel().path });
    bad = await writeBadImages(tempDir());
  });
  after(async () => { await analyzer.dispose(); });

  it('missing file', () => assert.rejects(analyzer.analyze(bad.missing), isOneLine(InputNotFoundError, 'INPUT_NOT_FOUND', /^file not found: /)));
  it('empty file', () => assert.rejects(analyzer.analyze(bad.empty), isOneLine(InvalidImageError, 'INVALID_IMAGE', /: empty file$/)));
  it('not an image', () => assert.rejects(analyzer.analyze(bad.text), isOneLine(InvalidImageError, 'INVALID_IMAGE', /: not an image/)));
  it('truncated image', () => assert.rejects(analyzer.analyze(bad.truncated), isOneLine(InvalidImageError, 'INVALID_IMAGE', /: truncated or corrupt image data/)));
  it('header claiming 65535x65535', () => assert.rejects(analyzer.analyze(bad.huge), isOneLine(ImageTooLargeError, 'IMAGE_TOO_LARGE', /65535x65535 pixels is over the limit/)));
  it('bad RGBA input', () => assert.rejects(analyzer.analyze({ data: new Uint8Array(3), width: 2, height: 2 }), isOneLine(InvalidImageError, 'INVALID_IMAGE', /has 3 bytes, expected 16/)));
  it('bad per-call options', () => assert.rejects(analyzer.analyze({ data: new Uint8Array(16), width: 2, height: 2 }, { minFaceScore: 2 }), isOneLine(UsageError, 'USAGE', /minFaceScore must be between 0 and 1/)));
});
