// The end of a task's log file: what forge logs prints and what the batch report shows. A task
// may write gigabytes, so only the file's last TAIL_BYTES are ever read.
import { open } from 'node:fs/promises';

/** Read at most this much of a log's end. */
export const TAIL_BYTES = 256 * 1024;

export interface LogTail {
  path: string;
  /** null when the file cannot be read (never written: the attempt ran no command). */
  lines: string[] | null;
  problem: string | null;
}

/** The last `count` lines of a file, reading no more than `maxBytes` of its end. */
export async function tailOf(path: string, count: number, maxBytes = TAIL_BYTES): Promise<LogTail> {
  let fh;
  try {
    fh = await open(path, 'r');
    const { size } = await fh.stat();
    const start = Math.max(0, size - maxBytes);
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    const lines = buf.toString('utf8').split('\n');
    if (start > 0) lines.shift(); // a cut line
    if (lines.at(-1) === '') lines.pop();
    return { path, lines: lines.slice(-count), problem: null };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { path, lines: null, problem: code === 'ENOENT' ? 'no such file (the attempt wrote no output, or ran no command)' : `cannot read: ${code ?? String(err)}` };
  } finally {
    await fh?.close();
  }
}
