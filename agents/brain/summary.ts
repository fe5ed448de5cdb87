// The batch summary the brain writes itself: summary.json for tools, summary.md for people.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../core/atomic.ts';
import type { BatchRecord } from '../core/batch.ts';
import type { Config } from '../core/config.ts';
import { countTasks, isFinalFailure, type TaskView, type WindowView } from './decide.ts';
import { type LlmTotals, type LlmUse, llmTotals, llmTotalsMarkdown } from './llmTotals.ts';

export interface BatchSummary {
  batch: string;
  plan: string;
  state: 'complete' | 'failed';
  counts: ReturnType<typeof countTasks>;
  tasks: Array<{ name: string; id: string; state: string; attempts: number; duration_ms: number | null; reason: string | null }>;
  /** Generate and parse tasks' tokens and time per model and per agent; absent without LLM work. */
  llm?: LlmTotals;
}

/** A windowed foreach's children have no rows (they are archived as they finish): its counts hold them. */
export function buildSummary(batch: BatchRecord, tasks: Map<string, TaskView>, summaryId: string, config: Config, windows?: ReadonlyMap<string, WindowView>): BatchSummary {
  const rows: BatchSummary['tasks'] = [];
  const uses: LlmUse[] = [];
  for (const id of batch.task_ids) {
    if (id === summaryId) continue;
    const v = tasks.get(id);
    if (!v) continue;
    const t = v.task;
    const skipped = v.folder === 'complete' && t.result?.outcome === 'skipped';
    const state = skipped ? 'skipped' : v.folder === 'complete' ? 'complete' : t.result?.outcome === 'not_run' ? 'not_run' : isFinalFailure(v, config) ? 'failed' : v.folder;
    rows.push({
      name: t.name,
      id,
      state,
      attempts: t.attempts.length,
      duration_ms: t.result?.duration_ms ?? null,
      reason: state === 'complete' ? null : (t.result?.reason ?? null),
    });
    if (t.result?.llm) uses.push({ usage: t.result.llm, agent: t.claimed_by ?? 'unknown' });
  }
  const counts = countTasks({ ...batch, task_ids: batch.task_ids.filter((i) => i !== summaryId) }, tasks, windows);
  const llm = llmTotals(uses);
  return { batch: batch.id, plan: batch.plan, state: counts.failed > 0 ? 'failed' : 'complete', counts, tasks: rows, ...(llm ? { llm } : {}) };
}

export function renderSummaryMarkdown(s: BatchSummary): string {
  const lines = [
    `# Batch ${s.batch} (${s.plan}): ${s.state}`,
    '',
    `${s.counts.complete} of ${s.counts.total} tasks complete, ${s.counts.skipped ? `${s.counts.skipped} skipped (a gate said no), ` : ''}${s.counts.failed} failed or not run.`,
    '',
    '| task | state | attempts | seconds | reason |',
    '| --- | --- | --- | --- | --- |',
    ...s.tasks.map(
      (t) => `| ${t.name} | ${t.state} | ${t.attempts} | ${t.duration_ms === null ? '' : (t.duration_ms / 1000).toFixed(1)} | ${(t.reason ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ').slice(0, 200)} |`,
    ),
    '',
    ...(s.llm ? llmTotalsMarkdown(s.llm) : []),
  ];
  return lines.join('\n');
}

export async function writeSummary(batchPath: string, s: BatchSummary): Promise<string> {
  await mkdir(batchPath, { recursive: true });
  await writeJsonAtomic(join(batchPath, 'summary.json'), s);
  const md = join(batchPath, 'summary.md');
  await writeFileAtomic(md, renderSummaryMarkdown(s));
  return md;
}
