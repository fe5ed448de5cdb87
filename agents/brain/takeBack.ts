// Tasks of an active batch found in no folder (missing.ts says which, and how to take each
// back): put back where the brain last saw them, returned as a lost attempt, made again from
// the plan when the batch's seal vouches for it, or reported once when none of that can be.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TaskFolder } from '../core/paths.ts';
import { taskDigest, readSeal } from '../core/seal.ts';
import { Task } from '../core/task.ts';
import { closeAttempt, lostResult } from '../core/attempt.ts';
import { batchOfTaskId } from '../core/batch.ts';
import { checkPlanBounded } from '../plan/boundedCheck.ts';
import { buildBatchTasks } from '../plan/build.ts';
import type { BrainIndex } from './brainIndex.ts';
import { FINAL } from './brainIndex.ts';
import { MISSING_AFTER_MS, decideTakeBack, overdueMissing } from './missing.ts';

export class MissingTasks {
  private readonly ix: BrainIndex;
  /** When each missing task of an active batch was first found in no folder (brain clock). */
  private readonly missingSince = new Map<string, number>();
  /** Missing tasks that could not be rebuilt, reported once. */
  private readonly missingReported = new Set<string>();

  constructor(ix: BrainIndex) {
    this.ix = ix;
  }

  /** After a scan (`seen`: where each task of an active batch was found): takes back those missing a minute. */
  async check(seen: ReadonlyMap<string, TaskFolder>): Promise<void> {
    // A windowed foreach's live children are in no task_ids; the brain's index holds them (at most a window each).
    const expected = [...this.ix.batches.values()].filter((b) => !FINAL.has(b.state)).flatMap((b) => [
      ...b.task_ids,
      ...[...this.ix.windowViews(b).values()].flatMap((w) => w.live),
    ]);
    for (const id of overdueMissing({ expected, seen, since: this.missingSince, now: this.ix.clock.now() })) await this.takeBack(id);
  }

  /** A task of an active batch found in no folder for a minute: taken back from the brain's last view of it. */
  private async takeBack(id: string): Promise<void> {
    const ix = this.ix;
    const aside = await this.foundAside(id);
    const last = ix.tasks.get(id);
    const d = decideTakeBack(last);
    if (d.kind === 'unknown') return this.remake(id, aside);
    let into: TaskFolder;
    let t: Task;
    if (d.kind === 'restore') {
      into = d.folder;
      t = await ix.store.write(into, d.task);
    } else {
      into = 'failed';
      const now = ix.now();
      const reason = `the task file vanished from ${last!.folder}/ (found in no folder for ${MISSING_AFTER_MS / 1000} s)`;
      const result = lostResult(d.task, Math.max(1, d.task.attempt), reason, d.task.claimed_at ?? now, now);
      t = await ix.store.write('failed', closeAttempt(d.task, result, { agent: d.task.claimed_by ?? 'none' }));
    }
    ix.tasks.set(id, { folder: into, task: t });
    this.missingSince.delete(id);
    await ix.decide({ what: 'MISSING', task: id, reason: `found in no folder for ${MISSING_AFTER_MS / 1000} s (last seen in ${last!.folder}/)${aside}; taken back into ${into}/${d.kind === 'lost' ? ' as a lost attempt (infra)' : ''}` });
  }

  /**
   * A missing task never read by this brain (deleted before it started): made again from its
   * plan, when what the plan makes now is exactly what the batch's seal says was made then.
   */
  private async remake(id: string, aside: string): Promise<void> {
    const rebuilt = await this.rebuildFromPlan(id);
    if (rebuilt) {
      const t = await this.ix.store.write('private', rebuilt);
      this.ix.tasks.set(id, { folder: 'private', task: t });
      this.missingSince.delete(id);
      await this.ix.decide({ what: 'MISSING', task: id, reason: `found in no folder for ${MISSING_AFTER_MS / 1000} s and never read by this brain${aside}; made again from its plan (it matches the batch's seal) into private/` });
      return;
    }
    if (this.missingReported.has(id)) return;
    this.missingReported.add(id);
    await this.ix.decide({ what: 'MISSING', task: id, reason: `found in no folder for ${MISSING_AFTER_MS / 1000} s and never read by this brain${aside}: it cannot be rebuilt (not in its plan as sealed), so its batch cannot finish; cancel or resubmit the batch` });
  }

  /** The task as its batch's plan makes it, if that matches the batch's seal (a foreach child never does: it comes from a manifest). */
  private async rebuildFromPlan(id: string): Promise<Task | null> {
    const ix = this.ix;
    const rec = ix.batches.get(batchOfTaskId(id));
    const seal = rec ? (ix.seals.get(rec.id) ?? (await readSeal(ix.paths, rec.id))) : null;
    if (!rec || !seal?.tasks[id]) return null;
    try {
      // Read and parsed in a worker thread within the parse budget, as a submission is: the plan may have changed since.
      const { plan } = await checkPlanBounded(rec.plan_dir, rec.values);
      if (!plan) return null;
      const made = buildBatchTasks(plan, { batchId: rec.id, batchPath: rec.batch_path, values: rec.values, config: ix.config, now: Date.parse(rec.submitted_at) });
      const input = made.find((t) => t.id === id);
      if (!input) return null;
      const t = Task.parse(input);
      return taskDigest(t) === seal.tasks[id] ? t : null;
    } catch {
      return null;
    }
  }

  /** Where else a missing task's file may be: quarantine/ and tasks/late_results/, for the log. */
  private async foundAside(id: string): Promise<string> {
    const places: string[] = [];
    for (const [dir, label] of [[this.ix.paths.quarantine, 'quarantine'], [join(this.ix.paths.tasks, 'late_results'), 'tasks/late_results']] as const) {
      const hit = await findFileNamed(dir, id);
      if (hit) places.push(`${label}/${hit}`);
    }
    return places.length ? `; a copy is in ${places.join(' and ')}` : '';
  }
}

/** The first file under dir (one level of subfolders) whose name contains the task id, or null. */
async function findFileNamed(dir: string, id: string): Promise<string | null> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (e.isFile() && e.name.includes(id) && !e.name.endsWith('.why.txt')) return e.name;
    if (e.isDirectory()) {
      const inner = await readdir(join(dir, e.name)).catch(() => [] as string[]);
      const hit = inner.find((n) => n.includes(id) && !n.endsWith('.why.txt'));
      if (hit) return `${e.name}/${hit}`;
    }
  }
  return null;
}
