// The I/O around renderReport.ts: gathers the batch's tasks, the stderr tails of its failed
// attempts and the telemetry the brain sampled, and writes report.html whole beside summary.md.
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic.ts';
import type { BatchRecord } from '../core/batch.ts';
import { attemptLogPaths, tailOf } from '../core/logTail.ts';
import type { Task } from '../core/task.ts';
import type { TaskView } from '../brain/decide.ts';
import type { BatchSummary } from '../brain/summary.ts';
import { MAX_FAILURES_SHOWN, STDERR_LINES, renderReport } from './renderReport.ts';
import type { TelemetrySeries } from './telemetrySeries.ts';

export async function writeBatchReport(o: {
  batch: BatchRecord; summary: BatchSummary; tasks: ReadonlyMap<string, TaskView>; summaryId: string; telemetry: TelemetrySeries; now: number;
}): Promise<string> {
  const tasks = o.batch.task_ids.filter((id) => id !== o.summaryId).flatMap((id) => {
    const v = o.tasks.get(id);
    return v ? [v.task] : [];
  });
  const failed = tasks.flatMap((t) => t.attempts.filter((a) => a.outcome !== 'success' && a.finished_at).map((a) => ({ t, a: a.attempt }))).slice(0, MAX_FAILURES_SHOWN);
  const stderr: Record<string, string[] | null> = {};
  for (const { t, a } of failed) stderr[`${t.id}#${a}`] = (await tailOf(attemptLogPaths(t, { attempt: a }).stderr, STDERR_LINES, 64 * 1024)).lines;
  const from = Date.parse(o.batch.started_at ?? o.batch.submitted_at);
  const html = renderReport({
    summary: o.summary, batch: o.batch, tasks, stderr, now: o.now,
    samples: o.telemetry.between(Number.isFinite(from) ? from - 5_000 : 0, o.now),
  });
  const path = join(o.batch.batch_path, 'report.html');
  await writeFileAtomic(path, html);
  return path;
}
