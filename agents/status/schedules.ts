// forge status: the scheduled plans (front matter `schedule:`), each with its next run and the
// last fire time the brain recorded (brain/schedules.json). Read-only: status never writes.
import { isoTime } from '../core/clock.ts';
import type { MountPaths } from '../core/paths.ts';
import { readScheduleRecords, scheduleFilePath } from '../core/scheduleFile.ts';
import { findScheduledPlans } from '../plan/scheduledPlans.ts';
import { nextFire } from '../plan/schedule.ts';

export interface ScheduleRow {
  plan: string;
  /** The cron expression as written. */
  schedule: string;
  timezone: string;
  catch_up: boolean;
  /** The next fire time after now (ISO), null when the expression has none. */
  next_run: string | null;
  /** The last fire time run or skipped, as the brain recorded it; null: none yet. */
  last_fire: string | null;
}

/** Every scheduled plan, by name; a plan.md whose schedule is wrong, or a bad record file, is noted (file, problem). */
export async function readSchedules(paths: MountPaths, now: number, note: (file: string, problem: string) => void): Promise<ScheduleRow[]> {
  const [found, records] = await Promise.all([findScheduledPlans(paths), readScheduleRecords(paths)]);
  for (const p of found.problems) {
    const file = `${paths.plans}/${p.plan}/plan.md`;
    // p.problem is `file:LINE: message`: noted under the file as `line LINE: message`.
    note(file, p.problem.startsWith(`${file}:`) ? `line ${p.problem.slice(file.length + 1)}` : p.problem);
  }
  if (!records.ok && !records.missing) note(scheduleFilePath(paths), records.problem);
  const recorded = records.ok ? records.value : {};
  return found.plans.map(({ plan, spec }) => {
    const next = nextFire(spec, now);
    return { plan, schedule: spec.cron, timezone: spec.timezone, catch_up: spec.catchUp, next_run: next === null ? null : isoTime(next), last_fire: recorded[plan]?.last_fire ?? null };
  });
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

