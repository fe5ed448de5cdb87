// forge status: the scheduled plans, as the brain last recorded them in brain/schedules.json
// (each plan's schedule as it read it from plan.md, its next run then, and the last fire time).
// Status reads no plan.md and parses no YAML or cron (that is the brain's work, and would cost
// every status a YAML parser's start); read-only: status never writes.
import type { MountPaths } from '../core/paths.ts';
import { readScheduleRecords, scheduleFilePath } from '../core/scheduleFile.ts';
import { compareText } from '../core/textOrder.ts';

export interface ScheduleRow {
  plan: string;
  /** The cron expression as written. */
  schedule: string;
  timezone: string;
  catch_up: boolean;
  /** The next fire time after the brain's last look (ISO), null when the expression has none. */
  next_run: string | null;
  /** The last fire time run or skipped, as the brain recorded it; null: none yet. */
  last_fire: string | null;
}

/** Every scheduled plan the brain knows, by name; a bad record file is noted (file, problem). */
export async function readSchedules(paths: MountPaths, note: (file: string, problem: string) => void): Promise<ScheduleRow[]> {
  const records = await readScheduleRecords(paths);
  if (!records.ok) {
    if (!records.missing) note(scheduleFilePath(paths), records.problem);
    return [];
  }
  const rows: ScheduleRow[] = [];
  for (const [plan, r] of Object.entries(records.value).sort(([a], [b]) => compareText(a, b))) {
    if (r.schedule === undefined || r.timezone === undefined) continue;
    rows.push({ plan, schedule: r.schedule, timezone: r.timezone, catch_up: r.catch_up ?? true, next_run: r.next_run ?? null, last_fire: r.last_fire });
  }
  return rows;
}

/** The text view's section; nothing when no plan is scheduled. */
export function scheduleLines(rows: readonly ScheduleRow[]): string[] {
  if (!rows.length) return [];
  const width = Math.max(...rows.map((r) => r.plan.length));
  return [
    '',
    `Schedules (${rows.length})`,
    ...rows.map((r) => `  ${r.plan.padEnd(width)}  "${r.schedule}" ${r.timezone}  next ${r.next_run ?? 'never'}  last ${r.last_fire ?? 'none yet'}${r.catch_up ? '' : '  (no catch-up)'}`),
  ];
}

