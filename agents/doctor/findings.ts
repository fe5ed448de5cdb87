// The doctor's judgement: from one snapshot of the mount (read by inspect.ts) to a list of
// findings, each with the repair --repair would apply (repair.ts). Pure: no I/O, the time
// comes in the snapshot, so every rule is tested from a constructed snapshot.
//
// Severity decides the exit code: 'repair' and 'manual' findings are problems (exit 1);
// 'manual' ones are left to a person (or to the brain); 'info' lines are printed only.
import { relative } from 'node:path';
import { type BatchRecord, type BatchState, type BrainState, type TaskCounts } from '../core/batch.ts';
import { Config, type GpuConfig, defaultGpus } from '../core/config.ts';
import type { Heartbeat } from '../core/heartbeat.ts';
import { type TaskFolder, mountPaths } from '../core/paths.ts';
import { type AttemptRecord, type Task, type WorkerResult, holdsOpenClaim } from '../core/task.ts';
import { type TaskView, countTasks, isTerminal } from '../brain/decide.ts';
import { isoTime } from '../core/clock.ts';

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

// ---- the snapshot ----

export interface TaskFileView {
  folder: TaskFolder;
  /** File name inside the folder. */
  name: string;
  /** Path relative to the mount root, e.g. tasks/queue/b1__a.json. */
  rel: string;
  /** The id the name gives (<id>.json); null for a name that is not a task file's. */
  id: string | null;
  /** The parsed task; null when the file is unreadable (see problem) or foreign (id null). */
  task: Task | null;
  problem: string | null;
}

export interface BatchRecordView {
  id: string;
  rel: string;
  /** null when the file exists but is not a valid record (see problem). */
  record: BatchRecord | null;
  problem: string | null;
}

export interface AgentView {
  gpu: GpuConfig;
  /** gpus/gpu_<id>/heartbeat.json, relative to the mount. */
  heartbeatRel: string;
  /** null when absent or unreadable. */
  heartbeat: Heartbeat | null;
  /** Whether the heartbeat's pid runs on the doctor's host; null without a heartbeat. */
  pidAlive: boolean | null;
  /** Why the heartbeat file could not be used (a directory, garbage); null or absent when it reads well or is missing. */
  heartbeatProblem?: string | null;
}

export interface MountFile {
  /** Relative to the mount root. */
  rel: string;
  name: string;
  /** How long ago it was last modified, ms, on the mount's own clock (doctor/mountClock.ts). */
  ageMs: number;
}

export interface LockView {
  rel: string;
  /** How long ago its holder last refreshed it (for the brain's lock: renewed its lease), ms, on the mount's own clock. */
  ageMs: number;
  /** For the brain lock: whether its owner pid runs on this host; null when unknown (another host, no owner file). */
  ownerAlive: boolean | null;
}

export interface MountSnapshot {
  now: number;
  /** null without a valid config.json (see configProblem): agent and signal checks are skipped. */
  config: Config | null;
  configProblem: string | null;
  /** Whether a brain holds brain/brain.lock, and why the doctor thinks so. */
  brain: { running: boolean; why: string };
  state: BrainState | null;
  batches: BatchRecordView[];
  /** Every entry of the five task folders except temporary files and folders. */
  taskFiles: TaskFileView[];
  /** Tasks in tasks/archive/<batch>/, for batch records in a final state. */
  archived: Record<string, Task[]>;
  /** Batch ids of submissions in brain/inbox/ the brain has not taken yet. */
  pendingSubmissions: string[];
  agents: AgentView[];
  /** Temporary files of writers in the rig's folders (all ages). */
  tempFiles: MountFile[];
  /** Every file in signals/ that is not a temporary. */
  signals: MountFile[];
  /** Every file in approvals/ that is not a temporary. */
  approvals: MountFile[];
  lateResults: MountFile[];
  locks: LockView[];
  /** The brain's escalation records (brain/escalations/*.json); problem set when one cannot be read. */
  escalations: Array<{ rel: string; name: string; problem: string | null }>;
  /** Other files the rig reads that cannot be used (brain/state.json), with the quarantine folder they would go to. */
  unreadable?: Array<{ rel: string; where: string; problem: string }>;
  /** Why file ages could not be judged on the mount's own clock (no probe file could be written), so were judged on this host's. */
  clockProblem?: string | null;
}

// ---- helpers ----

const FINAL_STATES: ReadonlySet<BatchState> = new Set(['complete', 'failed', 'cancelled']);
/** How far along a task is: the copy to keep when one task is in two folders. */
const RANK: Record<TaskFolder, number> = { private: 0, queue: 1, processing: 2, failed: 3, complete: 4 };
/** Retry caps without a config file: the config's defaults. */
const DEFAULT_CONFIG: Config = Config.parse({ gpus: defaultGpus(1) });
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

