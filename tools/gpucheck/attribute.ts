// Which GPU processes belong to which task: a process nvidia-smi lists belongs to a task when
// it is the task's worker or a descendant of it (the worker runs the task's command as its
// child). The process group is recorded too, because the agent matches by it: a GPU process
// whose group is not the worker's pid is one the agent cannot see that way. Pure: the caller
// reads /proc.
import type { SmiApp } from './smi.ts';

export interface AttributedPid {
  pid: number;
  /** MiB nvidia-smi lists for it (0 when it cannot tell). */
  mb: number;
  /** Its process group, or null when it could not be read (it ended). */
  pgrp: number | null;
}

export interface TaskMemory {
  /** Sum of the task's GPU processes, MiB. */
  mb: number;
  pids: AttributedPid[];
}

/**
 * @param workers task id → the worker's pid (from the agent's heartbeat)
 * @param descendantsOf every descendant of a pid (not the pid itself)
 * @param pgrpOf the process group of each listed GPU pid
 */
export function attributeApps(
  apps: readonly SmiApp[],
  workers: ReadonlyMap<string, number>,
  descendantsOf: (pid: number) => Iterable<number>,
  pgrpOf: ReadonlyMap<number, number | null>,
): Map<string, TaskMemory> {
  const out = new Map<string, TaskMemory>();
  for (const [taskId, workerPid] of workers) {
    const family = new Set<number>([workerPid, ...descendantsOf(workerPid)]);
    const pids: AttributedPid[] = [];
    for (const a of apps) {
      if (!family.has(a.pid)) continue;
      pids.push({ pid: a.pid, mb: a.used_mb ?? 0, pgrp: pgrpOf.get(a.pid) ?? null });
    }
    if (pids.length) out.set(taskId, { mb: pids.reduce((s, p) => s + p.mb, 0), pids });
  }
  return out;
}
