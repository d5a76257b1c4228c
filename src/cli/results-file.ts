/**
 * The results file of `emolens analyze … --out results.jsonl`: one JSON line per image (exactly the entry
 * `--json` prints for it), appended as each image finishes, and read back by `--resume` to skip what is done.
 * Owns the file's format on disk and its crash safety; knows nothing of analysis or of the terminal.
 *
 * Crash safety: every line goes out in one synchronous write of `line + "\n"` on a descriptor opened for append,
 * so a killed run loses no finished line (the kernel has it the moment `writeSync` returns; `fsync` about once
 * a second and on close covers a machine that loses power too). A kill in the middle of a write can at worst leave
 * a last line without its newline: resuming cuts it off, and that image is analysed again.
 *
 * Retries: the state of an image is its last line, and images whose last line is an error are analysed again
 * on resume (a failure can be transient: a file still being copied, a full disk). Lines are only ever appended,
 * so one file may hold error lines followed by a success line for the same image; the success is what counts.
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';

/** The key an image is matched by across runs: its absolute path (so `photos/a.jpg` and `./photos/a.jpg` agree). */
export const resultKey = (file: string): string => resolve(file);

/** What a results file already holds. */
export interface ResultsSoFar {
  /** Keys (resultKey) of images with a success line: skipped on resume. */
  done: Set<string>;
  /** Keys of images whose last line is an error: analysed again on resume. */
  failed: Set<string>;
  /** Bytes cut off the end: a line torn by a kill mid-write (0 when the file ended cleanly). */
  tornBytes: number;
}

const FSYNC_INTERVAL_MS = 1000;
const READ_CHUNK_BYTES = 1 << 20;

/**
 * Read a results file: which images are done, which failed. A last line without its newline is torn and is cut
 * off the file (`repair`), so the next append starts on a line of its own. Any other line that is not an entry
 * of `emolens analyze --json` means the file is not ours: refused, so nothing of the user's is appended to.
 */
export function readResults(path: string, { repair = true } = {}): ResultsSoFar {
  const done = new Set<string>();
  const failed = new Set<string>();
  if (!existsSync(path)) return { done, failed, tornBytes: 0 };
  let lineNumber = 0;
  const take = (bytes: Buffer) => {
    lineNumber++;
    const line = bytes.toString('utf8');
    if (line.trim() === '') return;
    const file = entryFile(line);
    if (file === undefined) {
      throw new UsageError(`--out ${path}: line ${lineNumber} is not a result of emolens analyze; choose another file (or remove that line)`);
    }
    const key = resultKey(file.name);
    if (file.ok) { done.add(key); failed.delete(key); }
    else if (!done.has(key)) failed.add(key);
  };
  // Read in chunks, split on newline bytes: a batch's file can outgrow the longest string V8 holds (~512 MB),
  // and cutting in bytes keeps a torn line that ends inside a multi-byte character from being misread.
  const fd = openSync(path, 'r');
  let end = 0; // bytes up to and including the last newline
  let pending = Buffer.alloc(0);
  try {
    const chunk = Buffer.alloc(READ_CHUNK_BYTES);
    for (let n: number; (n = readSync(fd, chunk, 0, chunk.length, null)) > 0;) {
      let data = Buffer.concat([pending, chunk.subarray(0, n)]);
      for (let nl: number; (nl = data.indexOf(0x0a)) >= 0;) {
        take(data.subarray(0, nl));
        end += nl + 1;
        data = data.subarray(nl + 1);
      }
      pending = Buffer.from(data);
    }
  } finally {
    closeSync(fd);
  }
  const tornBytes = pending.length;
  if (tornBytes > 0 && repair) {
    const rw = openSync(path, 'r+');
    try { ftruncateSync(rw, end); fsyncSync(rw); } finally { closeSync(rw); }
  }
  return { done, failed, tornBytes };
}

/** The file an entry line is about, and whether it is a success; undefined when the line is not an entry. */
function entryFile(line: string): { name: string; ok: boolean } | undefined {
  let entry: unknown;
  try { entry = JSON.parse(line); } catch { return undefined; }
  if (typeof entry !== 'object' || entry === null) return undefined;
  const { file, faces, error } = entry as { file?: unknown; faces?: unknown; error?: unknown };
  if (typeof file !== 'string') return undefined;
  if (Array.isArray(faces)) return { name: file, ok: true };
  // { code, message }; a plain string (with a top-level "code") in files written by earlier versions
  if (typeof error === 'string' || (typeof error === 'object' && error !== null)) return { name: file, ok: false };
  return undefined;
}

/** Refuse a non-empty results file unless resuming: appending to or overwriting it silently would both surprise. */
export function assertFreshOrResuming(path: string, resume: boolean): void {
  if (!existsSync(path)) return;
  const stat = statSync(path);
  if (stat.isDirectory()) throw new UsageError(`--out ${path} is a folder; --out takes a file (results.jsonl)`);
  if (!resume && stat.size > 0) {
    throw new UsageError(`--out ${path} already holds results: add --resume to continue it, or choose another file`);
  }
}

/** Appends entry lines to a results file; see the module header for why each line is one write. */
export class ResultsWriter {
  private readonly fd: number;
  private lastSync = Date.now();

  constructor(readonly path: string) {
    this.fd = openSync(path, 'a');
  }

  append(entry: object): void {
    const bytes = Buffer.from(`${JSON.stringify(entry)}\n`, 'utf8');
    // One write; the loop only finishes a short write (a full disk, a signal), it never splits on purpose.
    for (let at = 0; at < bytes.length;) at += writeSync(this.fd, bytes, at, bytes.length - at);
    if (Date.now() - this.lastSync >= FSYNC_INTERVAL_MS) this.sync();
  }

  close(): void {
    this.sync();
    closeSync(this.fd);
  }

  private sync(): void {
    fsyncSync(this.fd);
    this.lastSync = Date.now();
  }
}
