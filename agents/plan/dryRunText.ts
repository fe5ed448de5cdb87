// The dry run's report for people: the tasks in order, the prediction, the model loads and
// what would wait for approval. Pure: a report in, lines out.
import type { DryRunReport, DryRunTask } from './dryRunReport.ts';

export function seconds(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  const min = Math.floor(ms / 60_000);
  if (min < 120) return `${min} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(min / 60)} h ${min % 60} min`;
}

function taskLine(t: DryRunTask, i: number): string[] {
  const after = t.depends_on.length ? `after ${t.name === 'batch_summary' ? 'every other task' : t.depends_on.join(', ')}` : 'first';
  const who = t.executor === 'brain' ? 'the brain' : t.task_class;
  const time = t.executor === 'brain' && !t.foreach ? '' : t.runtime_ms === null ? ', no history' : `, ~${seconds(t.runtime_ms)}${t.foreach ? ' each' : ''}`;
  const vram = t.peak_vram_mb !== null ? `, peak ${t.peak_vram_mb} MB` : '';
  const lines = [`  ${i + 1}. ${t.name} (${who}${time}${vram}), ${after}`];
  if (t.foreach) lines.push(`     foreach ${t.foreach.manifest}: ${t.foreach.note}`);
  if (t.model) lines.push(`     model ${t.model}`);
  return lines;
}

export function formatDryRun(r: DryRunReport): string {
  const p = r.prediction;
  const out = [`dry run of plan ${r.plan}: nothing was submitted and nothing was written`, '', `tasks it would create, in order (${r.tasks.length}):`];
  r.tasks.forEach((t, i) => out.push(...taskLine(t, i)));
  const sources = [...new Set(r.tasks.map((t) => t.learned_from).filter((b): b is string => b !== null))];
  out.push('', `predicted wall time: ${seconds(p.wall_ms)}${sources.length ? ` (learned from batch ${sources.join(', ')})` : ' (nothing learned yet for this plan)'}`);
  out.push('predicted peak VRAM per GPU:');
  for (const g of p.gpus) out.push(`  ${g.name}: ${g.peak_vram_mb} MB${g.budget_mb !== null ? ` of a ${g.budget_mb} MB budget` : ''} (${g.tasks} task${g.tasks === 1 ? '' : 's'})`);
  for (const u of p.unschedulable) out.push(`  ${u.task}: no GPU can take it: ${u.reason}; the brain would fail it as unschedulable`);
  for (const n of p.notes) out.push(`  note: ${n}`);
  out.push('', r.model_loads.length ? 'model loads:' : 'model loads: none');
  for (const l of r.model_loads) out.push(`  ${l.gpu} would load ${l.model} (~${seconds(l.load_ms)}, ${l.load_from})`);
  out.push(r.needs_approval.length ? 'would wait for approval (a file in <shared>/approvals/<task id>):' : 'would wait for approval: none');
  for (const a of r.needs_approval) out.push(`  ${a.task}: ${a.reason}`);
  if (r.blocked.length) out.push('would be refused by the executor policy:');
  for (const b of r.blocked) out.push(`  ${b.task}: ${b.reason}`);
  return out.join('\n') + '\n';
}
