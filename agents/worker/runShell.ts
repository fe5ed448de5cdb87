// Runs a shell task's argv (an argument array, never through a shell) in its own process
// group, with stdout and stderr appended to log files. The task's timeout and an abort both
// end the WHOLE group: SIGTERM, a grace period, then SIGKILL (Slurm's habit). Whatever the
// task left running in its group when it exited is ended the same way, so nothing it
// started outlives the worker's result.
//
// In a sandbox (sandbox.ts) the task's own process group is that of bwrap's init, the pid 1
// of its pid namespace: onSpawn gets that pid once bwrap reports it. SIGTERM to bwrap would
// end it, and with it every process inside at once, with no grace: so the TERM goes to the
// processes inside the namespace, and the KILL after the grace period to bwrap's group as
// without a sandbox (bwrap's death takes the namespace with it: --die-with-parent). When the
// task ends, bwrap's init ends and the kernel kills whatever the task left inside.
import { closeSync, fstatSync, readdirSync, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { getPriority } from 'node:os';
import { execa } from 'execa';
import type { Task } from '../core/task.ts';
import type { RunAs, SandboxLaunch } from './sandbox.ts';
import { openLogFiles, readFrom } from './logFiles.ts';
import { niceSessionGroup } from '../core/sessionNice.ts';
import { readProcStat } from '../core/pids.ts';
import { bwrapStartFailure, fromBwrapExit, parseBwrapStatus, terminateInside } from './sandboxRun.ts';

export interface RunShellOptions {
  /** Merged over process.env. */
  env: Record<string, string>;
  stdoutPath: string;
  stderrPath: string;
  /** The task's own limit in ms; past it the group is ended and timedOut is true. */
  timeoutMs: number;
  /** Aborting ends the group the same way; aborted is true. */
  signal?: AbortSignal;
  /** Between SIGTERM and SIGKILL, ms (default 2000). */
  killGraceMs?: number;
  /**
   * Called with the task's pid, also its process group id, once it is spawned; in a sandbox,
   * with the pid of the sandbox's init (host pid), whose group the task's processes are in.
   */
  onSpawn?: (pid: number) => void;
  /** Run the argv inside this bwrap sandbox; absent: run it as it is. */
  sandbox?: SandboxLaunch;
  /** Run as this user (the worker must be root); absent: as the worker's user. */
  runAs?: RunAs | null;
}

export interface ShellRun {
  /** null when it was ended by a signal or never started. */
  exitCode: number | null;
  /** The signal that ended it, e.g. SIGTERM. */
  signal: string | null;
  timedOut: boolean;
  aborted: boolean;
  durationMs: number;
  /** The task's pid and process group id (in a sandbox: bwrap's); null when it never started. */
  pid: number | null;
  /** Why it never started: ENOENT (no such command), EACCES (not executable), SANDBOX (bwrap's own failure), ...; null when it started. */
  spawnError: { code: string; message: string } | null;
  /** What this run wrote to stderr, its last 64 KiB (read from the worker's own descriptor). */
  stderrTail: string;
}

export const DEFAULT_KILL_GRACE_MS = 2000;
/** setTimeout's ceiling (about 24.8 days); longer limits are clamped to it. */
const MAX_TIMER_MS = 2 ** 31 - 1;
type FdNumber = 3;
/** bwrap's status descriptor in the child (see sandboxRun.ts). */
const STATUS_FD = 3;

export async function runShell(task: Task, opts: RunShellOptions): Promise<ShellRun> {
  const argv = task.argv;
  if (!argv || argv.length === 0) throw new Error(`task ${task.id}: a shell task needs a non-empty argv`);
  const grace = opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  // The child writes straight into the files (no pipe through us): nothing is lost if the
  // worker dies, and a background grandchild holding the output cannot hold up our wait.
  // Only regular files at exactly these paths (logFiles.ts): throws LogFileError otherwise.
  const [outFd, errFd] = openLogFiles(opts.stdoutPath, opts.stderrPath);
  const errStart = fstatSync(errFd).size;
  const box = opts.sandbox;
  const [file, args] = box ? [box.bwrapPath, [...box.args, '--json-status-fd', String(STATUS_FD), '--', ...argv]] : [argv[0]!, argv.slice(1)];
  const started = Date.now();
  let timedOut = false;
  let aborted = false;
  let killTimer: NodeJS.Timeout | undefined;
  let limitTimer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    const subprocess = execa(file, args, {
      cwd: task.cwd,
      env: opts.env,
      extendEnv: true,
      // execa's types list only the descriptors 1-9; at run time any number goes to spawn as is.
      stdio: box ? ['ignore', outFd as FdNumber, errFd as FdNumber, 'pipe'] : ['ignore', outFd as FdNumber, errFd as FdNumber],
      detached: true, // its own process group: -pid reaches everything it starts
      cleanup: false,
      reject: false,
      buffer: false,
      ...(opts.runAs ? { uid: opts.runAs.uid, gid: opts.runAs.gid } : {}),
    });
    // The command inherits the worker's nice but leads a new session, whose scheduling group gets
    // the same (sessionNice.ts); inside bwrap, that session is led by bwrap's init (sandbox.ts).
    const nice = ownNice();
    const status = box ? collect(subprocess.stdio[STATUS_FD] as Readable | undefined, (init) => (niceSessionGroup(init, nice), opts.onSpawn?.(init))) : null;
    const pid = subprocess.pid ?? null;
    if (pid !== null) niceSessionGroup(pid, nice);
    let ending = false;
    const endGroup = () => {
      if (pid === null || ending) return;
      ending = true;
      if (!status || !terminateInside(parseBwrapStatus(status.text()))) signalGroup(pid, 'SIGTERM');
      killTimer = setTimeout(() => signalGroup(pid, 'SIGKILL'), grace);
    };
    if (pid !== null) {
      if (!box) opts.onSpawn?.(pid);
      limitTimer = setTimeout(() => {
        timedOut = true;
        endGroup();
      }, Math.min(Math.max(0, opts.timeoutMs), MAX_TIMER_MS));
      onAbort = () => {
        if (!timedOut) aborted = true;
        endGroup();
      };
      if (opts.signal?.aborted) onAbort();
      else opts.signal?.addEventListener('abort', onAbort, { once: true });
    }
    const result = await subprocess;
    clearTimeout(limitTimer);
    if (pid !== null) await endLeftovers(pid, grace);
    const run: ShellRun = {
      exitCode: result.exitCode ?? null,
      signal: result.signal ?? null,
      timedOut,
      aborted,
      durationMs: Date.now() - started,
      pid,
      spawnError: pid === null ? { code: result.code ?? 'UNKNOWN', message: result.shortMessage ?? String(result.code) } : null,
      stderrTail: readFrom(errFd, errStart),
    };
    return box ? sandboxedEnd(run, box, await (status?.done ?? ''), argv[0]!) : run;
  } finally {
    clearTimeout(limitTimer);
    clearTimeout(killTimer);
    if (onAbort) opts.signal?.removeEventListener('abort', onAbort);
    closeSync(outFd);
    closeSync(errFd);
  }
}

