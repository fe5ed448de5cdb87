// A child process as the agent runs its workers: node's spawn in its own process group, its
// stdout kept whole (the worker's one result line), the tail of its stderr, and a promise of
// how it ended. The agent starts one per task; execa costs about three times the CPU per
// spawn, in the agent's one thread that also claims and writes results.
import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { niceSession } from '../core/sessionNice.ts';

export interface ChildExit {
  stdout: string;
  /** The last STDERR_KEEP bytes of its stderr. */
  stderr: string;
  exitCode: number | undefined;
  signal: NodeJS.Signals | undefined;
}

export interface ChildRun extends Promise<ChildExit> {
  pid: number | undefined;
  stdin: Writable | null;
  stderr: Readable | null;
}

/** How much of a worker's stderr is kept for a failure's reason (its task's output goes to log files). */
const STDERR_KEEP = 64 * 1024;
/** Bound on the stdout kept: a worker prints one result line; a runaway one must not fill the agent. */
const STDOUT_KEEP = 16 * 1024 * 1024;

/** Starts `file args` detached (its own group), env over the agent's; `input`, when given, is written to stdin and stdin closed. */
export function startChild(file: string, args: readonly string[], o: { env: Record<string, string>; input?: string; nice?: number }): ChildRun {
  const child = spawn(file, args, { detached: true, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...o.env } });
  // Inherited by everything it starts (its task's command sets its own session's group: runShell.ts).
  if (o.nice && child.pid !== undefined) niceSession(child.pid, o.nice);
  // A write to a child that just died must not crash the agent (EPIPE): its exit says what happened.
  child.stdin.on('error', () => {});
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    if (out.length < STDOUT_KEEP) out += s;
  });
  child.stderr.on('data', (b: Buffer) => {
    err = (err + b.toString()).slice(-STDERR_KEEP);
  });
  const done = new Promise<ChildExit>((resolve) => {
    let spawnError: Error | null = null;
    child.on('error', (e) => {
      spawnError = e;
      // Never started (no pid): no 'close' may follow.
      if (child.pid === undefined) resolve({ stdout: '', stderr: e.message, exitCode: undefined, signal: undefined });
    });
    // 'close': the process ended and its pipes are drained, so stdout holds everything it printed.
    child.on('close', (code, signal) => {
      resolve({ stdout: out, stderr: spawnError ? `${err}${spawnError.message}` : err, exitCode: code ?? undefined, signal: signal ?? undefined });
    });
  });
  if (o.input !== undefined) child.stdin.end(o.input);
  return Object.assign(done, { pid: child.pid, stdin: child.stdin as Writable, stderr: child.stderr as Readable });
}
