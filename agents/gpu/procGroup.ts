// Which process group a pid belongs to (Linux /proc). Workers lead their own group, so a
// GPU process whose group is a worker's pid is that worker's. nvidia-smi reports host pids:
// inside a container with its own pid namespace they do not match (see docs).
import { readdir, readFile } from 'node:fs/promises';
import { parseProcStat } from '../core/pids.ts';

export async function processGroupOf(pid: number): Promise<number | null> {
  try {
    return parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'))?.pgrp ?? null;
  } catch {
    return null;
  }
}

/** The environment every worker (and everything its task starts) carries; set by spawnWorker. */
export const AGENT_ENV = 'FORGE_AGENT';
export const TASK_ENV = 'FORGE_TASK_ID';
export const ATTEMPT_ENV = 'FORGE_ATTEMPT';

/**
 * Live processes of one attempt of a task, found by the environment the agent gives every
 * worker and the worker every task (FORGE_AGENT, FORGE_TASK_ID, FORGE_ATTEMPT), which
 * everything the task starts inherits: the way to reach a task whose process group was never
 * reported (its worker died right after starting it, or its agent died before reading the
 * report), and the only proof that a process is ours. Same host and pid namespace only;
 * never pid 0 or 1, never ourselves.
 */
export async function processesOfAttempt(agent: string, taskId: string, attempt: number): Promise<number[]> {
  return processesOfAttempts(agent, [{ taskId, attempt }]);
}

/** The same for several attempts at once: one pass over /proc, whatever their number. */
export async function processesOfAttempts(agent: string, attempts: ReadonlyArray<{ taskId: string; attempt: number }>): Promise<number[]> {
  if (!attempts.length) return [];
  const wanted = new Set(attempts.map((a) => `${a.taskId}#${a.attempt}`));
  const out: number[] = [];
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid <= 1 || pid === process.pid) continue;
    const env = await readFile(`/proc/${name}/environ`, 'utf8').catch(() => '');
    if (!env) continue;
    const vars = env.split('\0');
    const get = (k: string) => vars.find((v) => v.startsWith(`${k}=`))?.slice(k.length + 1);
    if (get(AGENT_ENV) !== agent) continue;
    const id = get(TASK_ENV);
    const n = get(ATTEMPT_ENV);
    if (id !== undefined && n !== undefined && wanted.has(`${id}#${n}`)) out.push(pid);
  }
  return out;
}
