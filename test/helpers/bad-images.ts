/**
 * Generated bad inputs for the decode / CLI error tests: each is small and made on the fly, no binary fixtures.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A valid PNG header claiming `width`x`height` RGB, with a tiny (wrong) IDAT: a decompression bomb's signature. */
export function hugePngHeader(width = 65535, height = 65535): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(16))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A noisy JPEG (so it has real entropy-coded data), cut to `keep` of its length. */
export async function truncatedJpeg(keep = 0.5): Promise<Buffer> {
  const raw = Buffer.alloc(256 * 256 * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 7919) % 251;
  const jpeg = await sharp(raw, { raw: { width: 256, height: 256, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
  return jpeg.subarray(0, Math.floor(jpeg.length * keep));
}

/** Write every bad input into `dir`; returns their paths by kind. */
export async function writeBadImages(dir: string): Promise<Record<'empty' | 'text' | 'truncated' | 'huge' | 'missing', string>> {
  const paths = {
    empty: join(dir, 'empty.jpg'),
    text: join(dir, 'notes.jpg'),
    truncated: join(dir, 'truncated.jpg'),
    huge: join(dir, 'huge.png'),
    missing: join(dir, 'does-not-exist.jpg'),
  };
  writeFileSync(paths.empty, Buffer.alloc(0));
  writeFileSync(paths.text, 'this is not an image\n');
  writeFileSync(paths.truncated, await truncatedJpeg());
  writeFileSync(paths.huge, hugePngHeader());
  return paths;
}
