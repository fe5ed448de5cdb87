// What the brain holds of the mount between passes: each active batch's record and seal, where
// each of their tasks was last seen, and the learned VRAM estimates; with the few writes that
// keep it in step with the folders (a task's move, a batch record, state.json, a seal, the
// archive). A cache: the folders are the truth, and a scan rebuilds it.
import type { Clock } from '../core/clock.ts';
import { isoTime } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import type { Decision, DecisionLog } from '../core/decisionLog.ts';
import { type MountPaths, TASK_FOLDERS, type TaskFolder } from '../core/paths.ts';
import type { TaskStore } from '../core/store.ts';
import { type SealRecord, addToSeal, readSeal, writeSeal } from '../core/seal.ts';
import type { Task, TaskInput, WorkerResult } from '../core/task.ts';
import { type BatchRecord, type BrainState, type WindowCounts, writeBatchRecord, writeBrainState } from '../core/batch.ts';
import type { TaskView, WindowView } from './decide.ts';
import { readdir } from 'node:fs/promises';
import { archiveDir } from '../core/placeTask.ts';
import { isGone } from '../core/errors.ts';
import { taskId } from '../core/task.ts';
import type { Estimates } from './learn.ts';
import { TelemetrySeries } from '../report/telemetrySeries.ts';

/** Batch states after which nothing of the batch runs. */
export const FINAL = new Set(['complete', 'failed', 'cancelled']);

export interface BrainIndexOptions {
  paths: MountPaths;
  config: Config;
  clock: Clock;
  store: TaskStore;
  log: DecisionLog;
}

export class BrainIndex {
  readonly paths: MountPaths;
  readonly config: Config;
  readonly clock: Clock;
  readonly store: TaskStore;
  readonly tasks = new Map<string, TaskView>();
  readonly batches = new Map<string, BatchRecord>();
  /** Each active batch's seal as last written. */
  readonly seals = new Map<string, SealRecord>();
  estimates: Estimates = {};
  /** Decisions said once per life (a backoff's wait, a pause seen): their keys. */
  readonly said = new Set<string>();
  /** Temperature and VRAM of each GPU as the brain read them, for the batch reports. */
  readonly telemetry = new TelemetrySeries();
  /**
   * Windowed foreach templates (by id): how many of their children finished and were archived.
   * Counted from the archive's names once per life, then kept as children are archived.
   */
  readonly windowCounts = new Map<string, { complete: number; failed: number }>();
  /** Their manifests' items while they are open (read again after a restart). */
  readonly manifests = new Map<string, unknown[]>();
  /** Per batch: children archived since its seal was last written, dropped from it at the next write. */
  private readonly sealDrops = new Map<string, Set<string>>();
  private readonly log: DecisionLog;

  constructor(o: BrainIndexOptions) {
    this.paths = o.paths;
    this.config = o.config;
    this.clock = o.clock;
    this.store = o.store;
    this.log = o.log;
  }

  now(): string {
    return isoTime(this.clock.now());
  }

  decide(d: Omit<Decision, 'who'>): Promise<string> {
    return this.log.write({ ...d, who: 'brain' });
  }

  /** What the brain moved out of the way of its own writes (a directory where state.json or a batch record goes). */
  readonly movedAside = (why: string): void => {
    void this.decide({ what: 'BAD_FILE', reason: why }).catch(() => {});
  };

  batchOf(id: string): BatchRecord {
    const b = this.batches.get(id);
    if (!b) throw new Error(`unknown batch ${id}`);
    return b;
  }

  view(id: string): TaskView {
    const v = this.tasks.get(id);
    if (!v) throw new Error(`unknown task ${id}`);
    return v;
  }

  async moveTask(id: string, from: TaskFolder, to: TaskFolder, task?: Task): Promise<boolean> {
    const ok = await this.store.move(id, from, to);
    if (ok) this.tasks.set(id, { folder: to, task: task ?? this.view(id).task });
    else this.tasks.delete(id); // someone else moved it: the next scan finds it
    return ok;
  }

