// The doctor's judgement: from one snapshot of the mount (read by inspect.ts) to its
// findings, each rule of rules/ in turn. The order of RULES is the order of the report.
import type { Finding } from './findings.ts';
import type { MountSnapshot } from './snapshot.ts';
import { activeWithoutRecord, batchRecords } from './rules/batches.ts';
import {
  lateResults, oldTempFiles, staleApprovals, staleLocks, straySignals, unreadableEscalations, unreadableOwnedFiles,
} from './rules/leftovers.ts';
import { configProblem, duplicateTasks, lostTasks, orphanTasks, unreadableTaskFiles } from './rules/tasks.ts';
import { type MountView, viewMount } from './rules/view.ts';

export type Rule = (view: MountView) => Finding[];

export const RULES: readonly Rule[] = [
  configProblem,
  unreadableTaskFiles,
  orphanTasks,
  duplicateTasks,
  lostTasks,
  batchRecords,
  activeWithoutRecord,
  unreadableOwnedFiles,
  unreadableEscalations,
  oldTempFiles,
  straySignals,
  staleApprovals,
  staleLocks,
  lateResults,
];

export function findProblems(snap: MountSnapshot): Finding[] {
  const view = viewMount(snap);
  return RULES.flatMap((rule) => rule(view));
}
