// What runShell needs to know about a task running inside bwrap: bwrap's status (its
// --json-status-fd), how the task ended, why it never started, and which processes are
// inside its pid namespace.
//
// bwrap writes `{ "child-pid": N, "pid-namespace": I, ... }` once the sandbox exists and
// `{ "exit-code": C }` when the task ends, but only when the task's program was actually
// executed: a run with no exit-code line never started, and what bwrap printed on stderr
// says why (nothing else wrote there). It reports a task killed by signal n as 128 + n
// (bash's convention), so such an exit is read back as the signal.
import { readdirSync, readlinkSync } from 'node:fs';
import { constants } from 'node:os';

export interface BwrapStatus {
  /** bwrap's child: the pid namespace's init, as a host pid. */
  childPid: number | null;
  /** The inode of the task's pid namespace (what /proc/<pid>/ns/pid names). */
  pidNamespace: number | null;
  /** The task's exit code; null while it runs, or when it never started. */
  exitCode: number | null;
}

/** bwrap's status descriptor's text: one JSON document a line; anything else is skipped. */
export function parseBwrapStatus(text: string): BwrapStatus {
  const status: BwrapStatus = { childPid: null, pidNamespace: null, exitCode: null };
  for (const line of text.split('\n')) {
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof doc !== 'object' || doc === null) continue;
    const d = doc as Record<string, unknown>;
    if (Number.isInteger(d['child-pid'])) status.childPid = d['child-pid'] as number;
    if (Number.isInteger(d['pid-namespace'])) status.pidNamespace = d['pid-namespace'] as number;
    if (Number.isInteger(d['exit-code'])) status.exitCode = d['exit-code'] as number;
  }
  return status;
}

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));

/** bwrap's exit code back into an exit code or a signal: 128 + n is signal n. */
export function fromBwrapExit(code: number): { exitCode: number | null; signal: string | null } {
  const name = code > 128 ? SIGNAL_NAMES.get(code - 128) : undefined;
  return name ? { exitCode: null, signal: name } : { exitCode: code, signal: null };
}

/**
 * Why bwrap did not start the task, from what it printed on stderr, as runShell's spawn
 * errors: ENOENT and EACCES for the program itself (what spawning it directly reports),
 * SANDBOX for the sandbox's own failure.
 */
export function bwrapStartFailure(stderr: string, command: string): { code: string; message: string } {
  const said = stderr.split('\n').filter((l) => l.startsWith('bwrap: ')).at(-1);
  if (said === `bwrap: execvp ${command}: No such file or directory`) return { code: 'ENOENT', message: said };
  if (said === `bwrap: execvp ${command}: Permission denied`) return { code: 'EACCES', message: said };
  return { code: 'SANDBOX', message: said ?? 'bwrap ended before the task started, without saying why' };
}

/** Host pids of the processes in a pid namespace (a process whose namespace cannot be read is left out). */
export function namespaceMembers(pidNamespace: number): number[] {
  const link = `pid:[${pidNamespace}]`;
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/ns/pid`) === link) out.push(Number(name));
    } catch {
      // Gone meanwhile, or not ours to look at.
    }
  }
  return out;
}

/**
 * The sandbox's first step of ending a task: SIGTERM to every process inside it but its init
 * (which ignores it anyway), so the task gets its grace period. True when it reached any;
 * false before the namespace exists or once it is empty (the caller then signals bwrap,
 * which takes everything inside with it at once).
 */
export function terminateInside(status: BwrapStatus): boolean {
  if (status.pidNamespace === null) return false;
  let reached = false;
  for (const pid of namespaceMembers(status.pidNamespace)) {
    if (pid === status.childPid) continue;
    try {
      process.kill(pid, 'SIGTERM');
      reached = true;
    } catch {
      // ESRCH: it ended meanwhile.
    }
  }
  return reached;
}
