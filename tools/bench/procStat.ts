// Process figures from /proc (Linux): CPU time of a process tree and a process's memory.
// CPU of children that already exited is counted through their parent's cutime/cstime, so
// the sum over a tree at two moments measures everything the tree did in between, short-lived
// helpers (nvidia-smi runs) included.
import { readdir, readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { procStatFields } from '../../agents/core/pids.ts';

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** utime + stime + cutime + cstime, in seconds. */
  cpuS: number;
  /** cutime + cstime: what its exited, reaped children used, in seconds. */
  childrenS: number;
  cmdline: string;
}

let ticksPerSecond: number | null = null;

async function clockTicks(): Promise<number> {
  if (ticksPerSecond === null) {
    const r = await execa('getconf', ['CLK_TCK'], { reject: false });
    const n = Number(String(r.stdout).trim());
    ticksPerSecond = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return ticksPerSecond;
}

/** One process's figures; null when it is gone. */
export async function readProc(pid: number): Promise<ProcInfo | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const rest = procStatFields(stat);
    const tick = await clockTicks();
    const f = (n: number) => Number(rest[n - 3]);
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ').trim();
    return { pid, ppid: f(4), cpuS: (f(14) + f(15) + f(16) + f(17)) / tick, childrenS: (f(16) + f(17)) / tick, cmdline };
  } catch {
    return null;
  }
}

/** The root and every live descendant. */
export async function readTree(root: number): Promise<ProcInfo[]> {
  const pids = (await readdir('/proc')).filter((n) => /^[0-9]+$/.test(n)).map(Number);
  const all = (await Promise.all(pids.map(readProc))).filter((p): p is ProcInfo => p !== null);
  const byParent = new Map<number, ProcInfo[]>();
  for (const p of all) byParent.set(p.ppid, [...(byParent.get(p.ppid) ?? []), p]);
  const out: ProcInfo[] = [];
  const rootInfo = all.find((p) => p.pid === root);
  if (!rootInfo) return out;
  const stack = [rootInfo];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...(byParent.get(p.pid) ?? []));
  }
  return out;
}

export interface MemInfo {
  /** Resident set now, MB. */
  rssMb: number;
  /** Highest resident set of the process's life (VmHWM), MB. */
  peakRssMb: number;
}

export async function readMemory(pid: number): Promise<MemInfo | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    const rss = kb('VmRSS');
    const hwm = kb('VmHWM');
    if (!Number.isFinite(rss)) return null;
    return { rssMb: rss / 1024, peakRssMb: Number.isFinite(hwm) ? hwm / 1024 : rss / 1024 };
  } catch {
    return null;
  }
}

/** A name for a rig process from its command line: rig, brain, gpu-N, ollama-N, worker, other. */
export function roleOf(cmdline: string): string {
  // Each entry runs from its TypeScript (through tsx) or from its bundle (dist/agents/…/main.js).
  // The launcher: its TypeScript, or the forge command's bundle (dist/cli/forge.js, lib/forge.js) running `rig`.
  if (/agents\/rig(?:\/main)?\.(ts|js)/.test(cmdline) || /(?:\/forge\.js|\/bin\/forge) rig(?: |$)/.test(cmdline)) return 'launcher';
  if (/agents\/brain\/main\.(ts|js)/.test(cmdline)) return 'brain';
  const gpu = /agents\/gpu\/main\.(?:ts|js).*--gpu (\S+)/.exec(cmdline);
  if (gpu) return `agent gpu-${gpu[1]}`;
  const sim = /ollama-main\.(?:ts|js).*--gpu (\S+)/.exec(cmdline);
  if (sim) return `sim ollama ${sim[1]}`;
  if (/worker\/main\.(ts|js)/.test(cmdline)) return 'worker';
  return 'other';
}
