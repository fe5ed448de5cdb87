// Submissions: each file in brain/inbox/ becomes a batch (its tasks sealed and written into
// private/, its record, state.json) or is moved to inbox/rejected/ with every problem beside
// it. The plan is checked in a worker thread (planChecks.ts); until that ends, later passes
// come back to the file.
import { lstat, mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { errorMessage } from '../core/errors.ts';
import { listInbox, newBatchId, readSubmission, type Submission } from '../core/inbox.ts';
import { writeJsonAtomic } from '../core/atomic.ts';
import { batchDir, planDir } from '../core/paths.ts';
import { batchRecordPath, readBatchRecord, readBrainStateFile, writeBatchRecord } from '../core/batch.ts';
import { UnreadableWatch, fileVersion } from '../core/unreadable.ts';
import type { ParseBudget } from '../plan/limits.ts';
import type { Plan } from '../plan/types.ts';
import { buildBatchTasks } from '../plan/build.ts';
import { planPriority } from '../plan/priority.ts';
import { inferTaskClass } from '../plan/infer.ts';
import type { BrainIndex } from './brainIndex.ts';
import { escalateRejection } from './escalate.ts';
import { applyEstimates } from './learn.ts';
import { PlanChecks } from './planChecks.ts';
import { resumeBatch } from './resume.ts';

export class SubmissionIntake {
  private readonly ix: BrainIndex;
  /** Submissions that did not parse: a person may still be writing one by hand. */
  private readonly tornInbox: UnreadableWatch;
  private readonly planChecks: PlanChecks;

  /** graceMs: how long a submission may stay unparsable before it is rejected (timeouts.unreadable_grace_s). */
  constructor(ix: BrainIndex, graceMs: number, budget: ParseBudget | undefined, wake: () => void) {
    this.ix = ix;
    this.tornInbox = new UnreadableWatch(graceMs, () => ix.clock.now());
    this.planChecks = new PlanChecks(budget, wake);
  }

  async ingestInbox(): Promise<void> {
    const files = await listInbox(this.ix.paths);
    this.tornInbox.keepOnly('', new Set(files));
    this.planChecks.keepOnly(files);
    for (const file of files) {
      try {
        await this.ingest(file);
      } catch (err) {
        await this.reject(file, [`${file}: ${errorMessage(err)}`]);
      }
    }
  }

  private async reject(file: string, problems: string[]): Promise<void> {
    const { paths } = this.ix;
    const dest = join(paths.inboxRejected, basename(file));
    await mkdir(paths.inboxRejected, { recursive: true });
    await rename(file, dest).catch(() => {});
    await writeFile(`${dest}.errors.txt`, problems.join('\n') + '\n').catch(() => {});
    // The log line names the first problems; the file beside the submission has them all.
    const more = problems.length > 3 ? `; ... ${problems.length - 3} more in ${basename(dest)}.errors.txt` : '';
    await this.ix.decide({ what: 'REJECT', reason: `submission ${basename(file)}: ${problems.slice(0, 3).join('; ')}${more}` });
    await escalateRejection(this.ix, dest, problems);
  }

  private async ingest(file: string): Promise<void> {
    const read = await readSubmission(file);
    if (!read.ok) {
      if (read.missing) return;
      // One that does not parse may be half-written: rejected once it has stayed so for the grace.
      const version = read.torn ? await fileVersion(file) : null;
      if (version !== null && !this.tornInbox.note(file, version).due) return;
      this.tornInbox.forget(file);
      return this.reject(file, [read.error]);
    }
    this.tornInbox.forget(file);
    if (read.sub.resume) return this.resume(file, read.sub);
    let sub = read.sub;
    if (!sub.batch_id) {
      // A hand-written submission gets its id written back first, so a crash cannot make two batches of it.
      sub = { ...sub, batch_id: newBatchId(this.ix.clock.now()), submitted_at: sub.submitted_at ?? this.ix.now() };
      await writeJsonAtomic(file, sub);
    }
    const batchId = sub.batch_id!;
    const values = Object.fromEntries(Object.entries(sub.config).map(([k, v]) => [k, String(v)]));
    const taken = await this.batchIdTaken(batchId, sub, values);
    if (taken === 'already_ingested') {
      await unlink(file).catch(() => {});
      return;
    }
    if (taken) return this.reject(file, [`${file}: ${taken}`]);
    let dir: string;
    try {
      dir = planDir(this.ix.paths, sub.plan);
    } catch (err) {
      return this.reject(file, [errorMessage(err)]);
    }
    // Read, parsed and validated in a worker thread; until it ends, later passes come back here.
    const checked = this.planChecks.poll(file, { dir, values, key: JSON.stringify([sub.plan, batchId, values]) });
    if (!checked) return;
    const { plan, problems } = checked;
    if (!plan || problems.length) return this.reject(file, problems.length ? problems : [`${dir}: no plan`]);
    await this.makeBatch(file, sub, batchId, values, plan);
  }

  /** A resume request: the batch reopened (brain/resume.ts), or the request refused with its problems. */
  private async resume(file: string, sub: Submission): Promise<void> {
    const problems = await resumeBatch(this.ix, sub);
    if (problems.length) return this.reject(file, problems.map((p) => `${file}: ${p}`));
    await unlink(file).catch(() => {});
  }

  /** The checked plan's batch: sealed, its tasks in private/, its record and state.json written, then the inbox file removed. */
  private async makeBatch(file: string, sub: Submission, batchId: string, values: Record<string, string>, plan: Plan): Promise<void> {
    const ix = this.ix;
    const batchPath = batchDir(ix.paths, plan.name, batchId);
    await mkdir(batchPath, { recursive: true });
    const priority = sub.priority ?? planPriority(plan.frontMatter);
    const tasks = buildBatchTasks(plan, { batchId, batchPath, values, config: ix.config, now: ix.clock.now(), priority });
    const learnedNote = applyEstimates(ix.estimates, tasks);
    // The seal first: no task of the batch can be released before the agents can check it.
    await ix.seal(batchId, batchPath, tasks);
    const existing = await ix.allTaskIds();
    for (const t of tasks) {
      if (!existing.has(t.id)) await ix.store.write('private', t);
    }
    const rec = await writeBatchRecord(ix.paths, {
      id: batchId,
      plan: plan.name,
      plan_dir: plan.dir,
      batch_path: batchPath,
      state: 'pending',
      values,
      submitted_at: sub.submitted_at ?? ix.now(),
      started_at: null,
      finished_at: null,
      task_ids: tasks.map((t) => t.id),
      priority,
    }, ix.movedAside);
    ix.batches.set(batchId, rec);
    await ix.saveState();
    await unlink(file).catch(() => {});
    await ix.decide({ what: 'SUBMIT', batch: batchId, reason: `plan ${plan.name}: ${tasks.length} tasks (batch_summary included)${learnedNote.length ? `; learned VRAM estimates: ${learnedNote.join(', ')}` : ''}` });
    const specs = new Map(plan.tasks.map((p) => [p.name, p]));
    for (const t of tasks) {
      const spec = specs.get(t.name);
      if (spec && spec.task_class === null) {
        await ix.decide({ what: 'INFER', task: t.id, reason: `task_class ${t.task_class}: ${inferTaskClass(spec).rule}` });
      }
    }
  }

  /**
   * Why a submission may not use this batch id: it is a batch already (a record in
   * brain/batches/, an active batch, or one in state.json), which a second submission would
   * silently break. 'already_ingested' when it is this very submission's batch: the brain made
   * it and stopped before removing the inbox file.
   */
  private async batchIdTaken(id: string, sub: Submission, values: Record<string, string>): Promise<string | 'already_ingested' | null> {
    const { paths } = this.ix;
    const rec = this.ix.batches.get(id) ?? (await readBatchRecord(paths, id));
    if (rec && rec.plan === sub.plan && rec.submitted_at === sub.submitted_at && JSON.stringify(rec.values) === JSON.stringify(values)) return 'already_ingested';
    const recordFile = batchRecordPath(paths, id);
    const state = await readBrainStateFile(paths);
    const exists = rec !== null || (await lstat(recordFile).then(() => true, () => false)) || (state.ok && state.value.active_batches.includes(id));
    if (!exists) return null;
    return `batch_id '${id}' is already a batch (${recordFile}); a submission makes a new batch: leave batch_id out and the brain gives it a new one, or choose an id no batch has`;
  }
}
