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
import { type BatchRecord, type BrainState, writeBatchRecord, writeBrainState } from '../core/batch.ts';
import type { TaskView } from './decide.ts';
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

  /** Adds tasks to their batch's seal (brain/seals/<batch>.json), written whole before they can be released. */
  async seal(batchId: string, batchPath: string, tasks: readonly TaskInput[]): Promise<void> {
    const cur = this.seals.get(batchId) ?? (await readSeal(this.paths, batchId));
    const next = addToSeal(cur, batchId, batchPath, tasks);
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

  /** Moves a finished batch's task files out of the live folders, so scans stay small. */
  async archive(batchId: string): Promise<void> {
    const rec = this.batchOf(batchId);
    for (const id of rec.task_ids) {
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
  }

  /** Archives a finished batch and forgets it: state.json no longer lists it. */
  async retire(batchId: string): Promise<void> {
    await this.archive(batchId);
    this.batches.delete(batchId);
    await this.saveState();
  }
}
