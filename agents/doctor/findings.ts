// The doctor's vocabulary: what a finding is, the repair --repair would apply (repair.ts),
// how findings print and count, and the judgement of a processing task's claim. The rules
// that produce findings from a snapshot of the mount (snapshot.ts, read by inspect.ts) are
// in rules/, run in order by findProblems.ts. Pure: no I/O, the time comes in the snapshot.
//
// Severity decides the exit code: 'repair' and 'manual' findings are problems (exit 1);
// 'manual' ones are left to a person (or to the brain); 'info' lines are printed only.
import { relative } from 'node:path';
import type { BatchState, TaskCounts } from '../core/batch.ts';
import type { Config } from '../core/config.ts';
import { type TaskFolder, mountPaths } from '../core/paths.ts';
import { type Task, holdsOpenClaim } from '../core/task.ts';
import { closeAttempt, lostResult } from '../core/attempt.ts';
import type { TaskView } from '../brain/decide.ts';
import { isoTime } from '../core/clock.ts';
import type { AgentView, TaskFileView } from './snapshot.ts';

export type { AgentView, BatchRecordView, LockView, MountFile, MountSnapshot, TaskFileView } from './snapshot.ts';

/** A leftover (temporary file, stale approval) must be at least this old, in ms: 10 minutes. */
export const LEFTOVER_AGE_MS = 10 * 60 * 1000;
/** Tasks of a batch with no record are orphans only after this long, in ms: the brain writes a batch's tasks just before its record. */
export const ORPHAN_GRACE_MS = 10 * 60 * 1000;
/** A lock not refreshed for this long is abandoned, in ms: holders refresh every 5-10 s and take over after 30-300 s. */
export const LOCK_STALE_MS = 10 * 60 * 1000;

export type FindingKind =
  | 'NO_CONFIG'
  | 'BAD_CONFIG'
  | 'UNREADABLE_TASK'
  | 'UNREADABLE_FILE'
  | 'FOREIGN_FILE'
  | 'DUPLICATE_TASK'
  | 'LOST_TASK'
  | 'ORPHAN_TASK'
  | 'BAD_BATCH_RECORD'
  | 'BATCH_NOT_FINISHED'
  | 'BATCH_WRONG_STATE'
  | 'ACTIVE_WITHOUT_RECORD'
  | 'FINAL_BATCH_ACTIVE'
  | 'TEMP_FILE'
  | 'STRAY_SIGNAL'
  | 'STALE_APPROVAL'
  | 'STALE_LOCK'
  | 'LATE_RESULT';

/** repair: --repair fixes it. manual: left to a person or the brain (still a problem). info: printed only. */
export type Severity = 'repair' | 'manual' | 'info';

export type Repair =
  | { kind: 'quarantine_duplicates'; id: string; keep: TaskFolder; drop: TaskFolder[] }
  | { kind: 'return_lost'; id: string; expectAttempt: number; expectClaimedBy: string | null; reason: string }
  | { kind: 'quarantine_file'; folder: TaskFolder; name: string; reason: string }
  | { kind: 'quarantine_unreadable'; folder: TaskFolder; id: string }
  | { kind: 'quarantine_other'; rel: string; where: string; reason: string }
  | { kind: 'set_batch_failed'; batch: string; failed: string[]; counts: TaskCounts }
  | { kind: 'drop_active'; batch: string }
  | { kind: 'archive_and_drop'; batch: string; tasks: Array<{ folder: 'complete' | 'failed'; id: string }> }
  | { kind: 'delete_temp'; rel: string }
  | { kind: 'delete_file'; rel: string }
  | { kind: 'remove_lock'; rel: string };

export interface Finding {
  kind: FindingKind;
  /** A path relative to the mount, or an id (task, batch). */
  subject: string;
  /** What is wrong. */
  problem: string;
  /** What --repair does, in words ("nothing: ..." when it does nothing). */
  action: string;
  severity: Severity;
  repair: Repair | null;
}

// ---- helpers ----

/** Batch states the brain has finished with. */
export const FINAL_STATES: ReadonlySet<BatchState> = new Set(['complete', 'failed', 'cancelled']);
/** How far along a task is: the copy to keep when one task is in two folders. */
export const RANK: Record<TaskFolder, number> = { private: 0, queue: 1, processing: 2, failed: 3, complete: 4 };
/** Retry caps without a config file: the config's defaults. */
export { DEFAULT_CONFIG } from '../core/config.ts';
const LAYOUT = mountPaths('/');

/** The folder as a person sees it on the mount: tasks/queue, brain/private_tasks. */
export function folderRel(folder: TaskFolder): string {
  return relative(LAYOUT.root, LAYOUT.folders[folder]);
}

export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 120) return `${m} min`;
  return `${Math.round(m / 60)} h`;
}

