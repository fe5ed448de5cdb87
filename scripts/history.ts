// forge history [--limit N] [--json] [--shared DIR]: the batches the rig has run, newest first,
// from their records (brain/batches/<id>.json): state, when, how long, task counts, and where
// the summary and the report are. A record that cannot be read is listed as such, not skipped.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseCommand, runCommand, usageError, writeStdout } from '../agents/core/args.ts';
import { type BatchRecord, listBatchIds, readBatchRecordFile } from '../agents/core/batch.ts';
import { mountPaths } from '../agents/core/paths.ts';

const USAGE = `usage: forge history [--limit N] [--json] [--shared DIR]
  --limit N     the N newest batches (default 20; 0: all)
  --json        print one JSON object: { batches: [{ id, plan, state, submitted_at, started_at,
                finished_at, duration_s, tasks, priority, summary, report }], unreadable }
  --shared DIR  the shared mount (default: $RIG_SHARED, else ./shared)
  -h, --help    print this help and exit`;

interface Row {
  id: string;
  plan: string;
  state: BatchRecord['state'];
  submitted_at: string;
  started_at: string | null;
  finished_at: string | null;
  duration_s: number | null;
  tasks: BatchRecord['final_counts'];
  priority: number;
  summary: string | null;
  report: string | null;
}

function row(r: BatchRecord): Row {
  const start = r.started_at ? Date.parse(r.started_at) : NaN;
  const end = r.finished_at ? Date.parse(r.finished_at) : NaN;
  const report = join(r.batch_path, 'report.html');
  return {
    id: r.id, plan: r.plan, state: r.state, submitted_at: r.submitted_at, started_at: r.started_at, finished_at: r.finished_at,
    duration_s: Number.isFinite(start) && Number.isFinite(end) ? Math.round((end - start) / 100) / 10 : null,
    tasks: r.final_counts, priority: r.priority, summary: r.summary_path, report: existsSync(report) ? report : null,
  };
}

function duration(s: number | null): string {
  if (s === null) return '-';
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function render(rows: Row[], unreadable: string[]): string {
  if (!rows.length && !unreadable.length) return 'no batches on this mount yet\n';
  const lines = rows.map((b) => {
    const c = b.tasks;
    const counts = c ? `${c.complete}/${c.total} complete${c.skipped ? `, ${c.skipped} skipped (a gate said no)` : ''}${c.failed ? `, ${c.failed} failed or not run` : ''}` : 'running';
    return [`${b.id}  ${b.plan}  ${b.state}  ${b.submitted_at}  ${duration(b.duration_s)}  ${counts}`, ...(b.report ? [`    report ${b.report}`] : b.summary ? [`    summary ${b.summary}`] : [])].join('\n');
  });
  for (const u of unreadable) lines.push(`${u}  (unreadable record)`);
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  const { values, shared } = parseCommand(USAGE, { json: { type: 'boolean' }, limit: { type: 'string' } }, undefined, { positionals: { max: 0 } });
  const limit = values.limit === undefined ? 20 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 0) usageError(USAGE, `--limit ${values.limit}: expected a whole number (0 for all)`);
  const paths = mountPaths(shared);
  const rows: Row[] = [];
  const unreadable: string[] = [];
  for (const id of await listBatchIds(paths)) {
    const r = await readBatchRecordFile(paths, id);
    if (r.ok) rows.push(row(r.value));
    else if (!r.missing) unreadable.push(id);
  }
  rows.sort((a, b) => (a.submitted_at < b.submitted_at ? 1 : a.submitted_at > b.submitted_at ? -1 : 0));
  const shown = limit === 0 ? rows : rows.slice(0, limit);
  writeStdout(values.json ? JSON.stringify({ batches: shown, unreadable }, null, 2) + '\n' : render(shown, unreadable));
}

runCommand(main);
