// What the brain tells people and planners. Events go to outbox/ (core/outbox.ts) for
// `forge forward`; a task that gave up and a refused submission also get an escalation record
// in escalations/ that holds everything a planner (a person, or an LLM on the Pi) needs to act
// without the rig: the command, every attempt with its exit code, the end of stdout and
// stderr, and the exact command or file that answers it.
//
// Not brain/escalations/: that folder holds the brain's own steps with a stuck task (abort,
// kill, manual; core/stuckRecords.ts), read back by the brain and doctor. These records are
// written for readers outside the rig, so they live apart under escalations/tasks/ and
// escalations/plans/, and nothing of the brain reads them back.
import { mkdir } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { writeJsonAtomic } from '../core/atomic.ts';
import { isoTime } from '../core/clock.ts';
import { errorMessage } from '../core/errors.ts';
import { readSubmission } from '../core/inbox.ts';
import { type LogTail, attemptLogs } from '../core/logTail.ts';
import { type EventInput, compactTime, emitEvent, makeEvent } from '../core/outbox.ts';
import type { BatchRecord } from '../core/batch.ts';
import { type MountPaths, childPath } from '../core/paths.ts';
import type { Task } from '../core/task.ts';
import type { BrainIndex } from './brainIndex.ts';

/** Each log tail in a record: the last lines of at most this many bytes (a record stays small enough to paste into a prompt). */
export const ESCALATION_TAIL_BYTES = 4096;
const ESCALATION_TAIL_LINES = 60;

export interface Answer {
  /** What the answer does. */
  means: string;
  /** A forge command that gives it, on any host with the mount. */
  command: string;
  /** Or the file to create by hand (relative to the mount), e.g. from the Pi without Node. */
  file: string | null;
}

interface Tail {
  path: string;
  /** The last lines, joined; null when the log cannot be read (problem says why). */
  tail: string | null;
  problem: string | null;
}

function tailOfLog(t: LogTail): Tail {
  return { path: t.path, tail: t.lines === null ? null : t.lines.join('\n'), problem: t.problem };
}

/** Pure: the ways a planner answers a task that gave up. */
export function taskAnswers(t: Pick<Task, 'id' | 'batch' | 'plan'>): Answer[] {
  return [
    { means: 'give the task fresh attempts as it is (the failure was passing)', command: `forge retry ${t.id}`, file: `control/retry/${t.id}` },
    { means: 'give every failed task of the batch fresh attempts', command: `forge retry ${t.batch}`, file: `control/retry/${t.batch}` },
    { means: 'stop the batch: nothing of it starts again', command: `forge cancel ${t.batch}`, file: `control/cancel/${t.batch}` },
    { means: `fix plans/${t.plan}/plan.md (or its scripts) and submit it again as a new batch`, command: `forge submit ${t.plan}`, file: null },
  ];
}

/** Pure: the record of a task that used its attempts, from the task file and its logs' tails (in attempt order). */
export function taskEscalation(t: Task, reason: string, tails: Array<{ stdout: LogTail; stderr: LogTail }>, now: number) {
  return {
    v: 1 as const,
    kind: 'task_gave_up' as const,
    written_at: isoTime(now),
    reason,
    plan: t.plan,
    batch: t.batch,
    batch_path: t.batch_path,
    task: {
      id: t.id, name: t.name, type: t.type, task_class: t.task_class,
      command: t.command, argv: t.argv, cwd: t.cwd, timeout_s: t.timeout_s, max_attempts: t.max_attempts,
      depends_on: t.depends_on,
    },
    attempts: t.attempts.map((a, i) => ({
      attempt: a.attempt, agent: a.agent, outcome: a.outcome, failure_kind: a.failure_kind, exit_code: a.exit_code,
      reason: a.reason, claimed_at: a.claimed_at, finished_at: a.finished_at,
      stdout: tailOfLog(tails[i]!.stdout), stderr: tailOfLog(tails[i]!.stderr),
    })),
    answers: taskAnswers(t),
  };
}
export type TaskEscalation = ReturnType<typeof taskEscalation>;

/** Pure: the record of a refused submission. */
export function planEscalation(o: { submission: string; plan: string | null; problems: string[]; now: number; mountRel: (p: string) => string }) {
  return {
    v: 1 as const,
    kind: 'plan_rejected' as const,
    written_at: isoTime(o.now),
    plan: o.plan,
    /** The refused submission, kept as it was (relative to the mount). */
    submission: o.mountRel(o.submission),
    problems: o.problems,
    answers: [
      {
        means: o.plan ? `fix plans/${o.plan}/plan.md as the problems say, then submit it again` : 'fix the submission as the problems say, then submit it again',
        command: `forge submit ${o.plan ?? 'PLAN'}`,
        file: 'brain/inbox/<name>.json ({"plan": "NAME", "config": {...}})',
      },
    ],
  };
}

export function taskEscalationPath(paths: MountPaths, taskId: string): string {
  return childPath(join(paths.escalations, 'tasks'), `${taskId}.json`, 'task id');
}

/** Writes escalations/tasks/<task id>.json (whole; a later give-up of the same task replaces it). Returns it relative to the mount. */
export async function writeTaskEscalation(paths: MountPaths, t: Task, reason: string, now: number): Promise<string> {
  const tails = await Promise.all(t.attempts.map((a) => attemptLogs(t, a, ESCALATION_TAIL_LINES, ESCALATION_TAIL_BYTES)));
  const file = taskEscalationPath(paths, t.id);
  await mkdir(join(paths.escalations, 'tasks'), { recursive: true });
  await writeJsonAtomic(file, taskEscalation(t, reason, tails, now));
  return relative(paths.root, file);
}

