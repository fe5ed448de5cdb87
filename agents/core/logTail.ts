// The end of a task attempt's log, read without reading the whole file: a task may write
// gigabytes. Shared by `forge logs`, the batch report and the planner's escalation records.
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { AttemptRecord, Task } from './task.ts';

/** Read at most this much of a log's end unless told otherwise. */
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

/** Where an attempt's stdout and stderr are: <batch folder>/logs/<name>.attemptN.out/.err (agents/worker/main.ts), or the paths its result names. */
export function attemptLogPaths(task: Task, a: Pick<AttemptRecord, 'attempt'>): { stdout: string; stderr: string } {
  const base = join(task.batch_path, 'logs', `${task.name}.attempt${a.attempt}`);
  const last = task.result?.attempt === a.attempt ? task.result : null;
  return { stdout: last?.stdout_path ?? `${base}.out`, stderr: last?.stderr_path ?? `${base}.err` };
}

export async function attemptLogs(task: Task, a: Pick<AttemptRecord, 'attempt'>, count: number, maxBytes = TAIL_BYTES): Promise<{ stdout: LogTail; stderr: LogTail }> {
  const p = attemptLogPaths(task, a);
  const [stdout, stderr] = await Promise.all([tailOf(p.stdout, count, maxBytes), tailOf(p.stderr, count, maxBytes)]);
  return { stdout, stderr };
}