/** One line per finding: `KIND subject: problem → action`. */
export function formatFinding(f: Finding): string {
  return `${f.kind} ${f.subject}: ${f.problem} → ${f.action}`;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The readable copy of every task id, the most advanced one when a task is in two folders. */
export function liveTasks(files: readonly TaskFileView[]): Map<string, TaskView> {
  const map = new Map<string, TaskView>();
  for (const f of files) {
    if (!f.task) continue;
    const prev = map.get(f.task.id);
    if (!prev || RANK[f.folder] > RANK[prev.folder]) map.set(f.task.id, { folder: f.folder, task: f.task });
  }
  return map;
}

// ---- lost tasks ----

/** Why a processing task's claimant is gone; null while some agent holds it. */
export interface LostVerdict {
  /** The agent named by the claim; null when no agent recorded the claim. */
  agent: string | null;
  why: string;
}

export function judgeClaim(task: Task, agents: readonly AgentView[], config: Config, now: number): LostVerdict | null {
  // Whoever runs it lists it: a live agent whose heartbeat names the task holds it, whatever claimed_by says.
  const staleMs = config.timeouts.heartbeat_stale_s * 1000;
  for (const a of agents) {
    const hb = a.heartbeat;
    if (!hb || !hb.active_tasks.some((t) => t.task_id === task.id)) continue;
    const age = now - Date.parse(hb.last_updated);
    if (!(a.pidAlive === false && age > staleMs)) return null;
  }
  // The agent writes claimed_by and the new attempt right after its claiming rename, and
  // records the attempt when it finishes: a claim whose attempt is already recorded (or 0)
  // was never written by its claimant, which then died before it could.
  if (!holdsOpenClaim(task)) {
    const r = task.result;
    if (r && r.attempt === task.attempt && task.attempt >= 1) {
      return { agent: task.claimed_by, why: `attempt ${task.attempt} finished (${r.outcome}) and the task was never moved out of processing` };
    }
    return { agent: null, why: 'no agent recorded its claim' };
  }
  const name = task.claimed_by;
  if (!name) return { agent: null, why: 'no agent recorded its claim' };
  const agent = agents.find((a) => a.gpu.name === name);
  if (!agent) return { agent: name, why: `${name} is not an agent in config.json` };
  const hb = agent.heartbeat;
  if (!hb) return { agent: name, why: `no heartbeat at ${agent.heartbeatRel}` };
  const updated = Date.parse(hb.last_updated);
  const age = now - updated;
  if (agent.pidAlive === false && age > staleMs) {
    return { agent: name, why: `its pid ${hb.pid} is not running and its heartbeat is ${formatAge(age)} old (limit ${config.timeouts.heartbeat_stale_s} s)` };
  }
  // The heartbeat is written right after the claim: one older than the claim may not list it yet.
  const claimed = task.claimed_at ? Date.parse(task.claimed_at) : NaN;
  if (!(updated > claimed) && !(age > staleMs)) return null;
  const stopping = hb.state === 'stopping' || hb.stopping;
  return { agent: name, why: stopping ? `it stopped (heartbeat state stopping) without the task` : `its heartbeat does not list the task` };
}

/**
 * What the doctor writes into a lost task before moving it: the agent's own shape (see
 * gpu/attemptResults.ts and gpu/orphans.ts). A task whose attempt already has its result
 * only moves on, to where that result sends it.
 */
export function returnLostTask(task: Task, reason: string, now: number): { task: Task; to: 'complete' | 'failed' } {
  const r = task.result;
  if (!holdsOpenClaim(task) && r && r.attempt === task.attempt && task.attempt >= 1) {
    return { task, to: r.outcome === 'success' ? 'complete' : 'failed' };
  }
  const recorded = holdsOpenClaim(task);
  const n = recorded ? task.attempt : task.attempt + 1;
  const finished = isoTime(now);
  const claimedAt = recorded && task.claimed_at ? task.claimed_at : finished;
  const result = lostResult(task, n, reason, claimedAt, finished);
  const agent = recorded ? (task.claimed_by ?? 'unknown') : 'unknown';
  return { task: closeAttempt(task, result, { agent, claimedAt }), to: 'failed' };
}

export function lostReason(v: LostVerdict): string {
  return v.agent ? `found by doctor: agent ${v.agent} gone (${v.why})` : `found by doctor: ${v.why}`;
}

/** Problems (repair + manual) and informational lines. */
export function countFindings(findings: readonly Finding[]): { problems: number; repairable: number; manual: number; info: number } {
  const n = (s: Severity) => findings.filter((f) => f.severity === s).length;
  return { problems: n('repair') + n('manual'), repairable: n('repair'), manual: n('manual'), info: n('info') };
}

/** The closing count line of a report. */
export function formatCount(findings: readonly Finding[]): string {
  const c = countFindings(findings);
  const info = c.info ? `, ${c.info} informational` : '';
  if (c.problems === 0) return `doctor: no problems found${info}`;
  const parts = [c.repairable ? `${c.repairable} --repair can fix` : '', c.manual ? `${c.manual} for a person` : ''].filter(Boolean);
  return `doctor: ${plural(c.problems, 'problem')} found (${parts.join(', ')})${info}`;
}

