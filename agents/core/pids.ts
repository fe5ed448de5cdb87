// Whether a process id names a live process on this host: the one test every daemon uses
// (a dead brain's lock, an agent's previous life, a spool writer that is gone). A pid is only
// meaningful on the host that wrote it; callers check the host first.
import { readFileSync } from 'node:fs';
import { errorCode } from './errors.ts';

/** True while `pid` exists here (EPERM: it exists, owned by another user). A zombie counts as alive until reaped. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errorCode(err) === 'EPERM';
  }
}

export interface ProcStat {
  state: string;
  pgrp: number;
  /** The session id (the pid of its leader). */
  session: number;
}

/**
 * The fields of a /proc/PID/stat line after the command name: [0] is field 3 (state), [1] the
 * ppid, [13] and [14] cutime and cstime. The name, in parentheses, may hold spaces and ')'. Pure.
 */
export function procStatFields(text: string): string[] {
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** State, process group and session from a /proc/PID/stat line; null when it cannot be read. Pure. */
export function parseProcStat(text: string): ProcStat | null {
  const fields = procStatFields(text);
  const pgrp = Number(fields[2]);
  const session = Number(fields[3]);
  return fields[0] && Number.isInteger(pgrp) && Number.isInteger(session) ? { state: fields[0], pgrp, session } : null;
}

/** /proc/PID/stat of a process of this host, parsed; null when it is gone. */
export function readProcStat(pid: number): ProcStat | null {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}