/** How a sandboxed task ended, from bwrap's own end, its status and (when it never started) its stderr. */
function sandboxedEnd(run: ShellRun, box: SandboxLaunch, statusText: string, command: string): ShellRun {
  if (run.pid === null) return { ...run, spawnError: { code: 'SANDBOX', message: `cannot start ${box.bwrapPath}: ${run.spawnError?.message ?? ''}` } };
  if (run.signal !== null) return run; // bwrap itself was killed: our own SIGKILL, or someone's
  const status = parseBwrapStatus(statusText);
  if (status.exitCode !== null) return { ...run, ...fromBwrapExit(status.exitCode) };
  // Nothing of the task ran, so all that is on its stderr is bwrap's own word.
  return { ...run, exitCode: null, spawnError: bwrapStartFailure(run.stderrTail, command) };
}

/**
 * Reads bwrap's status pipe to its end: text() is what came so far, done resolves to all of
 * it; onInit gets the sandbox's init pid as soon as bwrap reports it. The pipe ends when bwrap
 * exits (nothing inside holds it); the time limit is a guard only.
 */
function collect(stream: Readable | undefined, onInit?: (pid: number) => void): { text: () => string; done: Promise<string> } {
  let text = '';
  let reported = false;
  const done = new Promise<string>((finish) => {
    if (!stream) return finish('');
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      text += chunk;
      const init = reported ? null : parseBwrapStatus(text).childPid;
      if (init !== null) {
        reported = true;
        onInit?.(init);
      }
    });
    stream.on('end', () => finish(text));
    stream.on('error', () => finish(text));
    setTimeout(() => finish(text), 5000).unref();
  });
  return { text: () => text, done };
}

function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/** The task exited; members of its group still running (background jobs) get TERM, grace, KILL. */
async function endLeftovers(pgid: number, grace: number): Promise<void> {
  if (!groupAlive(pgid)) return;
  signalGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + grace;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    if (!groupAlive(pgid)) return;
  }
  signalGroup(pgid, 'SIGKILL');
}

/**
 * Whether a process of the group is still running. kill(-pgid, 0) also counts zombies, which
 * stay forever where PID 1 does not reap orphans (some containers), so on Linux a yes is
 * confirmed in /proc.
 */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  if (process.platform !== 'linux') return true;
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^[0-9]+$/.test(entry)) continue;
      const stat = readProcStat(Number(entry));
      if (stat && stat.pgrp === pgid && stat.state !== 'Z') return true;
    }
    return false;
  } catch {
    return true;
  }
}

/** This process's nice value (workers.nice, set by the agent); 0 when it cannot be read. */
function ownNice(): number {
  try {
    return getPriority();
  } catch {
    return 0;
  }
}
