// What the launcher does when one of its children ends: nothing (the rig is stopping), a
// note (an agent or the brain that stopped by itself), give up (it cannot start, it refused,
// or it died too often), or restart it after a delay. Pure: the child, how it ended, its
// restart history and the time in; one action with its words out. supervisor.ts applies it.
import { EXIT_REFUSED } from '../core/lifecycle.ts';
import { decideRestart, restartPolicyFor } from './restartPolicy.ts';
import type { ChildSpec } from './roles.ts';
import { describeCommand } from './runtimeServers.ts';

/** How a child ended, from execa's result. */
export interface ChildExit {
  exitCode: number | undefined;
  signal: string | undefined;
  /** The spawn's error code when no process started (ENOENT, EACCES). */
  spawnError: string | undefined;
  /** Its last stderr lines, oldest first. */
  stderrTail: readonly string[];
}

export type ExitAction =
  | { do: 'nothing' }
  | { do: 'note'; log: string }
  | { do: 'give_up'; reason: string }
  | { do: 'restart'; delayMs: number; reason: string; log: string };

/** The child as people know it: `runtime-0 (GPU 0's LLM server)`, `gpu-1`, `brain`. */
export function childTitle(c: Pick<ChildSpec, 'name' | 'kind' | 'gpu'>): string {
  return c.kind === 'runtime' ? `${c.name} (GPU ${c.gpu}'s LLM server)` : c.name;
}

function stderrNote(tail: readonly string[]): string {
  const lines = tail.map((l) => l.trim()).filter(Boolean);
  return lines.length ? `; its stderr ended: ${lines.join(' | ')}` : '';
}

/** Why a process could not be started at all, and what to change. */
function cannotStart(c: ChildSpec, code: string): string {
  const p = c.program;
  const command = p.type === 'exec' ? describeCommand(p.file, p.args) : `node ${p.entry}`;
  const from = p.type === 'exec' ? ` (from ${p.source})` : '';
  const exe = p.type === 'exec' ? p.file : process.execPath;
  const fix = p.type === 'exec' && p.source.endsWith('.argv') ? `, or write its full path as ${p.source}[0]` : p.type === 'exec' ? ', or give its command in serve.argv' : '';
  const what =
    code === 'ENOENT' ? `executable "${exe}" not found${exe.includes('/') ? '' : ' on PATH'} (ENOENT); install it${fix}`
    : code === 'EACCES' ? `"${exe}" is not executable by this user (EACCES); check its mode and owner${fix}`
    : `it could not be started (${code})`;
  return `${childTitle(c)} CANNOT START: ${what}. Command${from}: ${command}. Not restarted: fix the config, then restart the rig.`;
}

export function decideExit(c: ChildSpec, exit: ChildExit, restarts: readonly number[], now: number, stopping: boolean): ExitAction {
  if (stopping) return { do: 'nothing' };
  if (exit.spawnError !== undefined && exit.exitCode === undefined && exit.signal === undefined) return { do: 'give_up', reason: cannotStart(c, exit.spawnError) };
  const title = childTitle(c);
  const how = exit.signal ? `signal ${exit.signal}` : `exit ${exit.exitCode}`;
  const tail = stderrNote(exit.stderrTail);
  // A server that ends is a server the agent lacks, whatever its exit code; the brain or an
  // agent exits 0 only when told to stop (a stop signal file).
  if (exit.exitCode === 0 && c.kind !== 'runtime') return { do: 'note', log: `${c.name} exited by itself (exit 0); not restarted` };
  if (exit.exitCode === EXIT_REFUSED && c.kind !== 'runtime') {
    // Another process holds its place (a brain on this mount, an agent of this name), or the mount is at another path than the brain's: a restart would be refused again.
    return { do: 'give_up', reason: `${c.name} refused to start (its own output above says why: another ${c.name} holds its place, or the mount is at another path than the brain's); not restarted` };
  }
  const verdict = decideRestart(restarts, now, restartPolicyFor(c.kind));
  if (!verdict.restart) return { do: 'give_up', reason: `${title} DIED (${how}) and STAYS DOWN: ${verdict.reason}. Fix the cause, then restart the rig${tail}` };
  const windowMin = Math.round(restartPolicyFor(c.kind).windowMs / 60_000);
  return {
    do: 'restart',
    delayMs: verdict.delayMs,
    reason: `${title} died (${how}); restart ${verdict.n} of ${verdict.max} in ${verdict.delayMs} ms${tail}`,
    log: `${title} died (${how}); restarting in ${verdict.delayMs} ms (restart ${verdict.n} of ${verdict.max} in ${windowMin} minutes)`,
  };
}