  /** The result of a task the brain itself ends (not run, a closed foreach, the summary, a lost attempt). */
  brainResult(t: Task, outcome: WorkerResult['outcome'], reason: string | null): WorkerResult {
    const now = this.now();
    return {
      task_id: t.id, attempt: Math.max(1, t.attempt), outcome, failure_kind: null, exit_code: null, signal: null,
      reason, started_at: now, finished_at: now, duration_ms: 0, stdout_path: null, stderr_path: null,
    };
  }

  async updateBatch(id: string, patch: Partial<BatchRecord>): Promise<BatchRecord> {
    const rec = await writeBatchRecord(this.paths, { ...this.batchOf(id), ...patch }, this.movedAside);
    this.batches.set(id, rec);
    return rec;
  }

  async allTaskIds(): Promise<Set<string>> {
    const ids = new Set<string>();
    for (const f of TASK_FOLDERS) for (const id of await this.store.list(f)) ids.add(id);
    return ids;
  }

  stateNow(): BrainState {
    return { active_batches: [...this.batches.keys()], updated_at: this.now(), brain_pid: process.pid, shared_root: this.paths.root };
  }

  async saveState(): Promise<void> {
    await writeBrainState(this.paths, this.stateNow(), this.movedAside);
  }

  /**
   * Adds tasks to their batch's seal (brain/seals/<batch>.json), written whole before they can be
   * released. Archived foreach children leave it then: none of them runs again, and the seal stays
   * a window's size however many items a foreach has.
   */
  async seal(batchId: string, batchPath: string, tasks: readonly TaskInput[]): Promise<void> {
    const cur = this.seals.get(batchId) ?? (await readSeal(this.paths, batchId));
    const next = addToSeal(cur, batchId, batchPath, tasks);
    for (const id of this.sealDrops.get(batchId) ?? []) delete next.tasks[id];
    this.sealDrops.delete(batchId);
    await writeSeal(this.paths, next);
    this.seals.set(batchId, next);
  }

  /**
   * A batch made before seals existed (or whose seal was lost) is sealed from the tasks the
   * brain holds for it, once; from then on its queued files are checked like any other.
   */
  async ensureSealed(batch: BatchRecord): Promise<void> {
    if (this.seals.has(batch.id)) return;
    const found = await readSeal(this.paths, batch.id);
    if (found) {
      this.seals.set(batch.id, found);
      return;
    }
    const mine = batch.task_ids.flatMap((id) => {
      const v = this.tasks.get(id);
      return v ? [v.task] : [];
    });
    await this.seal(batch.id, batch.batch_path, mine);
    await this.decide({ what: 'SEAL', batch: batch.id, reason: `batch had no seal: sealed the ${mine.length} task(s) found for it` });
  }

  /** The live children and archived counts of each windowed foreach of the batch: O(tasks held), which a window bounds. */
  windowViews(batch: BatchRecord): Map<string, WindowView> {
    const out = new Map<string, { live: string[]; complete: number; failed: number }>();
    for (const id of batch.task_ids) {
      if (!this.tasks.get(id)?.task.window) continue;
      const c = this.windowCounts.get(id) ?? { complete: 0, failed: 0 };
      out.set(id, { live: [], complete: c.complete, failed: c.failed });
    }
    if (!out.size) return out;
    for (const [id, v] of this.tasks) {
      if (v.task.template === null || v.task.batch !== batch.id) continue;
      out.get(taskId(batch.id, v.task.template))?.live.push(id);
    }
    // Item order: the earliest made are released first.
    for (const w of out.values()) w.live.sort((a, b) => (this.tasks.get(a)!.task.item_index ?? 0) - (this.tasks.get(b)!.task.item_index ?? 0));
    return out;
  }

