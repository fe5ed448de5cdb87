// Which scheduled plans fire now. Pure: the schedules found, what brain/schedules.json records,
// when this brain started and the time in; actions out (scheduler.ts applies them).
//
// A fire time is due once it is past and later than the plan's anchor (its last fire time, else
// when the brain first saw the schedule). Due times at or after the brain's start came while it
// was running: the latest fires. Due times before its start were missed during downtime: with
// catch_up (the default) the latest of them fires, once, however many were missed; without, they
// are skipped and recorded as such. Either way the anchor moves to that latest time, so nothing
// before it is ever due again.
import { type ScheduleSpec, firesBetween } from '../plan/schedule.ts';

export interface ScheduledPlan {
  plan: string;
  spec: ScheduleSpec;
}

/** What is recorded of one plan (brain/schedules.json), as times in ms. */
export interface FireRecord {
  lastFire: number | null;
  knownSince: number;
}

export type ScheduleAction =
  /** Not seen before: recorded as known from now; nothing before now is due. */
  | { kind: 'track'; plan: string; since: number }
  /**
   * Submit the run that stands for fire time `fireAt`. missed: due times before the brain's
   * start folded into this one run (0 when it is simply on time); catchUp: it is itself such a time.
   */
  | { kind: 'fire'; plan: string; fireAt: number; missed: number; catchUp: boolean }
  /** catch_up false: the `missed` runs up to `fireAt` are not run; the anchor moves past them. */
  | { kind: 'skip'; plan: string; fireAt: number; missed: number };

export function decideSchedules(plans: readonly ScheduledPlan[], records: ReadonlyMap<string, FireRecord>, startMs: number, nowMs: number): ScheduleAction[] {
  const actions: ScheduleAction[] = [];
  for (const { plan, spec } of plans) {
    const rec = records.get(plan);
    if (!rec) {
      actions.push({ kind: 'track', plan, since: nowMs });
      continue;
    }
    const action = decideOne(plan, spec, rec.lastFire ?? rec.knownSince, startMs, nowMs);
    if (action) actions.push(action);
  }
  return actions;
}

function decideOne(plan: string, spec: ScheduleSpec, anchor: number, startMs: number, nowMs: number): ScheduleAction | null {
  const due = firesBetween(spec, anchor, nowMs);
  if (due.latest === null) return null;
  // Due times before the start: missed while no brain ran.
  const missed = anchor < startMs ? firesBetween(spec, anchor, startMs - 1).count : 0;
  if (due.latest >= startMs) return { kind: 'fire', plan, fireAt: due.latest, missed, catchUp: false };
  if (spec.catchUp) return { kind: 'fire', plan, fireAt: due.latest, missed, catchUp: true };
  return { kind: 'skip', plan, fireAt: due.latest, missed };
}
