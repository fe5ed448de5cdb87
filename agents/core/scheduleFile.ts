// brain/schedules.json: when each scheduled plan last fired, so a restarted brain neither
// fires a run twice nor forgets one it missed. The brain is its one writer (written whole,
// through writeOwnJson); forge status reads it.
// { "nightly": { "last_fire": "2026-01-02T02:00:00.000Z", "known_since": "...", "batch": "..." } }
import { join } from 'node:path';
import * as z from './zod.ts';
import { type JsonFileRead, readJsonFile } from './mountJson.ts';
import type { MountPaths } from './paths.ts';
import { writeOwnJson } from './quarantine.ts';

const IsoTime = z.string().check(z.refine((s) => !Number.isNaN(Date.parse(s)), { message: 'must be an ISO time such as 2026-01-02T02:00:00.000Z' }));

export const ScheduleRecord = z.object({
  /** The fire time (not the wall time it ran at) of the last run submitted or skipped; null: none yet. */
  last_fire: z.nullable(IsoTime),
  /** When the brain first saw the schedule: runs before it were never due. */
  known_since: IsoTime,
  /** The batch of the last run submitted, if any. */
  batch: z._default(z.nullable(z.string()), null),
  /**
   * The schedule as the brain last read it from plan.md, and its next run then: what forge
   * status shows, so that status reads no plan and parses no YAML or cron. Absent in records
   * of plans the brain has not read since (or of an older brain).
   */
  schedule: z.optional(z.string()),
  timezone: z.optional(z.string()),
  catch_up: z.optional(z.boolean()),
  next_run: z.optional(z.nullable(IsoTime)),
});
export type ScheduleRecord = z.infer<typeof ScheduleRecord>;

export const ScheduleRecords = z.record(z.string(), ScheduleRecord);
export type ScheduleRecords = z.infer<typeof ScheduleRecords>;

export function scheduleFilePath(paths: MountPaths): string {
  return join(paths.brain, 'schedules.json');
}

export function readScheduleRecords(paths: MountPaths): Promise<JsonFileRead<ScheduleRecords>> {
  return readJsonFile(scheduleFilePath(paths), ScheduleRecords, 'the schedule records ({"PLAN": {"last_fire": ISO, "known_since": ISO}})');
}

/** Returns what was moved aside (a directory in the file's place), in words, or null. */
export function writeScheduleRecords(paths: MountPaths, records: ScheduleRecords): Promise<string | null> {
  return writeOwnJson(paths, 'brain', scheduleFilePath(paths), records);
}
