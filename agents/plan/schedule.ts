// A plan's schedule: front matter `schedule:` (a 5-field cron expression), `timezone:` (an IANA
// name, required with a schedule: "02:00" means nothing without one) and `catch_up:` (default
// true). Pure: the front matter in, the schedule or every problem out, and the fire times of a
// schedule. croner computes the times; its timers are never started (time is injected: the
// brain asks with its clock's now).
import { Cron } from 'croner';

export interface ScheduleSpec {
  /** The cron expression as written, e.g. "0 2 * * *". */
  cron: string;
  /** IANA time zone the expression is read in, e.g. "UTC", "Europe/Berlin". */
  timezone: string;
  /** A run missed while the brain was down runs once at start (true) or is skipped (false). */
  catchUp: boolean;
}

/** One front matter problem, naming its key (the caller finds the key's line). */
export interface ScheduleProblem {
  key: 'schedule' | 'timezone' | 'catch_up';
  message: string;
}

export type ScheduleRead = { spec: ScheduleSpec | null; problems: ScheduleProblem[] };

const CRON_FORM = '5 fields: minute hour day-of-month month day-of-week, e.g. schedule: "0 2 * * *" for 02:00 every day';
const ZONE_FORM = 'an IANA time zone name, e.g. timezone: "UTC" or timezone: "Europe/Berlin"';

/** The schedule in a plan's front matter: null spec when there is none (or it is wrong: see problems). */
export function readSchedule(front: Record<string, unknown>): ScheduleRead {
  if (!('schedule' in front) || front.schedule === null || front.schedule === undefined) return { spec: null, problems: [] };
  const problems: ScheduleProblem[] = [];
  const cron = cronProblem(front.schedule);
  if (cron) problems.push({ key: 'schedule', message: cron });
  const zone = zoneProblem(front.timezone);
  if (zone) problems.push({ key: 'timezone', message: zone });
  const catchUp = front.catch_up ?? true;
  if (typeof catchUp !== 'boolean') {
    problems.push({ key: 'catch_up', message: `catch_up: expected true or false (default true: a run missed while the brain was down runs once when it starts; false: it is skipped); found ${shown(front.catch_up)}` });
  }
  if (problems.length) return { spec: null, problems };
  return { spec: { cron: (front.schedule as string).trim(), timezone: front.timezone as string, catchUp: catchUp as boolean }, problems };
}

function shown(value: unknown): string {
  const text = typeof value === 'string' ? `'${value}'` : JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

function cronProblem(value: unknown): string | null {
  if (typeof value !== 'string') return `schedule: expected a cron expression in quotes, ${CRON_FORM}; found ${shown(value)}`;
  const fields = value.trim().split(/\s+/).filter(Boolean);
  if (fields.length !== 5) return `schedule: ${shown(value)} has ${fields.length} field${fields.length === 1 ? '' : 's'}; a schedule is a cron expression of ${CRON_FORM}`;
  try {
    cronOf(value.trim(), 'UTC');
    return null;
  } catch (err) {
    const why = (err as Error).message.replace(/^CronPattern: /, '');
    return `schedule: ${shown(value)} is not a valid cron expression (${why}); write ${CRON_FORM}`;
  }
}

function zoneProblem(value: unknown): string | null {
  if (value === undefined || value === null) return `timezone: missing; a plan with a schedule names the time zone its times are in, ${ZONE_FORM}`;
  if (typeof value !== 'string' || !isTimeZone(value)) return `timezone: ${shown(value)} is not a known time zone; write ${ZONE_FORM}`;
  return null;
}

/** Whether Node's Intl (full ICU in Node 20) knows `name` as a time zone. */
function isTimeZone(name: string): boolean {
  if (!name.trim()) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** A croner schedule for computing times only: paused, no callback, so no timer ever runs. */
function cronOf(cron: string, timezone: string): Cron {
  return new Cron(cron, { timezone, paused: true, mode: '5-part' });
}

/** The first fire time strictly after `afterMs` (ms), or null when there is none. */
export function nextFire(spec: ScheduleSpec, afterMs: number): number | null {
  return cronOf(spec.cron, spec.timezone).nextRun(new Date(afterMs))?.getTime() ?? null;
}

/** Most fire times counted one by one when runs were missed; past it the count reads "N or more". */
export const MISSED_COUNT_CAP = 1000;

/**
 * The fire times in (afterMs, untilMs]: how many (counted up to MISSED_COUNT_CAP), and the
 * latest, or null when none. The latest is found directly, so a long downtime of a
 * minute-by-minute schedule costs at most the capped count.
 */
export function firesBetween(spec: ScheduleSpec, afterMs: number, untilMs: number): { count: number; latest: number | null } {
  const cron = cronOf(spec.cron, spec.timezone);
  let count = 0;
  let latest: number | null = null;
  let t = cron.nextRun(new Date(afterMs))?.getTime() ?? null;
  while (t !== null && t <= untilMs && count < MISSED_COUNT_CAP) {
    count++;
    latest = t;
    t = cron.nextRun(new Date(t))?.getTime() ?? null;
  }
  if (count === MISSED_COUNT_CAP && t !== null && t <= untilMs) {
    // croner's previousRuns includes a run earlier in the same second as the reference: +1 ms makes untilMs itself count.
    const last = cron.previousRuns(1, new Date(untilMs + 1))[0]?.getTime() ?? null;
    if (last !== null && last > afterMs && last <= untilMs) latest = last;
  }
  return { count, latest };
}
