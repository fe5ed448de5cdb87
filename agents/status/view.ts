// What a status screen shows, derived from a RigSnapshot: batches with their counts, what
// runs where, and why every other task waits. Pure: snapshot.now is "now". text.ts and
// watch.ts render it, json.ts turns it into status --json.
import { type BatchRecord, type BatchState, type TaskCounts, batchOfTaskId } from '../core/batch.ts';
import type { ActiveTask, Heartbeat } from '../core/heartbeat.ts';
import type { Task } from '../core/task.ts';
import { type BrainView, brainIsDown, judgeBrain } from './liveness.ts';
import type { RigSnapshot } from './snapshot.ts';
import { type LocatedTask, type WaitContext, explainFailure, explainWait, indexTasks } from './waitReason.ts';
import { type SkippedItem, skippedTasks } from './skipped.ts';
import { compareText } from '../core/textOrder.ts';

export interface BatchView {
  id: string;
  plan: string;
  state: BatchState;
  tasks: TaskCounts;
  /** false for tasks found in the folders whose batch has no record (yet). */
  has_record: boolean;
  /** Tasks that failed for good, and why, as the brain recorded them (the first 20). */
  failures: Array<{ task_id: string; reason: string }>;
}

export interface QueueCounts {
  queued: number;
  processing: number;
  complete: number;
  failed: number;
  /** Extra to the contract: tasks the brain still holds (brain/private_tasks). */
  waiting: number;
}

export interface WaitItem {
  task_id: string;
  batch: string;
  name: string;
  where: 'private' | 'queue' | 'failed';
  task_class: string;
  vram_estimate_mb: number;
  reason: string;
}

export interface FailedItem {
  task_id: string;
  batch: string;
  name: string;
  reason: string;
}

export interface RunningItem {
  task_id: string;
  name: string;
  task_class: string;
  vram_estimate_mb: number | null;
  peak_vram_mb: number | null;
  /** Seconds since the worker started (or the claim), null when unknown. */
  elapsed_s: number | null;
}

export interface StatusView {
  /** Whether a brain runs, as this look can tell (liveness.ts). */
  brain: BrainView;
  batches: BatchView[];
  queue: QueueCounts;
  /** Every task not running and not finished, with why: queued first, then held, then retries. */
  waiting: WaitItem[];
  failed_for_good: FailedItem[];
  /** Tasks not run because a gate before them said no (complete, not failed), with the gate's reason. */
  skipped: SkippedItem[];
  /** Running tasks per agent name: the processing folder, enriched by the heartbeat. */
  running: Map<string, RunningItem[]>;
  /** Tasks in processing/ whose agent is not alive (or unknown); empty without a config. */
  orphaned: Array<{ task_id: string; claimed_by: string | null; elapsed_s: number | null }>;
}

/** Batch states past running: shown as finished. */
export const FINISHED: ReadonlySet<string> = new Set(['complete', 'failed', 'cancelled']);

export function summarize(snap: RigSnapshot): StatusView {
  const byId = indexTasks(snap.tasks);
  const records = new Map(snap.batches.map((b) => [b.id, b]));
  const brain = judgeBrain(snap.brain_lease);
  const { waiting, failedForGood } = waitingTasks(snap, byId, records, brainIsDown(brain));
  const { running, orphaned } = runningTasks(snap, byId);
  return {
    brain,
    batches: batchViews(snap, byId, records),
    queue: {
      queued: snap.tasks.queue.length,
      processing: snap.tasks.processing.length,
      complete: snap.tasks.complete.length,
      failed: snap.tasks.failed.length,
      waiting: snap.tasks.private.length,
    },
    waiting,
    failed_for_good: failedForGood,
    skipped: skippedTasks(snap.batches, byId),
    running,
    orphaned,
  };
}

