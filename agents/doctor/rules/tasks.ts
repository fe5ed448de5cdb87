// Rules about the config and the task folders: what cannot be read, tasks of no batch, one
// task in two folders, and processing tasks whose agent is gone.
import { type Finding, folderRel, judgeClaim, lostReason, returnLostTask } from '../findings.ts';
import type { MountView } from './view.ts';

/** No config.json, or one that does not parse: agent and signal checks are skipped. */
export function configProblem({ snap }: MountView): Finding[] {
  if (snap.config) return [];
  const missing = snap.configProblem === null;
  return [{
    kind: missing ? 'NO_CONFIG' : 'BAD_CONFIG',
    subject: 'config.json',
    problem: missing ? 'no config file; agent, heartbeat and signal checks were skipped' : `${snap.configProblem}; agent, heartbeat and signal checks were skipped`,
    action: missing ? 'nothing: npm run rig writes a default one' : 'nothing: fix the field named above',
    severity: 'manual',
    repair: null,
  }];
}

/** Unreadable task files and files that are not task files, in the order they were listed. */
export function unreadableTaskFiles({ snap }: MountView): Finding[] {
  return snap.taskFiles.flatMap((f): Finding[] => {
    if (f.id === null) {
      const reason = f.problem ?? `not a task file (expected <task id>.json)`;
      return [{
        kind: 'FOREIGN_FILE', subject: f.rel, problem: reason, action: 'move it to quarantine/',
        severity: 'repair', repair: { kind: 'quarantine_file', folder: f.folder, name: f.name, reason },
      }];
    }
    if (f.task) return [];
    return [{
      kind: 'UNREADABLE_TASK', subject: f.rel, problem: f.problem ?? 'unreadable', action: 'move it to quarantine/ with the reason',
      severity: 'repair', repair: { kind: 'quarantine_unreadable', folder: f.folder, id: f.id },
    }];
  });
}

/** Tasks of a batch with no record (view.ts orphanFiles says which). */
export function orphanTasks({ orphanFiles }: MountView): Finding[] {
  return orphanFiles.map((f): Finding => {
    const reason = `batch ${f.task!.batch} has no record in brain/batches/`;
    return {
      kind: 'ORPHAN_TASK', subject: f.rel, problem: reason, action: 'move it to quarantine/',
      severity: 'repair', repair: { kind: 'quarantine_file', folder: f.folder, name: f.name, reason },
    };
  });
}

/** One task in two folders: keep the most advanced copy. */
export function duplicateTasks({ duplicates }: MountView): Finding[] {
  return duplicates.map(({ id, folders, keep, drop }): Finding => ({
    kind: 'DUPLICATE_TASK', subject: id,
    problem: `in ${folders.map(folderRel).join(' and ')}`,
    action: `keep ${folderRel(keep)}/${id}.json (the most advanced), move ${drop.map((d) => `${folderRel(d)}/${id}.json`).join(' and ')} to quarantine/`,
    severity: 'repair', repair: { kind: 'quarantine_duplicates', id, keep, drop },
  }));
}

/** Processing tasks whose agent is gone (judgeClaim); needs the config to know the agents. */
export function lostTasks({ snap, orphans, shadowed }: MountView): Finding[] {
  const config = snap.config;
  if (!config) return [];
  return snap.taskFiles.flatMap((f): Finding[] => {
    const t = f.task;
    if (!t || f.folder !== 'processing' || orphans.has(t.id) || shadowed.has(`processing/${t.id}`)) return [];
    const v = judgeClaim(t, snap.agents, config, snap.now);
    if (!v) return [];
    const next = returnLostTask(t, lostReason(v), snap.now);
    const who = v.agent ? `claimed by ${v.agent} (attempt ${t.attempt})` : `claimed (attempt ${t.attempt})`;
    const action = next.task === t
      ? `move it to ${folderRel(next.to)}/ as its result says`
      : `record attempt ${next.task.attempt} as lost (infra) and move it to ${folderRel('failed')}/ so the brain retries it`;
    return [{
      kind: 'LOST_TASK', subject: f.rel, problem: `${who}, but ${v.why}`, action, severity: 'repair',
      repair: { kind: 'return_lost', id: t.id, expectAttempt: t.attempt, expectClaimedBy: t.claimed_by, reason: lostReason(v) },
    }];
  });
}
