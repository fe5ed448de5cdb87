// Signal files for one agent (scripts/signal.ts writes them): stop (finish the running tasks,
// then exit), abort (SIGTERM to a task's worker, which stops its task and reports) and kill
// (SIGKILL to the worker's and the task's groups). Each is logged, then removed.
import { errorMessage } from '../core/errors.ts';
import type { MountPaths } from '../core/paths.ts';
import type { DecisionVerb } from '../core/decisionLog.ts';
import { type Controls, isCancelled } from '../core/controls.ts';
import { type SignalKind, readSignals, removeSignal } from '../core/signals.ts';
import type { AgentLog } from './runtimeWatch.ts';
import { type Running, killAll, stopTask } from './workers.ts';

export interface SignalTarget {
  paths: MountPaths;
  name: string;
  running: ReadonlyMap<string, Running>;
  stopping: () => boolean;
  /** Stop claiming; exit once nothing runs. */
  stop: () => void;
  log: AgentLog;
  say: (line: string) => void;
}

/** The decision-log verbs of each signal: obeyed, refused (not a signal file), for a task not running here. */
const VERBS: Record<SignalKind, { obeyed: DecisionVerb; refused: DecisionVerb; ignored: DecisionVerb | null }> = {
  stop: { obeyed: 'STOP', refused: 'STOP_REFUSED', ignored: null },
  abort: { obeyed: 'ABORT', refused: 'ABORT_REFUSED', ignored: 'ABORT_IGNORED' },
  kill: { obeyed: 'KILL', refused: 'KILL_REFUSED', ignored: 'KILL_IGNORED' },
};

/** Reads, obeys and removes the agent's pending signals. */
export async function applySignals(a: SignalTarget): Promise<void> {
  for (const sig of await readSignals(a.paths, a.name)) {
    if (sig.refused) {
      await a.log(VERBS[sig.kind].refused, null, `${sig.refused}; moved to quarantine/signals/`);
    } else if (sig.kind === 'stop') {
      if (!a.stopping()) await a.log('STOP', null, `stop signal: finishing ${a.running.size} task(s), then exiting`);
      a.stop();
    } else if (sig.taskId) {
      const r = a.running.get(sig.taskId);
      if (r) await a.log(VERBS[sig.kind].obeyed, sig.taskId, stopTask(r, sig.kind));
      else await a.log(VERBS[sig.kind].ignored ?? VERBS[sig.kind].refused, sig.taskId, 'no such task running here');
    }
    await removeSignal(a.paths, sig).catch((err) => a.say(`signal ${sig.file} could not be removed: ${errorMessage(err)}`));
  }
}

/**
 * Running tasks that were cancelled (control/cancel/<task or batch>): SIGTERM to the worker,
 * which stops its task and reports; SIGKILL to every group once abort_grace_s has passed. The
 * result is recorded `cancelled` (workers.ts), which the brain never retries.
 */
export async function stopCancelled(running: ReadonlyMap<string, Running>, controls: Controls, now: number, graceMs: number, log: AgentLog): Promise<void> {
  for (const r of running.values()) {
    if (r.kind === 'meta' || !isCancelled(controls, r.task.id)) continue;
    if (r.stoppedBy !== 'cancel') {
      r.cancelAt = now;
      stopTask(r, 'abort', 'cancel');
      await log('CANCEL', r.task.id, 'cancelled (control/cancel/): SIGTERM to the worker');
    } else if (r.cancelAt !== undefined && now - r.cancelAt >= graceMs && !r.cancelKilled) {
      r.cancelKilled = true;
      killAll(r, 'SIGKILL');
      await log('KILL', r.task.id, `cancelled, and still running ${Math.round(graceMs / 1000)} s after SIGTERM (timeouts.abort_grace_s): SIGKILL to the worker group`);
    }
  }
}