/** Every batch by id: the recorded ones, and those of tasks whose batch has no record. */
function batchViews(snap: RigSnapshot, byId: ReadonlyMap<string, LocatedTask>, records: ReadonlyMap<string, BatchRecord>): BatchView[] {
  const batches: BatchView[] = snap.batches.map((rec) => {
    const tasks = FINISHED.has(rec.state) && rec.final_counts ? rec.final_counts : withWindows(rec, countFromFolders(rec.task_ids, byId), byId);
    const failures = Object.entries(rec.failure_reasons).map(([task_id, reason]) => ({ task_id, reason }));
    return { id: rec.id, plan: rec.plan, state: rec.state, tasks, has_record: true, failures };
  });
  // Tasks whose batch has no record (yet, or any more) still show, grouped by their batch id.
  const orphanBatches = new Map<string, { plan: string; ids: string[] }>();
  for (const [id, { task }] of byId) {
    const b = batchOfTaskId(id);
    if (records.has(b)) continue;
    const entry = orphanBatches.get(b) ?? { plan: task.plan, ids: [] };
    entry.ids.push(id);
    orphanBatches.set(b, entry);
  }
  for (const [id, { plan, ids }] of orphanBatches) {
    const tasks = countFromFolders(ids, byId);
    const state: BatchState = tasks.waiting + tasks.queued + tasks.processing > 0 ? 'running' : tasks.failed > 0 ? 'failed' : 'complete';
    batches.push({ id, plan, state, tasks, has_record: false, failures: [] });
  }
  return batches.sort((a, b) => compareText(a.id, b.id));
}

/** Tasks not running, with why: queued, then held by the brain, then failed ones to retry; and those failed for good. */
function waitingTasks(
  snap: RigSnapshot, byId: Map<string, LocatedTask>, records: ReadonlyMap<string, BatchRecord>, brainDown: boolean,
): { waiting: WaitItem[]; failedForGood: FailedItem[] } {
  const alive = snap.gpus.filter((g) => g.alive && g.heartbeat).map((g) => g.heartbeat as Heartbeat);
  const ctx: WaitContext = {
    shared: snap.shared, tasksById: byId, heartbeats: alive, config: snap.config, approvals: new Set(snap.approvals), brainDown,
    paused: new Set(snap.controls?.paused ?? []), cancelled: new Set(snap.controls?.cancelled ?? []),
  };
  const waiting: WaitItem[] = [];
  const failedForGood: FailedItem[] = [];
  const item = (t: Task, where: WaitItem['where'], reason: string): WaitItem => ({
    task_id: t.id, batch: batchOfTaskId(t.id), name: t.name, where, task_class: t.task_class, vram_estimate_mb: t.vram_estimate_mb, reason,
  });
  for (const t of byCreation(snap.tasks.queue)) waiting.push(item(t, 'queue', explainWait(t, 'queue', ctx)));
  for (const t of byCreation(snap.tasks.private)) waiting.push(item(t, 'private', explainWait(t, 'private', ctx)));
  for (const t of byCreation(snap.tasks.failed)) {
    const f = explainFailure(t, records.get(batchOfTaskId(t.id)) ?? null, snap.config, brainDown);
    if (f.for_good) failedForGood.push({ task_id: t.id, batch: batchOfTaskId(t.id), name: t.name, reason: f.reason });
    else waiting.push(item(t, 'failed', f.reason));
  }
  return { waiting, failedForGood };
}

