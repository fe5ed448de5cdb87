// The brain's hands: applies one action decideBatch (decide.ts) chose, by moving a task file,
// writing the batch record, and logging the decision. A move lost to another process is a
// normal outcome: nothing is logged then, and the next scan sees where the task went.
import { join } from 'node:path';
import { withFailureReason } from '../core/batch.ts';
import { errorMessage } from '../core/errors.ts';
import type { TaskFolder } from '../core/paths.ts';
import type { BrainIndex } from './brainIndex.ts';
import type { BrainAction } from './decide.ts';
import { clearControls } from '../core/controls.ts';
import { announceApproval, announceFinish, escalateGiveUp } from './escalate.ts';
import { createChildren, expandTemplate } from './expand.ts';
import { buildSummary, writeSummary } from './summary.ts';
import { writeBatchReport } from '../report/writeReport.ts';

type Action<K extends BrainAction['kind']> = Extract<BrainAction, { kind: K }>;

export async function applyAction(ix: BrainIndex, batchId: string, a: BrainAction): Promise<void> {
  switch (a.kind) {
    case 'start_batch':
      return startBatch(ix, batchId);
    case 'release':
      return release(ix, a);
    case 'hold':
      return; // nothing moves: the brain only pokes its next pass on claims (brain.ts)
    case 'retry':
      return retry(ix, a);
    case 'backoff':
      return backoff(ix, a);
    case 'cancel_batch':
      return cancelBatch(ix, batchId);
    case 'cancel_task':
      return cancelTask(ix, batchId, a);
    case 'give_up':
      return giveUp(ix, batchId, a);
    case 'park':
      return park(ix, a);
    case 'unpark':
      return unpark(ix, a);
    case 'not_run':
      return notRun(ix, batchId, a);
    case 'skip':
      return skip(ix, a);
    case 'unschedulable':
      return unschedulable(ix, batchId, a);
    case 'expand':
      return expandTemplate(ix, batchId, a.id);
    case 'create_children':
      return createChildren(ix, batchId, a.id, a.from, a.count);
    case 'retire_child':
      return ix.retireChild(batchId, a.id, a.template, a.ok);
    case 'close_template':
      return closeTemplate(ix, a);
    case 'summarize':
      return summarize(ix, batchId, a);
    case 'finish_batch':
      return finishBatch(ix, batchId, a);
  }
}

async function startBatch(ix: BrainIndex, batchId: string): Promise<void> {
  await ix.updateBatch(batchId, { state: 'running', started_at: ix.now() });
  await ix.decide({ what: 'START', batch: batchId, reason: `plan ${ix.batchOf(batchId).plan}` });
}

async function release(ix: BrainIndex, a: Action<'release'>): Promise<void> {
  const t = ix.view(a.id).task;
  if (await ix.moveTask(a.id, 'private', 'queue')) {
    await ix.decide({ what: 'RELEASE', task: a.id, reason: `${t.task_class} task ${t.name}: ${a.reason}` });
  }
}

async function retry(ix: BrainIndex, a: Action<'retry'>): Promise<void> {
  let t = ix.view(a.id).task;
  if (a.raiseVramTo !== null && a.raiseVramTo > t.vram_estimate_mb) {
    t = await ix.store.write('failed', { ...t, vram_estimate_mb: a.raiseVramTo });
  }
  if (await ix.moveTask(a.id, 'failed', 'queue', t)) {
    const raised = a.raiseVramTo !== null ? `; estimate raised to ${a.raiseVramTo} MB` : '';
    await ix.decide({ what: 'RETRY', task: a.id, attempt: a.attempt, reason: a.reason + raised });
  }
}

/** Said once per task and attempt: the wait before the retry, and why. */
async function backoff(ix: BrainIndex, a: Action<'backoff'>): Promise<void> {
  const key = `backoff:${a.id}:${a.attempt.n}`;
  if (ix.said.has(key)) return;
  ix.said.add(key);
  await ix.decide({ what: 'BACKOFF', task: a.id, attempt: a.attempt, reason: `${a.reason}; retrying in ${Math.ceil(a.leftMs / 1000)} s (backoff ${(a.waitMs / 1000).toFixed(a.waitMs < 10_000 ? 1 : 0)} s)` });
}

