// What each task costs the rig in file work: strace attached to every thread of the brain and
// of each agent (not their children: the workers are the work) during a run, its system calls
// sorted into reads, writes, renames, fsyncs, directory scans and stats, divided by the tasks.
// strace slows what it traces, so this is a run of its own, never the timed throughput run.
import { readdir } from 'node:fs/promises';
import { execa, type ResultPromise } from 'execa';
import { independentTasks, writePlanFolder } from './plans.ts';
import type { RigSession } from './rigSession.ts';

export const FILE_OPS = ['reads', 'writes', 'renames', 'fsyncs', 'dir_scans', 'stats', 'unlinks', 'appends'] as const;
export type FileOp = (typeof FILE_OPS)[number];
export type FileOpCounts = Record<FileOp, number>;

const zero = (): FileOpCounts => ({ reads: 0, writes: 0, renames: 0, fsyncs: 0, dir_scans: 0, stats: 0, unlinks: 0, appends: 0 });

/**
 * Sorts one strace line (`-f`-style with or without a `[pid N]` prefix) into an op (pure):
 * an open for reading of a file is a read, for writing a write (with O_APPEND an append), an
 * open of a directory a scan; stat family calls are stats. Failed calls count too: a stat that
 * finds nothing still costs a round trip on a network mount.
 */
export function classify(line: string): FileOp | null {
  const m = /^(?:\[pid\s+\d+\]\s+|\d+\s+)?(\w+)\((.*)$/.exec(line.trim());
  if (!m) return null;
  const [, call, rest] = m;
  switch (call) {
    case 'openat':
    case 'open':
      if (/O_DIRECTORY/.test(rest!)) return 'dir_scans';
      if (/O_APPEND/.test(rest!)) return 'appends';
      if (/O_WRONLY|O_RDWR|O_CREAT/.test(rest!)) return 'writes';
      return 'reads';
    case 'rename':
    case 'renameat':
    case 'renameat2':
      return 'renames';
    case 'fsync':
    case 'fdatasync':
      return 'fsyncs';
    case 'statx':
    case 'newfstatat':
    case 'stat':
    case 'lstat':
    case 'access':
    case 'faccessat':
    case 'faccessat2':
      return 'stats';
    case 'unlink':
    case 'unlinkat':
      return 'unlinks';
    default:
      return null;
  }
}

/** Counts of a whole trace, only for calls on paths under `root` (the mount) where a path shows (pure). */
export function countTrace(text: string, root: string): FileOpCounts {
  const c = zero();
  for (const line of text.split('\n')) {
    const op = classify(line);
    if (!op) continue;
    if (op !== 'fsyncs' && !line.includes(root)) continue; // node's own files, /proc, /etc
    c[op] += 1;
  }
  return c;
}

export interface Tracer {
  /** Stops tracing and returns the counts per process name. */
  stop(): Promise<Record<string, FileOpCounts>>;
}

export async function straceAvailable(): Promise<boolean> {
  const r = await execa('strace', ['-V'], { reject: false });
  return r.exitCode === 0;
}

const TRACED = 'openat,open,rename,renameat,renameat2,fsync,fdatasync,statx,newfstatat,stat,lstat,access,faccessat,faccessat2,unlink,unlinkat';

/** Attaches strace to every thread of each named process (never their children). */
export async function traceProcesses(pids: Record<string, number>, root: string): Promise<Tracer> {
  const runs: Array<{ name: string; proc: ResultPromise }> = [];
  for (const [name, pid] of Object.entries(pids)) {
    const tids = (await readdir(`/proc/${pid}/task`)).filter((t) => /^\d+$/.test(t));
    const args = ['-qq', '-e', `trace=${TRACED}`, '-s', '200', ...tids.flatMap((t) => ['-p', t])];
    runs.push({ name, proc: execa('strace', args, { reject: false, stdout: 'ignore', stderr: 'pipe', buffer: true }) });
  }
  // strace prints nothing until attached; give it a moment so the first task is seen.
  await new Promise((r) => setTimeout(r, 300));
  return {
    async stop() {
      const out: Record<string, FileOpCounts> = {};
      for (const r of runs) r.proc.kill('SIGINT');
      for (const r of runs) {
        const res = await r.proc;
        out[r.name] = countTrace(String(res.stderr ?? ''), root);
      }
      return out;
    },
  };
}

/** Per task (pure). */
export function perTask(counts: FileOpCounts, tasks: number): FileOpCounts {
  const c = zero();
  for (const k of FILE_OPS) c[k] = Math.round((counts[k] / Math.max(1, tasks)) * 100) / 100;
  return c;
}

/** Sums named counts (pure). */
export function sumCounts(list: FileOpCounts[]): FileOpCounts {
  const c = zero();
  for (const x of list) for (const k of FILE_OPS) c[k] += x[k];
  return c;
}


/**
 * Runs `tasks` independent no-op tasks on the session's rig with strace on the brain and each
 * agent: the file work per task by process ('agents' summed). null when strace is missing.
 */
export async function measureFileOps(session: RigSession, tmp: string, tasks: number, timeoutMs: number): Promise<Record<string, FileOpCounts> | null> {
  if (!(await straceAvailable())) return null;
  const pids: Record<string, number> = {};
  for (const role of ['brain', ...Array.from({ length: 16 }, (_, i) => `agent gpu-${i}`)]) {
    const pid = await session.pidOf(role);
    if (pid !== null) pids[role] = pid;
  }
  const plan = await writePlanFolder(tmp, `bench-fileops-${tasks}`, `Bench: ${tasks} traced tasks`, 'No-op cpu tasks with strace on the brain and the agents: file work per task.', independentTasks(tasks));
  const tracer = await traceProcesses(pids, session.shared);
  let counts: Record<string, FileOpCounts>;
  try {
    await session.runPlan(plan, timeoutMs);
  } finally {
    counts = await tracer.stop();
  }
  const agents = sumCounts(Object.entries(counts).filter(([k]) => k.startsWith('agent ')).map(([, v]) => v));
  return { brain: perTask(counts.brain ?? zero(), tasks), agents: perTask(agents, tasks) };
}
