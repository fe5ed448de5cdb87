// Rules about files other than tasks and batch records: unreadable files the rig owns,
// leftovers of writers and holders that are gone, and late results.
import { type Finding, LEFTOVER_AGE_MS, LOCK_STALE_MS, formatAge } from '../findings.ts';
import type { MountView } from './view.ts';

/** Files the rig owns and rewrites (brain/state.json, heartbeats): out of the way, their owner writes a fresh one. */
export function unreadableOwnedFiles({ snap }: MountView): Finding[] {
  const owned = [
    ...(snap.unreadable ?? []).map((u) => ({ ...u, owner: 'the brain writes it again from brain/batches/' })),
    ...snap.agents.flatMap((a) => (a.heartbeatProblem ? [{ rel: a.heartbeatRel, where: 'gpus', problem: a.heartbeatProblem, owner: `${a.gpu.name} writes a new one` }] : [])),
  ];
  return owned.map((u): Finding => ({
    kind: 'UNREADABLE_FILE', subject: u.rel, problem: u.problem, action: `move it to quarantine/ with the reason (${u.owner})`,
    severity: 'repair', repair: { kind: 'quarantine_other', rel: u.rel, where: u.where, reason: u.problem },
  }));
}

/** The brain skips an escalation record it cannot read and leaves it to the doctor. */
export function unreadableEscalations({ snap }: MountView): Finding[] {
  return snap.escalations.flatMap((e): Finding[] => (!e.problem ? [] : [{
    kind: 'UNREADABLE_FILE', subject: e.rel, problem: e.problem, action: 'move it to quarantine/ with the reason',
    severity: 'repair', repair: { kind: 'quarantine_other', rel: e.rel, where: 'escalations', reason: e.problem },
  }]));
}

/** Temporary files of writes that never finished; young ones may still be renamed. */
export function oldTempFiles({ snap }: MountView): Finding[] {
  return snap.tempFiles.filter((f) => f.ageMs >= LEFTOVER_AGE_MS).map((f): Finding => ({
    kind: 'TEMP_FILE', subject: f.rel, problem: `temporary file of a write that never finished, last written ${formatAge(f.ageMs)} ago`,
    action: 'delete it', severity: 'repair', repair: { kind: 'delete_temp', rel: f.rel },
  }));
}

/** Files in signals/ no agent reads; needs the config to know the agents. */
export function straySignals({ snap }: MountView): Finding[] {
  if (!snap.config) return [];
  const names = new Set(snap.config.gpus.map((g) => g.name));
  return snap.signals.flatMap((f): Finding[] => {
    const m = /^(.+)\.(stop|abort|kill)$/.exec(f.name);
    const problem = !m
      ? 'not a signal file (expected <agent>.stop, <agent>.abort or <agent>.kill)'
      : names.has(m[1]!)
        ? null
        : `no agent ${m[1]} in config.json (agents: ${[...names].join(', ')})`;
    if (!problem) return [];
    return [{ kind: 'STRAY_SIGNAL', subject: f.rel, problem, action: 'delete it', severity: 'repair', repair: { kind: 'delete_file', rel: f.rel } }];
  });
}

/** Old approvals of tasks no longer in any task folder. */
export function staleApprovals({ snap }: MountView): Finding[] {
  const anyTask = new Set(snap.taskFiles.flatMap((f) => (f.id ? [f.id] : [])));
  return snap.approvals.filter((f) => !anyTask.has(f.name) && f.ageMs >= LEFTOVER_AGE_MS).map((f): Finding => ({
    kind: 'STALE_APPROVAL', subject: f.rel, problem: `no task ${f.name} in the task folders (finished and archived, or never submitted)`,
    action: 'delete it', severity: 'repair', repair: { kind: 'delete_file', rel: f.rel },
  }));
}

/** Locks nobody refreshed for long, unless their owner is known to run. */
export function staleLocks({ snap }: MountView): Finding[] {
  return snap.locks.filter((l) => l.ageMs >= LOCK_STALE_MS && l.ownerAlive !== true).map((l): Finding => ({
    kind: 'STALE_LOCK', subject: l.rel, problem: `not refreshed for ${formatAge(l.ageMs)} (a holder refreshes it every few seconds)`,
    action: 'remove it', severity: 'repair', repair: { kind: 'remove_lock', rel: l.rel },
  }));
}

/** Results that came after their claim had passed on: kept for a person to read. */
export function lateResults({ snap }: MountView): Finding[] {
  return snap.lateResults.map((f): Finding => ({
    kind: 'LATE_RESULT', subject: f.rel, problem: 'a result that arrived after its claim had passed on (kept, never applied)',
    action: 'nothing (informational: read it, then delete it by hand)', severity: 'info', repair: null,
  }));
}
