// A short-lived tool the agent runs every cycle (nvidia-smi): node's spawn with stdin closed,
// its output kept (bounded), and a time limit: SIGTERM, then SIGKILL for a tool that ignores it
// (a hung driver call). execa costs several times the CPU per run, in the agent's one thread.
import { spawn } from 'node:child_process';

export interface ToolRun {
  /** Its output, without the final newline (as execa gives it). */
  stdout: string;
  stderr: string;
  /** Its exit code; null when it was killed by a signal or never started. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** It ran past timeoutMs and was killed for it. */
  timedOut: boolean;
  /** It could not be started: the error's code (ENOENT, EACCES, ...), or its message. */
  startError: string | null;
}

/** Bound on each stream kept: a tool printing without end must not fill the agent. */
const KEEP_BYTES = 4 * 1024 * 1024;
/** After its exit, how long its pipes may stay open (a child it left holds them) before the run ends anyway. */
const DRAIN_MS = 200;

/** Runs `file args` (never through a shell) with `env` over the agent's own. */
export function runTool(file: string, args: readonly string[], o: { timeoutMs: number; killAfterMs: number; env?: NodeJS.ProcessEnv }): Promise<ToolRun> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: o.env ? { ...process.env, ...o.env } : process.env });
    const finish = (r: Omit<ToolRun, 'stdout' | 'stderr' | 'timedOut'>) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      resolve({ stdout: chomp(stdout), stderr: chomp(stderr), timedOut, ...r });
    };
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      if (stdout.length < KEEP_BYTES) stdout += s;
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      if (stderr.length < KEEP_BYTES) stderr += s;
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      // Never started (no pid): no 'exit' follows.
      if (child.pid === undefined) finish({ exitCode: null, signal: null, startError: err.code ?? err.message });
    });
    timers.push(
      setTimeout(() => {
        timedOut = true;
        child.kill('SIGTERM');
        timers.push(setTimeout(() => child.kill('SIGKILL'), o.killAfterMs));
      }, o.timeoutMs),
    );
    child.on('exit', (code, signal) => {
      timers.push(setTimeout(() => finish({ exitCode: code, signal, startError: null }), DRAIN_MS));
    });
    // 'close': ended and its pipes drained, so stdout holds everything it printed.
    child.on('close', (code, signal) => finish({ exitCode: code, signal, startError: null }));
  });
}

function chomp(s: string): string {
  return s.endsWith('\r\n') ? s.slice(0, -2) : s.endsWith('\n') ? s.slice(0, -1) : s;
}
