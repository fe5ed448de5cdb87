// Finding a task's processes from the host, the way the agent does (by the environment every
// process of a task inherits), narrowed to one test's own values so that runs of the same
// tests elsewhere on the machine never count.
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';

/** Live processes whose environment holds every one of these NAME=value pairs (Linux /proc). */
export async function processesWithEnv(vars: Record<string, string>): Promise<number[]> {
  const wanted = Object.entries(vars).map(([k, v]) => `${k}=${v}`);
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const env = (await readFile(`/proc/${name}/environ`, 'utf8').catch(() => '')).split('\0');
    if (env.length > 1 && wanted.every((w) => env.includes(w))) out.push(Number(name));
  }
  return out;
}

/** Whether this kernel groups processes by session for the scheduler (CONFIG_SCHED_AUTOGROUP, enabled): workers.nice must then reach each session's group. */
export const AUTOGROUP = existsSync('/proc/self/autogroup') && readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() === '1';