/** What each live agent runs (processing/, enriched by its heartbeat), and processing tasks no live agent holds. */
function runningTasks(snap: RigSnapshot, byId: ReadonlyMap<string, LocatedTask>): Pick<StatusView, 'running' | 'orphaned'> {
  const running = new Map<string, RunningItem[]>();
  const orphaned: StatusView['orphaned'] = [];
  const views = new Map(snap.gpus.map((g) => [g.name, g]));
  for (const t of snap.tasks.processing) {
    const view = t.claimed_by ? views.get(t.claimed_by) : undefined;
    const active = view?.heartbeat?.active_tasks.find((a) => a.task_id === t.id);
    const started = active?.started_at ?? t.claimed_at;
    const entry: RunningItem = {
      task_id: t.id, name: t.name, task_class: t.task_class, vram_estimate_mb: t.vram_estimate_mb,
      peak_vram_mb: active?.peak_vram_mb ?? null, elapsed_s: secondsSince(started, snap.now),
    };
    if (view?.alive || (snap.config === null && t.claimed_by)) push(running, t.claimed_by as string, entry);
    else if (snap.config !== null) orphaned.push({ task_id: t.id, claimed_by: t.claimed_by, elapsed_s: entry.elapsed_s });
  }
  // Work an agent reports that is not (or no longer) a task file in processing/.
  for (const g of snap.gpus) {
    if (!g.alive || !g.heartbeat) continue;
    const have = new Set((running.get(g.name) ?? []).map((r) => r.task_id));
    for (const a of g.heartbeat.active_tasks) {
      if (have.has(a.task_id) || byId.get(a.task_id)?.folder === 'processing') continue;
      push(running, g.name, fromActive(a, snap.now));
    }
  }
  return { running, orphaned };
}

/** Counts like the brain's (brain/decide.ts countTasks): a listed task not found anywhere counts as waiting. */
/**
 * A windowed foreach's items: finished and archived ones from the record, live children from the
 * folders, the rest (not made yet) waiting, or failed once the template has ended. Children of a windowed foreach are not in task_ids.
 */
function withWindows(rec: BatchRecord, c: TaskCounts, byId: ReadonlyMap<string, { folder: string; task: Pick<Task, 'item_index' | 'result'> }>): TaskCounts {
  const wins = Object.entries(rec.windows);
  if (!wins.length) return c;
  const live = new Map(wins.map(([id]) => [`${id}.`, [] as string[]]));
  for (const id of byId.keys()) {
    const dot = id.lastIndexOf('.');
    if (dot > 0) live.get(id.slice(0, dot + 1))?.push(id);
  }
  for (const [id, w] of wins) {
    const mine = (live.get(`${id}.`) ?? []).filter((cid) => (byId.get(cid)!.task.item_index ?? 0) < w.created);
    const lc = countFromFolders(mine, byId);
    const made = w.complete + w.failed + lc.total;
    c.total += w.items;
    // Not made by a template that has ended (a cancel, a manifest that failed): never run, failed (brain/decide.ts countTasks).
    const ended = ['failed', 'complete'].includes(byId.get(id)?.folder ?? '');
    c.waiting += lc.waiting + (ended ? 0 : Math.max(0, w.items - made));
    c.failed += ended ? Math.max(0, w.items - made) : 0;
    c.queued += lc.queued;
    c.processing += lc.processing;
    c.complete += lc.complete + w.complete;
    c.failed += lc.failed + w.failed;
  }
  return c;
}

function countFromFolders(ids: readonly string[], byId: ReadonlyMap<string, { folder: string; task: Pick<Task, 'result'> }>): TaskCounts {
  const c: TaskCounts = { total: 0, waiting: 0, queued: 0, processing: 0, complete: 0, failed: 0, skipped: 0 };
  for (const id of ids) {
    const v = byId.get(id);
    const folder = v?.folder;
    c.total += 1;
    if (!folder || folder === 'private') c.waiting += 1;
    else if (folder === 'queue') c.queued += 1;
    else if (folder === 'processing') c.processing += 1;
    else if (folder === 'complete' && v?.task.result?.outcome === 'skipped') c.skipped += 1;
    else if (folder === 'complete') c.complete += 1;
    else c.failed += 1;
  }
  return c;
}

function fromActive(a: ActiveTask, now: number): RunningItem {
  return {
    task_id: a.task_id, name: a.task_name, task_class: a.task_class, vram_estimate_mb: a.vram_estimate_mb,
    peak_vram_mb: a.peak_vram_mb, elapsed_s: secondsSince(a.started_at, now),
  };
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

function byCreation(tasks: readonly Task[]): Task[] {
  return [...tasks].sort((a, b) => compareText(a.created_at, b.created_at) || compareText(a.id, b.id));
}

function secondsSince(iso: string | null | undefined, now: number): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? Math.max(0, (now - t) / 1000) : null;
}