function plural(n: number, word: string): string {
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
 * gpu/agent.ts finish and reclaimOrphans). A task whose attempt already has its result
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
  const started = Date.parse(claimedAt);
  const result: WorkerResult = {
    task_id: task.id, attempt: n, outcome: 'lost', failure_kind: 'infra', exit_code: null, signal: null, reason,
    started_at: claimedAt, finished_at: finished, duration_ms: Number.isFinite(started) ? Math.max(0, now - started) : 0,
    stdout_path: null, stderr_path: null,
  };
  const record: AttemptRecord = {
    attempt: n, agent: recorded ? (task.claimed_by ?? 'unknown') : 'unknown', claimed_at: claimedAt, finished_at: finished,
    outcome: 'lost', failure_kind: 'infra', reason, exit_code: null, peak_vram_mb: null,
  };
  return {
    task: { ...task, attempt: n, result, finished_at: finished, attempts: [...task.attempts.filter((a) => a.attempt !== n), record] },
    to: 'failed',
  };
}

export function lostReason(v: LostVerdict): string {
  return v.agent ? `found by doctor: agent ${v.agent} gone (${v.why})` : `found by doctor: ${v.why}`;
}

// ---- the rules ----

export function findProblems(snap: MountSnapshot): Finding[] {
  const out: Finding[] = [];
  const config = snap.config ?? DEFAULT_CONFIG;
  const brainRunning = snap.brain.running;
  const whileBrainRuns = `nothing while the brain runs (${snap.brain.why}; it rewrites brain/state.json from memory): stop the rig, then run doctor --repair`;

  if (!snap.config) {
    const missing = snap.configProblem === null;
    out.push({
      kind: missing ? 'NO_CONFIG' : 'BAD_CONFIG',
      subject: 'config.json',
      problem: missing ? 'no config file; agent, heartbeat and signal checks were skipped' : `${snap.configProblem}; agent, heartbeat and signal checks were skipped`,
      action: missing ? 'nothing: npm run rig writes a default one' : 'nothing: fix the field named above',
      severity: 'manual',
      repair: null,
    });
  }

  // Unreadable and foreign files in the task folders.
  for (const f of snap.taskFiles) {
    if (f.id === null) {
      const reason = f.problem ?? `not a task file (expected <task id>.json)`;
      out.push({
        kind: 'FOREIGN_FILE', subject: f.rel, problem: reason, action: 'move it to quarantine/',
        severity: 'repair', repair: { kind: 'quarantine_file', folder: f.folder, name: f.name, reason },
      });
    } else if (!f.task) {
      out.push({
        kind: 'UNREADABLE_TASK', subject: f.rel, problem: f.problem ?? 'unreadable', action: 'move it to quarantine/ with the reason',
        severity: 'repair', repair: { kind: 'quarantine_unreadable', folder: f.folder, id: f.id },
      });
    }
  }

  const records = new Map(snap.batches.map((b) => [b.id, b]));
  const pending = new Set(snap.pendingSubmissions);
  const live = liveTasks(snap.taskFiles);

  // Orphans: tasks of a batch with no record file at all. A submission in the inbox makes
  // the brain write that record (again, after a crash), and a batch being submitted has its
  // tasks written just before its record: both are left alone.
  const orphans = new Set<string>();
  for (const f of snap.taskFiles) {
    const t = f.task;
    if (!t || records.has(t.batch) || pending.has(t.batch)) continue;
    const created = Date.parse(t.created_at);
    if (Number.isFinite(created) && snap.now - created < ORPHAN_GRACE_MS) continue;
    orphans.add(t.id);
    const reason = `batch ${t.batch} has no record in brain/batches/`;
    out.push({
      kind: 'ORPHAN_TASK', subject: f.rel, problem: reason, action: 'move it to quarantine/',
      severity: 'repair', repair: { kind: 'quarantine_file', folder: f.folder, name: f.name, reason },
    });
  }

  // One task in two folders.
  const copies = new Map<string, TaskFolder[]>();
  for (const f of snap.taskFiles) {
    if (!f.task || orphans.has(f.task.id)) continue;
    copies.set(f.task.id, [...(copies.get(f.task.id) ?? []), f.folder]);
  }
  const shadowed = new Set<string>();
  for (const [id, folders] of copies) {
    if (folders.length < 2) continue;
    const sorted = [...folders].sort((a, b) => RANK[b] - RANK[a]);
    const keep = sorted[0]!;
    const drop = sorted.slice(1);
    for (const d of drop) shadowed.add(`${d}/${id}`);
    out.push({
      kind: 'DUPLICATE_TASK', subject: id,
      problem: `in ${sorted.map(folderRel).join(' and ')}`,
      action: `keep ${folderRel(keep)}/${id}.json (the most advanced), move ${drop.map((d) => `${folderRel(d)}/${id}.json`).join(' and ')} to quarantine/`,
      severity: 'repair', repair: { kind: 'quarantine_duplicates', id, keep, drop },
    });
  }

  // Processing tasks whose agent is gone.
  if (snap.config) {
    for (const f of snap.taskFiles) {
      const t = f.task;
      if (!t || f.folder !== 'processing' || orphans.has(t.id) || shadowed.has(`processing/${t.id}`)) continue;
      const v = judgeClaim(t, snap.agents, snap.config, snap.now);
      if (!v) continue;
      const next = returnLostTask(t, lostReason(v), snap.now);
      const who = v.agent ? `claimed by ${v.agent} (attempt ${t.attempt})` : `claimed (attempt ${t.attempt})`;
      const action = next.task === t
        ? `move it to ${folderRel(next.to)}/ as its result says`
        : `record attempt ${next.task.attempt} as lost (infra) and move it to ${folderRel('failed')}/ so the brain retries it`;
      out.push({
        kind: 'LOST_TASK', subject: f.rel, problem: `${who}, but ${v.why}`, action, severity: 'repair',
        repair: { kind: 'return_lost', id: t.id, expectAttempt: t.attempt, expectClaimedBy: t.claimed_by, reason: lostReason(v) },
      });
    }
  }

  // Batch records against their tasks and brain/state.json. What the doctor chose:
  // - running/pending with every task terminal: the brain finishes it (summary, archive,
  //   state) on its next pass, so the doctor never finishes a batch itself; with no brain
  //   running that is a problem for a person (start the rig), with one it is only noted.
  // - complete although a task failed: the record becomes failed (brain-owned, but the brain
  //   keeps no finished batch in memory, so this write cannot race it).
  // - brain/state.json entries (final but still active, active without a record): changed
  //   only while no brain runs, because a running brain rewrites state.json from memory.
  const active = new Set(snap.state?.active_batches ?? []);
  for (const b of snap.batches) {
    if (!b.record) {
      out.push({
        kind: 'BAD_BATCH_RECORD', subject: b.rel, problem: b.problem ?? 'not a valid batch record',
        action: 'nothing: fix or remove it by hand (its tasks are not treated as orphans meanwhile)', severity: 'manual', repair: null,
      });
      continue;
    }
    const rec = b.record;
    if (rec.state === 'running' || rec.state === 'pending') {
      const views = rec.task_ids.map((id) => live.get(id));
      if (rec.task_ids.length > 0 && views.every((v) => v && isTerminal(v, config))) {
        out.push({
          kind: 'BATCH_NOT_FINISHED', subject: rec.id,
          problem: `record says ${rec.state} but ${rec.task_ids.length === 1 ? 'its only task is' : `all ${rec.task_ids.length} tasks are`} complete or failed for good`,
          action: brainRunning
            ? `nothing: the brain (${snap.brain.why}) finishes it on its next pass`
            : `nothing: the brain is not running (${snap.brain.why}); start the rig and the brain finishes it on its first pass`,
          severity: brainRunning ? 'info' : 'manual', repair: null,
        });
      }
    }
    if (rec.state === 'complete') {
      // After finishing, the brain archives a batch's tasks: judge those too (an archived task came from complete/ when it succeeded).
      const merged = new Map<string, TaskView>();
      for (const t of snap.archived[rec.id] ?? []) merged.set(t.id, { folder: t.result?.outcome === 'success' ? 'complete' : 'failed', task: t });
      for (const id of rec.task_ids) {
        const v = live.get(id);
        if (v) merged.set(id, v);
      }
      const failed = rec.task_ids.filter((id) => {
        const v = merged.get(id);
        return v && (v.folder === 'failed' || (v.folder === 'private' && v.task.result?.outcome === 'not_run'));
      });
      if (failed.length) {
        const named = failed.slice(0, 3).join(', ') + (failed.length > 3 ? ` and ${failed.length - 3} more` : '');
        out.push({
          kind: 'BATCH_WRONG_STATE', subject: rec.id,
          problem: `record says complete but ${plural(failed.length, 'task')} failed (${named})`,
          action: `set the record's state to failed`,
          severity: 'repair', repair: { kind: 'set_batch_failed', batch: rec.id, failed, counts: countTasks(rec, merged) },
        });
      }
    }
    if (FINAL_STATES.has(rec.state) && active.has(rec.id)) {
      const tasks = rec.task_ids.flatMap((id) => {
        const v = live.get(id);
        return v && (v.folder === 'complete' || v.folder === 'failed') ? [{ folder: v.folder, id }] : [];
      });
      const archive = tasks.length ? `move its ${plural(tasks.length, 'finished task')} to tasks/archive/${rec.id}/ and ` : '';
      out.push({
        kind: 'FINAL_BATCH_ACTIVE', subject: rec.id,
        problem: `record says ${rec.state} but brain/state.json still lists it as active (the brain stopped while archiving it)`,
        action: brainRunning ? whileBrainRuns : `${archive}remove it from active_batches`,
        severity: brainRunning ? 'manual' : 'repair',
        repair: brainRunning ? null : { kind: 'archive_and_drop', batch: rec.id, tasks },
      });
    }
  }
  for (const id of snap.state?.active_batches ?? []) {
    if (records.has(id)) continue;
    out.push({
      kind: 'ACTIVE_WITHOUT_RECORD', subject: id,
      problem: `brain/state.json lists it as active but brain/batches/${id}.json does not exist`,
      action: brainRunning ? whileBrainRuns : 'remove it from active_batches',
      severity: brainRunning ? 'manual' : 'repair',
      repair: brainRunning ? null : { kind: 'drop_active', batch: id },
    });
  }

  // Files the rig owns and rewrites (brain/state.json, heartbeats): out of the way, their owner writes a fresh one.
  const owned = [
    ...(snap.unreadable ?? []).map((u) => ({ ...u, owner: 'the brain writes it again from brain/batches/' })),
    ...snap.agents.flatMap((a) => (a.heartbeatProblem ? [{ rel: a.heartbeatRel, where: 'gpus', problem: a.heartbeatProblem, owner: `${a.gpu.name} writes a new one` }] : [])),
  ];
  for (const u of owned) {
    out.push({
      kind: 'UNREADABLE_FILE', subject: u.rel, problem: u.problem, action: `move it to quarantine/ with the reason (${u.owner})`,
      severity: 'repair', repair: { kind: 'quarantine_other', rel: u.rel, where: u.where, reason: u.problem },
    });
  }

  // The brain skips an escalation record it cannot read and leaves it to the doctor.
  for (const e of snap.escalations) {
    if (!e.problem) continue;
    out.push({
      kind: 'UNREADABLE_FILE', subject: e.rel, problem: e.problem, action: 'move it to quarantine/ with the reason',
      severity: 'repair', repair: { kind: 'quarantine_other', rel: e.rel, where: 'escalations', reason: e.problem },
    });
  }

  // Leftovers.
  for (const f of snap.tempFiles) {
    if (f.ageMs < LEFTOVER_AGE_MS) continue;
    out.push({
      kind: 'TEMP_FILE', subject: f.rel, problem: `temporary file of a write that never finished, last written ${formatAge(f.ageMs)} ago`,
      action: 'delete it', severity: 'repair', repair: { kind: 'delete_temp', rel: f.rel },
    });
  }
  if (snap.config) {
    const names = new Set(snap.config.gpus.map((g) => g.name));
    for (const f of snap.signals) {
      const m = /^(.+)\.(stop|abort|kill)$/.exec(f.name);
      const problem = !m
        ? 'not a signal file (expected <agent>.stop, <agent>.abort or <agent>.kill)'
        : names.has(m[1]!)
          ? null
          : `no agent ${m[1]} in config.json (agents: ${[...names].join(', ')})`;
      if (!problem) continue;
      out.push({ kind: 'STRAY_SIGNAL', subject: f.rel, problem, action: 'delete it', severity: 'repair', repair: { kind: 'delete_file', rel: f.rel } });
    }
  }
  const anyTask = new Set(snap.taskFiles.flatMap((f) => (f.id ? [f.id] : [])));
  for (const f of snap.approvals) {
    if (anyTask.has(f.name) || f.ageMs < LEFTOVER_AGE_MS) continue;
    out.push({
      kind: 'STALE_APPROVAL', subject: f.rel, problem: `no task ${f.name} in the task folders (finished and archived, or never submitted)`,
      action: 'delete it', severity: 'repair', repair: { kind: 'delete_file', rel: f.rel },
    });
  }
  for (const l of snap.locks) {
    if (l.ageMs < LOCK_STALE_MS || l.ownerAlive === true) continue;
    out.push({
      kind: 'STALE_LOCK', subject: l.rel, problem: `not refreshed for ${formatAge(l.ageMs)} (a holder refreshes it every few seconds)`,
      action: 'remove it', severity: 'repair', repair: { kind: 'remove_lock', rel: l.rel },
    });
  }
  for (const f of snap.lateResults) {
    out.push({
      kind: 'LATE_RESULT', subject: f.rel, problem: 'a result that arrived after its claim had passed on (kept, never applied)',
      action: 'nothing (informational: read it, then delete it by hand)', severity: 'info', repair: null,
    });
  }
  return out;
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

