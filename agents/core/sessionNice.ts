// Lowering the CPU priority of a process that leads a session of its own (a worker, a task's
// command: both are started detached, in a new session and process group).
//
// setpriority(2) alone is not enough on Linux kernels that group processes by session
// (CONFIG_SCHED_AUTOGROUP, on by default in Debian's and most distributions' kernels): the
// scheduler first shares the CPU evenly among the sessions' groups, and a nice value counts only
// within its group. Each detached process is a group of its own at nice 0, so ten niced workers
// would still get ten shares against one for the agents and one for a person's `forge status`.
// Writing the value to /proc/PID/autogroup sets the group's own nice as well (sched(7)).
import { writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { readProcStat } from './pids.ts';

/**
 * Tries at writing a group's nice: the kernel refuses a write with EAGAIN within 100 ms of
 * another without CAP_SYS_ADMIN, and a process that has not yet called setsid (bwrap's init
 * is reported before it does) is still in its parent's group.
 */
const GROUP_TRIES = 40;
const GROUP_RETRY_MS = 50;

/**
 * Sets `nice` (0 to 19) on `pid` and, where the kernel has session groups, on its session's
 * group, once `pid` leads its own session (the group belongs to the whole session, so a
 * process still in its parent's session is waited for, never written). Raising a nice needs
 * no privilege; what the kernel refuses (a process gone, another user's, no autogroup) leaves
 * the process as it was.
 */
export function niceSession(pid: number, nice: number): void {
  if (!(nice > 0)) return;
  try {
    setPriority(pid, nice);
  } catch {
    // Gone already, or not allowed here: it runs at the caller's priority.
  }
  niceGroup(pid, nice, GROUP_TRIES);
}

/** niceSession's group part alone, for a process that inherited `nice` from its parent (a task's command from its worker). */
export function niceSessionGroup(pid: number, nice: number): void {
  if (nice > 0) niceGroup(pid, nice, GROUP_TRIES);
}

function niceGroup(pid: number, nice: number, triesLeft: number): void {
  const stat = readProcStat(pid);
  if (!stat) return; // gone
  const again = () => {
    if (triesLeft > 1) setTimeout(() => niceGroup(pid, nice, triesLeft - 1), GROUP_RETRY_MS).unref();
  };
  if (stat.session !== pid) return again();
  try {
    writeFileSync(`/proc/${pid}/autogroup`, String(nice));
  } catch (err) {
    // EAGAIN: another write less than 100 ms ago. Anything else (ENOENT: no autogroup or the
    // process is gone; EACCES, EPERM: not ours) is final.
    if ((err as NodeJS.ErrnoException).code === 'EAGAIN') again();
  }
}

/** The nice value of a session's scheduling group, from /proc/PID/autogroup ("/autogroup-N nice V"); null without one. Pure. */
export function parseAutogroup(text: string): number | null {
  const m = /\bnice\s+(-?\d+)\s*$/.exec(text.trim());
  return m ? Number(m[1]) : null;
}
