// The chaos run's own launcher: starts the brain and one agent per GPU as separate processes,
// restarts what dies after a delay (the chaos run picks it, seeded), and logs every life.
// Unlike agents/rig/main.ts it never gives up: the rig's launcher stops restarting after 3 deaths
// in 10 minutes, and a trial kills far more often than that on purpose.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { nodeArgsFor, projectRoot } from '../../agents/core/entry.ts';
import type { MountPaths } from '../../agents/core/paths.ts';
import { procStatFields } from '../../agents/core/pids.ts';
import type { ChaosEvent, Role } from './events.ts';


interface Slot {
  role: Role;
  gpu: number | null;
  proc: ResultPromise | null;
  /** The pid we SIGKILLed on purpose: its exit is expected. */
  killedPid: number | null;
  restartTimer: NodeJS.Timeout | null;
  /** Restart delay after a death we did not cause, ms. */
  crashDelayMs: number;
}

/**
 * The system calls that commit a file operation: every atomic write and every move of a task
 * ends in a rename, a replace's recovery places files with link. The kernel counts them per
 * system call and per thread; with one libuv thread (UV_THREADPOOL_SIZE=1) the brain's file
 * system calls all run on one thread, so the count is the brain's own.
 */
const COMMIT_SYSCALLS = 'rename,renameat,renameat2,link,linkat';

/**
 * The command line that runs `args` (node's) and SIGKILLs it just before its n-th commit (the
 * n-th rename or the n-th link), between two file operations: strace's syscall injection.
 */
export function killAtOpCommand(n: number, args: string[]): { file: string; args: string[] } {
  return {
    file: 'strace',
    args: ['-f', '-qq', '-o', '/dev/null', '-e', `trace=${COMMIT_SYSCALLS}`, '-e', `inject=${COMMIT_SYSCALLS}:signal=KILL:when=${n}`, process.execPath, ...args],
  };
}

export interface SupervisorOptions {
  /**
   * Kill each life of the brain at a file operation instead of at a moment: life j dies just
   * before its j-th commit, so successive lives die ever further into their work, from start-up
   * recovery to the middle of a pass.
   */
  brainOps?: boolean;
}

export class Supervisor {
  private readonly paths: MountPaths;
  private readonly logDir: string;
  private readonly record: (e: ChaosEvent) => void;
  private readonly slots: Slot[] = [];
  private readonly brainOps: boolean;
  private brainLives = 0;
  private stopping = false;

  constructor(paths: MountPaths, logDir: string, record: (e: ChaosEvent) => void, o: SupervisorOptions = {}) {
    this.paths = paths;
    this.logDir = logDir;
    this.record = record;
    this.brainOps = o.brainOps ?? false;
  }

  /** Starts the brain and the agents of GPUs 0..gpus-1. */
  start(gpus: number): void {
    this.slots.push(this.slot('brain', null));
    for (let g = 0; g < gpus; g++) this.slots.push(this.slot('agent', g));
    for (const s of this.slots) this.launch(s);
  }

  private slot(role: Role, gpu: number | null): Slot {
    return { role, gpu, proc: null, killedPid: null, restartTimer: null, crashDelayMs: 500 };
  }

  private find(role: Role, gpu: number | null): Slot {
    const s = this.slots.find((x) => x.role === role && x.gpu === gpu);
    if (!s) throw new Error(`no ${role}${gpu === null ? '' : ` ${gpu}`} in this trial`);
    return s;
  }

  pidOf(role: Role, gpu: number | null = null): number | null {
    return this.find(role, gpu).proc?.pid ?? null;
  }

