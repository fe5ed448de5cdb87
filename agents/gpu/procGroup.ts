// Which process group a pid belongs to (Linux /proc). Workers lead their own group, so a
// GPU process whose group is a worker's pid is that worker's. nvidia-smi reports host pids:
// inside a container with its own pid namespace they do not match (see docs).
import { readdir, readFile } from 'node:fs/promises';

export async function processGroupOf(pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses): state ppid pgrp ...
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pgrp = Number(rest[2]);
    return Number.isFinite(pgrp) ? pgrp : null;
  } catch {
    return null;
  }
}

/**
 * Live processes of one attempt of a task, found by the environment the worker gives every
 * task (FORGE_TASK_ID, FORGE_ATTEMPT), which everything the task starts inherits: the way to
 * reach a task whose process group was never reported (its worker died right after starting
 * it, or its agent died before reading the report). Same host and pid namespace only.
 */
export async function processesOfAttempt(taskId: string, attempt: number): Promise<number[]> {
  return processesOfAttempts([{ taskId, attempt }]);
}

/** The same for several attempts at once: one pass over /proc, whatever their number. */
export async function processesOfAttempts(attempts: ReadonlyArray<{ taskId: string; attempt: number }>): Promise<number[]> {
  if (!attempts.length) return [];
  const wanted = new Set(attempts.map((a) => `${a.taskId}#${a.attempt}`));
  const out: number[] = [];
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const env = await readFile(`/proc/${name}/environ`, 'utf8').catch(() => '');
    if (!env) continue;
    const vars = env.split('\0');
    const id = vars.find((v) => v.startsWith('FORGE_TASK_ID='))?.slice('FORGE_TASK_ID='.length);
    const n = vars.find((v) => v.startsWith('FORGE_ATTEMPT='))?.slice('FORGE_ATTEMPT='.length);
    if (id !== undefined && n !== undefined && wanted.has(`${id}#${n}`)) out.push(Number(name));
  }
  return out;
}