/** Writes escalations/plans/<submission name>.json for a submission moved to inbox/rejected/ as `rejected`. */
export async function writePlanEscalation(paths: MountPaths, rejected: string, problems: string[], now: number): Promise<string> {
  const read = await readSubmission(rejected, {});
  const plan = read.ok ? read.sub.plan : null;
  const name = basename(rejected).replace(/\.json$/, '');
  const file = childPath(join(paths.escalations, 'plans'), `${name}.json`, 'submission name');
  await mkdir(join(paths.escalations, 'plans'), { recursive: true });
  await writeJsonAtomic(file, planEscalation({ submission: rejected, plan, problems, now, mountRel: (p) => relative(paths.root, p) }));
  return relative(paths.root, file);
}

/**
 * Writes an outbox event; a failure to write is handed to `onError` (the caller's decision
 * log), never thrown: telling people must not stop the brain.
 */
export async function announce(paths: MountPaths, e: EventInput, onError: (problem: string) => Promise<unknown>): Promise<void> {
  try {
    await emitEvent(paths, makeEvent(e));
  } catch (err) {
    await onError(`outbox event ${e.type} (${e.key.join('.')}): ${errorMessage(err)}`).catch(() => {});
  }
}

// The brain's calls: one line each where the brain acts (applyAction.ts, intake.ts).

type BrainSide = Pick<BrainIndex, 'paths' | 'clock' | 'decide' | 'view'>;

const outboxFailed = (ix: Pick<BrainIndex, 'decide'>) => (problem: string) => ix.decide({ what: 'OUTBOX_FAILED', reason: problem });

/** A task used its attempts: its escalation record, then the task_gave_up event naming it. */
export async function escalateGiveUp(ix: BrainSide, id: string, reason: string): Promise<void> {
  const t = ix.view(id).task;
  let rel: string | null = null;
  try {
    rel = await writeTaskEscalation(ix.paths, t, reason, ix.clock.now());
    await ix.decide({ what: 'ESCALATE', task: id, reason: `${rel}: its command, ${t.attempts.length} attempt(s) and their output; answer with forge retry ${id}, forge cancel ${t.batch}, or a fixed plan` });
  } catch (err) {
    await ix.decide({ what: 'OUTBOX_FAILED', task: id, reason: `escalation record: ${errorMessage(err)}` });
  }
  await announce(ix.paths, {
    type: 'task_gave_up', key: [id, `a${t.attempts.length}`], time: ix.clock.now(), batch: t.batch, task: id, plan: t.plan,
    message: `task ${t.name} of batch ${t.batch} gave up: ${reason}`, escalation: rel,
  }, outboxFailed(ix));
}

const FINISH_TYPES = { complete: 'batch_finished', failed: 'batch_failed', cancelled: 'batch_cancelled' } as const;

/** A batch ended: batch_finished, batch_failed or batch_cancelled, keyed by its finish time (a batch retried by hand may end again). */
export async function announceFinish(ix: Pick<BrainIndex, 'paths' | 'clock' | 'decide'>, rec: BatchRecord): Promise<void> {
  if (rec.state !== 'complete' && rec.state !== 'failed' && rec.state !== 'cancelled') return;
  const c = rec.final_counts;
  const counts = c ? `: ${c.complete} complete, ${c.skipped ? `${c.skipped} skipped (a gate said no), ` : ''}${c.failed} failed or not run, of ${c.total}` : '';
  const failed = rec.failed_tasks.length ? `; gave up: ${rec.failed_tasks.slice(0, 5).join(', ')}${rec.failed_tasks.length > 5 ? ', ...' : ''}` : '';
  const at = rec.finished_at ? Date.parse(rec.finished_at) : ix.clock.now();
  await announce(ix.paths, {
    type: FINISH_TYPES[rec.state], key: [rec.id, compactTime(at)], time: at, batch: rec.id, plan: rec.plan,
    message: `batch ${rec.id} (plan ${rec.plan}) ${rec.state}${counts}${failed}`,
  }, outboxFailed(ix));
}

/** A task parked until a person approves it. */
export async function announceApproval(ix: Pick<BrainIndex, 'paths' | 'clock' | 'decide'>, t: Task, reason: string): Promise<void> {
  await announce(ix.paths, {
    type: 'task_needs_approval', key: [t.id, `a${t.attempt}`], time: ix.clock.now(), batch: t.batch, task: t.id, plan: t.plan,
    message: `task ${t.name} of batch ${t.batch} waits for approval (${reason}); approve with: touch approvals/${t.id}`,
  }, outboxFailed(ix));
}

/** A submission refused: its escalation record with every problem, then plan_rejected. */
export async function escalateRejection(ix: Pick<BrainIndex, 'paths' | 'clock' | 'decide'>, rejected: string, problems: string[]): Promise<void> {
  let rel: string | null = null;
  try {
    rel = await writePlanEscalation(ix.paths, rejected, problems, ix.clock.now());
  } catch (err) {
    await ix.decide({ what: 'OUTBOX_FAILED', reason: `escalation record of ${basename(rejected)}: ${errorMessage(err)}` });
  }
  await announce(ix.paths, {
    type: 'plan_rejected', key: [basename(rejected).replace(/\.json$/, '')], time: ix.clock.now(),
    message: `submission ${basename(rejected)} refused: ${problems[0] ?? 'no reason given'}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`, escalation: rel,
  }, outboxFailed(ix));
}
