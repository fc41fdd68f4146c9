// Reading a lab file: only a regular file of bounded size, so that a FIFO, a device (/dev/zero) or a
// runaway file is refused with a message instead of hanging netlab or exhausting its memory.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { LabError } from './problems.js';

/** Lab files of hundreds of nodes are well under 1 MiB. */
export const MAX_LAB_BYTES = 16 * 1024 * 1024;

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

const refuse = (file: string, message: string, hint?: string): LabError => new LabError([{ file, line: 1, col: 1, path: '', message, ...(hint ? { hint } : {}) }]);

/** The bytes of a lab file, or a LabError saying why it cannot be one. */
export function readLabBytes(file: string): Buffer {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw refuse(file, `cannot read the lab file: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'it is a directory' : err.message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw refuse(file, `cannot read the lab file: it is ${kindOf(st)}`, 'give the path of a lab file; to use generated text, write it to a file first');
    const tooBig = () => refuse(file, `the lab file is larger than ${MAX_LAB_BYTES / 1024 / 1024} MiB`, 'a lab file of hundreds of nodes is well under 1 MiB: is this the right file?');
    if (st.size > MAX_LAB_BYTES) throw tooBig();
    // Read to the end, bounded: the size fstat gives may be stale or 0 (files under /proc).
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(Math.max(st.size - total, 0) + 65536, MAX_LAB_BYTES + 1 - total));
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      total += n;
      if (total > MAX_LAB_BYTES) throw tooBig();
      chunks.push(buf.subarray(0, n));
    }
    return Buffer.concat(chunks, total);
  } catch (e) {
    if (e instanceof LabError) throw e;
    throw refuse(file, `cannot read the lab file: ${(e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}