  private launch(s: Slot): void {
    if (this.stopping) return;
    s.restartTimer = null;
    const name = s.role === 'brain' ? 'brain' : `gpu-${s.gpu}`;
    // As the launcher starts them: from a fresh bundle, else through tsx.
    const args = [...nodeArgsFor(s.role === 'brain' ? 'brain/main' : 'gpu/main'), '--shared', this.paths.root];
    if (s.gpu !== null) args.push('--gpu', String(s.gpu));
    const log = { file: join(this.logDir, `${name}.log`), append: true } as const;
    const atOp = this.brainOps && s.role === 'brain' ? ++this.brainLives : null;
    const cmd = atOp === null ? { file: process.execPath, args } : killAtOpCommand(atOp, args);
    const env = atOp === null ? undefined : { UV_THREADPOOL_SIZE: '1' };
    const proc = execa(cmd.file, cmd.args, { reject: false, stdin: 'ignore', stdout: log, stderr: log, cleanup: true, cwd: projectRoot, env });
    s.proc = proc;
    const pid = proc.pid ?? -1;
    this.record({ t: Date.now(), kind: 'start', role: s.role, gpu: s.gpu, pid });
    void proc.then((res) => {
      if (s.proc === proc) s.proc = null;
      if (atOp !== null && res.signal === 'SIGKILL' && !this.stopping && s.killedPid !== pid) {
        // Our kill, at its file operation: recorded as a brain kill, restarted as after any.
        this.record({ t: Date.now(), kind: 'kill', target: 'brain', pid, gpu: null, agent: null, hit: [], atOp });
        s.killedPid = pid;
        if (!s.restartTimer) s.restartTimer = setTimeout(() => this.launch(s), 100);
      }
      const expected = this.stopping || s.killedPid === pid;
      this.record({
        t: Date.now(), kind: 'exit', role: s.role, gpu: s.gpu, pid,
        code: res.exitCode ?? null, signal: res.signal ?? null, expected,
      });
      // A death we did not cause is restarted too, as the launcher would; the checker reports it.
      if (!expected && !this.stopping && !s.restartTimer) s.restartTimer = setTimeout(() => this.launch(s), s.crashDelayMs);
    });
  }

  /** SIGKILL, then a restart after delayMs. False when the process was not running. */
  kill(role: Role, gpu: number | null, restartAfterMs: number): number | null {
    const s = this.find(role, gpu);
    const pid = s.proc?.pid;
    if (!s.proc || pid === undefined) return null;
    s.killedPid = pid;
    s.proc.kill('SIGKILL');
    s.proc = null;
    if (s.restartTimer) clearTimeout(s.restartTimer);
    s.restartTimer = setTimeout(() => this.launch(s), restartAfterMs);
    return pid;
  }

  /** Whether every slot has a live process (none waiting for its restart). */
  allUp(): boolean {
    return this.slots.every((s) => s.proc !== null);
  }

  /** SIGTERM to everything, SIGKILL after graceMs; then every process still naming the mount. */
  async stop(graceMs = 8000): Promise<void> {
    this.stopping = true;
    for (const s of this.slots) if (s.restartTimer) clearTimeout(s.restartTimer);
    const live = this.slots.map((s) => s.proc).filter((p): p is ResultPromise => p !== null);
    for (const p of live) p.kill('SIGTERM');
    // strace blocks fatal signals and does not pass them on: the brain under it gets its own.
    if (this.brainOps) {
      const tracer = this.slots.find((s) => s.role === 'brain')?.proc?.pid;
      for (const pid of tracer === undefined ? [] : await childrenOf(tracer)) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* gone meanwhile */
        }
      }
    }
    const force = setTimeout(() => {
      for (const p of live) p.kill('SIGKILL');
    }, graceMs);
    await Promise.all(live);
    clearTimeout(force);
    await killProcessesNaming(this.paths.root);
  }
}

/** The direct children of a process (Linux: /proc/<pid>/task/<pid>/children). */
async function childrenOf(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return text.split(/\s+/).filter(Boolean).map(Number);
}

/**
 * Pids of live processes whose command line names `needle` (the trial's temporary mount):
 * workers (--task-file <mount>/...), tasks (step.mjs <mount>/plans/...), brain and agents
 * (--shared <mount>). The mount is a fresh temporary folder, so no other process names it.
 */
export async function processesNaming(needle: string): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    if (await commandLineNames(pid, needle)) out.push(pid);
  }
  return out;
}

export async function commandLineNames(pid: number, needle: string): Promise<boolean> {
  const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!cmd.split('\0').some((a) => a.includes(needle))) return false;
  // A zombie still shows its command line until its parent reaps it: it is not running.
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && procStatFields(stat)[0] !== 'Z';
}

/** SIGKILL to every process naming the mount (leftover workers and tasks of killed agents). */
export async function killProcessesNaming(needle: string): Promise<number[]> {
  const pids = await processesNaming(needle);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}
