// A shell task's log files: <batch>/logs/<task>.attempt<N>.out|err. The batch folder is the
// one place a task may write, so any task of the batch may have put something there first:
// a symlink named like a later attempt's log (to /etc/passwd, say) would have the worker,
// which runs outside the sandbox, append that attempt's output to the target, and read the
// target back into the result's reason; a FIFO would hang it. So a log file is opened only as
// a regular file at exactly its path (no symlink, in a logs folder that is not one either),
// and its tail is read from the worker's own descriptor, never by path again.
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readlinkSync, readSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** A log file the worker will not open, and why; the task does not run. */
export class LogFileError extends Error {}

/** Creates the logs folder if it is missing; LogFileError when something else has its name (a symlink, a file). */
export function makeLogFolder(dir: string): void {
  try {
    if (lstatSync(dir).isDirectory()) return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(dir, { recursive: true });
    return;
  }
  throw new LogFileError(`${dir} is not a folder (a symlink or a file where the logs folder should be)`);
}

/** Opens (creating it) a log file for appending and reading: a descriptor, or LogFileError. */
export function openLogFile(path: string): number {
  const dir = dirname(path);
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new LogFileError(`${dir} is not a folder (a symlink or a file where the logs folder should be)`);
  const expected = join(realpathSync(dir), basename(path));
  let fd: number;
  try {
    // O_NOFOLLOW: a symlink fails with ELOOP; O_NONBLOCK: a FIFO never holds up the open.
    fd = openSync(path, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o644);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new LogFileError(`${path} is a symlink, not a log file`);
    throw err;
  }
  const problem = !fstatSync(fd).isFile()
    ? `${path} is not a regular file`
    : readlinkSync(`/proc/self/fd/${fd}`) !== expected
      ? `${path} moved while it was opened (its folder was replaced)`
      : null;
  if (problem) {
    closeSync(fd);
    throw new LogFileError(problem);
  }
  return fd;
}

/** A task's stdout and stderr log, their folder made if missing: two descriptors, or LogFileError. */
export function openLogFiles(stdoutPath: string, stderrPath: string): [number, number] {
  makeLogFolder(dirname(stdoutPath));
  makeLogFolder(dirname(stderrPath));
  const out = openLogFile(stdoutPath);
  try {
    return [out, openLogFile(stderrPath)];
  } catch (err) {
    closeSync(out);
    throw err;
  }
}

/** What a descriptor's file holds from byte `from` on, at most `max` bytes (the end when there is more). */
export function readFrom(fd: number, from: number, max = 64 * 1024): string {
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(from, size - max);
    const buf = Buffer.alloc(Math.max(0, size - start));
    const n = buf.length ? readSync(fd, buf, 0, buf.length, start) : 0;
    return buf.toString('utf8', 0, n);
  } catch {
    return '';
  }
}