  /**
   * Counts each windowed foreach's archived children once per life, from the archive's names:
   * a failed one is in failed_tasks or not_run (its end was said before it was archived).
   */
  async loadWindowCounts(batch: BatchRecord): Promise<void> {
    const todo = batch.task_ids.filter((id) => this.tasks.get(id)?.task.window && !this.windowCounts.has(id));
    if (!todo.length) return;
    let names: string[] = [];
    try {
      names = await readdir(archiveDir(this.paths, batch.id));
    } catch (err) {
      if (!isGone(err)) throw err;
    }
    const failedIds = new Set([...batch.failed_tasks, ...batch.not_run]);
    const counts = new Map(todo.map((id) => [id, { complete: 0, failed: 0 }]));
    for (const n of names) {
      if (!n.endsWith('.json')) continue;
      const id = n.slice(0, -5);
      const dot = id.lastIndexOf('.');
      const c = dot > 0 ? counts.get(id.slice(0, dot)) : undefined;
      if (!c) continue;
      if (failedIds.has(id)) c.failed += 1;
      else c.complete += 1;
    }
    for (const [id, c] of counts) this.windowCounts.set(id, c);
  }

  /** A finished child of a windowed foreach out of the folders and the brain's memory, counted. */
  async retireChild(batchId: string, id: string, template: string, ok: boolean): Promise<void> {
    const v = this.tasks.get(id);
    if (!v) return;
    this.tasks.delete(id);
    // Not there: moved by someone else; the next scan finds it where it went.
    if (!(await this.store.archive(id, v.folder, batchId).catch(() => false))) return;
    const c = this.windowCounts.get(template) ?? { complete: 0, failed: 0 };
    if (ok) c.complete += 1;
    else c.failed += 1;
    this.windowCounts.set(template, c);
    const drops = this.sealDrops.get(batchId) ?? new Set<string>();
    drops.add(id);
    this.sealDrops.set(batchId, drops);
  }

  /** The batch record's windows as the brain holds them now, written when they changed: what status counts from. */
  async publishWindows(batchId: string): Promise<void> {
    const rec = this.batches.get(batchId);
    if (!rec) return;
    const windows: Record<string, WindowCounts> = {};
    for (const id of rec.task_ids) {
      const win = this.tasks.get(id)?.task.window;
      if (!win) continue;
      const c = this.windowCounts.get(id) ?? { complete: 0, failed: 0 };
      windows[id] = { items: win.items, created: win.created, complete: c.complete, failed: c.failed };
    }
    if (JSON.stringify(windows) === JSON.stringify(rec.windows)) return;
    await this.updateBatch(batchId, { windows });
  }

  /** Moves a finished batch's task files out of the live folders, so scans stay small. */
  async archive(batchId: string): Promise<void> {
    const rec = this.batchOf(batchId);
    const live: string[] = [];
    for (const [id, v] of this.tasks) if (v.task.batch === batchId && v.task.template !== null) live.push(id);
    for (const id of new Set([...rec.task_ids, ...live])) {
      const v = this.tasks.get(id);
      const folder = v?.folder;
      if (folder !== 'complete' && folder !== 'failed') continue;
      // From where the brain last saw it, else from wherever it is now among the final folders
      // (a view a move ahead of this host's listing): a finished batch leaves no file behind.
      const moved = await this.store.archive(id, folder, batchId).catch(() => false);
      if (!moved) {
        const other: TaskFolder = folder === 'complete' ? 'failed' : 'complete';
        if (await this.store.exists(other, id)) await this.store.archive(id, other, batchId).catch(() => false);
      }
      this.tasks.delete(id);
    }
    for (const id of rec.task_ids) {
      this.windowCounts.delete(id);
      this.manifests.delete(id);
    }
    this.sealDrops.delete(batchId);
  }

  /** Archives a finished batch and forgets it: state.json no longer lists it. */
  async retire(batchId: string): Promise<void> {
    await this.archive(batchId);
    this.batches.delete(batchId);
    await this.saveState();
  }
}