async function cancelBatch(ix: BrainIndex, batchId: string): Promise<void> {
  await ix.updateBatch(batchId, { cancelled_at: ix.now() });
  await ix.decide({ what: 'CANCEL', batch: batchId, reason: `control/cancel/${batchId}: waiting and queued tasks will not start; running ones are stopped by their agents` });
}

/** Out of private/ or queue/ (a move first: an agent may be claiming it), or a failed one's retry dropped: the task ends cancelled. */
async function cancelTask(ix: BrainIndex, batchId: string, a: Action<'cancel_task'>): Promise<void> {
  const cur = ix.view(a.id).task;
  const ended = { ...cur, result: ix.brainResult(cur, 'cancelled', a.reason), finished_at: ix.now() };
  if (a.from === 'private') {
    const t = await ix.store.write('private', ended);
    if (!(await ix.moveTask(a.id, 'private', 'failed', t))) return;
  } else if (a.from === 'queue') {
    if (!(await ix.moveTask(a.id, 'queue', 'failed'))) return; // claimed first: its agent stops it
    ix.tasks.set(a.id, { folder: 'failed', task: await ix.store.write('failed', ended) });
  } else {
    ix.tasks.set(a.id, { folder: 'failed', task: await ix.store.write('failed', ended) });
  }
  const rec = ix.batchOf(batchId);
  await ix.updateBatch(batchId, { not_run: [...new Set([...rec.not_run, a.id])] });
  await ix.decide({ what: 'CANCEL', task: a.id, reason: `${a.reason}; was in ${a.from}/` });
}

async function giveUp(ix: BrainIndex, batchId: string, a: Action<'give_up'>): Promise<void> {
  const rec = ix.batchOf(batchId);
  await ix.updateBatch(batchId, { failed_tasks: [...new Set([...rec.failed_tasks, a.id])], failure_reasons: withFailureReason(rec.failure_reasons, a.id, a.reason) });
  await ix.decide({ what: 'GIVE_UP', task: a.id, attempt: a.attempt, reason: a.reason });
  await escalateGiveUp(ix, a.id, a.reason);
}

async function park(ix: BrainIndex, a: Action<'park'>): Promise<void> {
  const t = await ix.store.write('failed', { ...ix.view(a.id).task, parked: 'approval', parked_reason: a.reason });
  if (await ix.moveTask(a.id, 'failed', 'private', t)) {
    await ix.decide({ what: 'PARK', task: a.id, reason: `${a.reason}; approve with: touch ${join(ix.paths.approvals, a.id)}` });
    await announceApproval(ix, t, a.reason);
  }
}

async function unpark(ix: BrainIndex, a: Action<'unpark'>): Promise<void> {
  const t = await ix.store.write('private', { ...ix.view(a.id).task, parked: null, approved: true, result: null });
  ix.tasks.set(a.id, { folder: 'private', task: t });
  if (await ix.moveTask(a.id, 'private', 'queue', t)) {
    await ix.decide({ what: 'APPROVED', task: a.id, reason: 'approval file found; released' });
  }
}

async function notRun(ix: BrainIndex, batchId: string, a: Action<'not_run'>): Promise<void> {
  const cur = ix.view(a.id).task;
  const t = await ix.store.write('private', { ...cur, result: ix.brainResult(cur, 'not_run', a.reason), finished_at: ix.now() });
  if (await ix.moveTask(a.id, 'private', 'failed', t)) {
    const rec = ix.batchOf(batchId);
    await ix.updateBatch(batchId, { not_run: [...new Set([...rec.not_run, a.id])] });
    await ix.decide({ what: 'NOT_RUN', task: a.id, reason: a.reason });
  }
}

/** Written as skipped in private/, then moved to complete/: a brain killed in between finds the record and moves it on (decide.ts). */
async function skip(ix: BrainIndex, a: Action<'skip'>): Promise<void> {
  const cur = ix.view(a.id).task;
  const t = await ix.store.write('private', { ...cur, result: ix.brainResult(cur, 'skipped', a.reason), finished_at: ix.now() });
  if (await ix.moveTask(a.id, 'private', 'complete', t)) {
    await ix.decide({ what: 'SKIP', task: a.id, reason: `skipped: ${a.reason}` });
  }
}

async function unschedulable(ix: BrainIndex, batchId: string, a: Action<'unschedulable'>): Promise<void> {
  const cur = ix.view(a.id).task;
  const t = await ix.store.write('private', { ...cur, result: { ...ix.brainResult(cur, 'unschedulable', a.reason), failure_kind: 'app' }, finished_at: ix.now() });
  if (await ix.moveTask(a.id, 'private', 'failed', t)) {
    const rec = ix.batchOf(batchId);
    await ix.updateBatch(batchId, {
      failed_tasks: [...new Set([...rec.failed_tasks, a.id])], failure_reasons: withFailureReason(rec.failure_reasons, a.id, `unschedulable: ${a.reason}`),
    });
    await ix.decide({ what: 'UNSCHEDULABLE', task: a.id, reason: a.reason });
  }
}

async function closeTemplate(ix: BrainIndex, a: Action<'close_template'>): Promise<void> {
  const cur = ix.view(a.id).task;
  const to: TaskFolder = a.ok ? 'complete' : 'failed';
  const t = await ix.store.write('private', {
    ...cur, result: ix.brainResult(cur, a.ok ? 'success' : 'not_run', a.reason), finished_at: ix.now(),
  });
  if (await ix.moveTask(a.id, 'private', to, t)) {
    await ix.decide({ what: a.ok ? 'FOREACH_DONE' : 'FOREACH_FAILED', task: a.id, reason: a.reason });
  }
}

async function summarize(ix: BrainIndex, batchId: string, a: Action<'summarize'>): Promise<void> {
  const rec = ix.batchOf(batchId);
  const summary = buildSummary(rec, ix.tasks, a.id, ix.config, ix.windowViews(rec));
  const md = await writeSummary(rec.batch_path, summary);
  // The report is for people: a failure to write it is said, and the batch goes on.
  await writeBatchReport({ batch: rec, summary, tasks: ix.tasks, summaryId: a.id, telemetry: ix.telemetry, now: ix.clock.now() })
    .catch((err: unknown) => process.stderr.write(`brain: batch ${batchId}: report.html not written: ${errorMessage(err)}\n`));
  const cur = ix.view(a.id).task;
  const t = await ix.store.write('private', {
    ...cur, result: { ...ix.brainResult(cur, 'success', null), stdout_path: md }, finished_at: ix.now(),
  });
  if (await ix.moveTask(a.id, 'private', 'complete', t)) {
    await ix.updateBatch(batchId, { summary_path: md });
    await ix.decide({ what: 'SUMMARY', batch: batchId, reason: `${summary.counts.complete}/${summary.counts.total} complete; written to ${md}` });
  }
}

async function finishBatch(ix: BrainIndex, batchId: string, a: Action<'finish_batch'>): Promise<void> {
  const rec = await ix.updateBatch(batchId, { state: a.state, finished_at: ix.now(), final_counts: a.counts, skipped_by_gate: a.skipped ?? {} });
  const c = a.counts;
  await ix.decide({
    what: 'FINISH', batch: batchId,
    reason: `${a.state}: ${c.complete} complete, ${c.skipped ? `${c.skipped} skipped (a gate said no), ` : ''}${c.failed} failed or not run, of ${c.total}`,
  });
  const tasks = ix.batchOf(batchId).task_ids;
  await announceFinish(ix, rec);
  await ix.retire(batchId);
  // Its cancels and pause have done their work: nothing of the batch is left to claim.
  await clearControls(ix.paths, batchId, tasks);
}
