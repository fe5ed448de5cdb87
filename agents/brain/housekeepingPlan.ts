// What the brain's housekeeping does in one run, decided purely (brain/housekeeping.ts reads
// the mount and applies it). The mount keeps everything a rig ever did unless someone removes
// it: the merged logs grow for ever, and every finished batch leaves its task files in
// tasks/archive/<batch>/. This plan rotates the two logs by size and prunes the rest by age.
//
// Ages are judged on the brain's clock only. Where a file or record says when it happened (a
// batch record's finished_at, an event's time in its name, a quarantine note's time), that
// time is used; elsewhere the age is how long the brain has seen the file unchanged
// (core/observedAge.ts). A file's mtime is never compared with the brain's clock: hosts' clocks
// differ, and a file copied in keeps an old mtime although it is new here.
//
// Never while a reader may need it: an active batch's archive, or one a person asked to retry
// (control/retry/), is kept, whatever its age; events still waiting in outbox/ are not listed
// here at all, only outbox/sent/.
import type { Config } from '../core/config.ts';

export type HousekeepingConfig = Config['housekeeping'];

const DAY_MS = 24 * 3600 * 1000;
const MiB = 1024 * 1024;
/** Names listed in one log line at most; the count says the rest. */
const NAMES_SHOWN = 10;

/** One archived batch, as the brain sees it now. */
export interface ArchiveSeen {
  batch: string;
  /** The batch record's finished_at (ISO, brain clock); null: not finished, or no readable record. */
  finishedAt: string | null;
  /** The brain runs the batch now (its index holds it): a retry reopened it, or it is being archived. */
  active: boolean;
  /** control/retry/ names the batch: a person wants it reopened from its archive. */
  retryAsked: boolean;
}

/** A file (or quarantined thing) judged by a time it carries, else by how long it has been seen. */
export interface AgedSeen {
  /** Relative to its folder (quarantine: <where>/<name>). */
  name: string;
  /** When it happened, ms, from inside the file or its name; null: no such time. */
  time: number | null;
  /** How long the brain has seen it unchanged (ms, brain clock). */
  seenMs: number;
}

export interface HousekeepingSeen {
  /** The brain's clock, ms. */
  now: number;
  /** Sizes in bytes of logs/brain_decisions.log and logs/training_samples.jsonl; null: absent. */
  decisionLogBytes: number | null;
  trainingSamplesBytes: number | null;
  archives: ArchiveSeen[];
  lateResults: AgedSeen[];
  quarantine: AgedSeen[];
  /** outbox/sent/ only: delivered events. */
  sent: AgedSeen[];
}

export type LogName = 'decisions' | 'samples';
export type PruneWhat = 'archive' | 'late_results' | 'quarantine' | 'outbox_sent';

export type HousekeepingAction =
  | { kind: 'rotate'; log: LogName; bytes: number; keep: number; why: string }
  | { kind: 'prune'; what: PruneWhat; names: string[]; kept: number; why: string };

function mb(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MB`;
}

function days(ms: number): string {
  return `${Number((ms / DAY_MS).toFixed(2))} day(s)`;
}

/** Names for a log line: the first few and how many more. */
export function someNames(names: readonly string[]): string {
  const shown = names.slice(0, NAMES_SHOWN).join(', ');
  return names.length > NAMES_SHOWN ? `${shown} and ${names.length - NAMES_SHOWN} more` : shown;
}

/** How old an item is: by its own time when it has one (never negative: a time ahead of the brain is 0), else as seen. */
export function ageOf(item: AgedSeen, now: number): number {
  return item.time === null ? item.seenMs : Math.max(0, now - item.time);
}

function rotation(log: LogName, bytes: number | null, maxMb: number, keep: number, key: string): HousekeepingAction[] {
  if (bytes === null || bytes <= maxMb * MiB) return [];
  const file = log === 'decisions' ? 'logs/brain_decisions.log' : 'logs/training_samples.jsonl';
  return [{ kind: 'rotate', log, bytes, keep, why: `${file} is ${mb(bytes)}, over housekeeping.${key} (${maxMb} MB)` }];
}

function pruneAged(what: PruneWhat, items: readonly AgedSeen[], keepDays: number, key: string, now: number, label: string): HousekeepingAction[] {
  const limit = keepDays * DAY_MS;
  const old = items.filter((i) => ageOf(i, now) >= limit).map((i) => i.name).sort();
  if (!old.length) return [];
  return [{ kind: 'prune', what, names: old, kept: items.length - old.length, why: `${label} older than housekeeping.${key} (${days(limit)})` }];
}

/** Pure: the rotations and removals of one run, each with why. Keeps whatever it cannot judge. */
export function planHousekeeping(seen: HousekeepingSeen, cfg: HousekeepingConfig): HousekeepingAction[] {
  if (!cfg.enabled) return [];
  const { now } = seen;
  const actions: HousekeepingAction[] = [
    ...rotation('decisions', seen.decisionLogBytes, cfg.decision_log_max_mb, cfg.decision_log_keep, 'decision_log_max_mb'),
    ...rotation('samples', seen.trainingSamplesBytes, cfg.training_samples_max_mb, cfg.training_samples_keep, 'training_samples_max_mb'),
  ];

  const limit = cfg.archive_keep_days * DAY_MS;
  const old: string[] = [];
  let held = 0;
  for (const a of seen.archives) {
    const finished = a.finishedAt === null ? NaN : Date.parse(a.finishedAt);
    // Unfinished, no record, or a time that does not parse: nothing says it is old.
    if (Number.isNaN(finished) || now - finished < limit) continue;
    if (a.active || a.retryAsked) held++;
    else old.push(a.batch);
  }
  if (old.length) {
    old.sort();
    const heldWords = held ? `; ${held} as old kept: active or asked to retry` : '';
    actions.push({
      kind: 'prune', what: 'archive', names: old, kept: seen.archives.length - old.length,
      why: `batches finished over housekeeping.archive_keep_days (${days(limit)}) ago: they can no longer be retried (forge retry)${heldWords}`,
    });
  }

  actions.push(
    ...pruneAged('late_results', seen.lateResults, cfg.late_results_keep_days, 'late_results_keep_days', now, 'late results seen unchanged'),
    ...pruneAged('quarantine', seen.quarantine, cfg.quarantine_keep_days, 'quarantine_keep_days', now, 'quarantined files'),
    ...pruneAged('outbox_sent', seen.sent, cfg.outbox_sent_keep_days, 'outbox_sent_keep_days', now, 'delivered events'),
  );
  return actions;
}

/** Pure: when the next run is due, given when this brain started or last ran (brain clock, ms). */
export function nextRunAt(lastRun: number | null, startedAt: number, cfg: Pick<HousekeepingConfig, 'interval_s' | 'first_after_s'>): number {
  return lastRun === null ? startedAt + cfg.first_after_s * 1000 : lastRun + cfg.interval_s * 1000;
}

const WHERE: Record<PruneWhat, string> = {
  archive: 'tasks/archive/', late_results: 'tasks/late_results/', quarantine: 'quarantine/', outbox_sent: 'outbox/sent/',
};

/** Pure: the HOUSEKEEPING line's reason for an action done (`done`: how many were removed; fewer when some went meanwhile). */
export function describeAction(a: HousekeepingAction, done: number): string {
  if (a.kind === 'rotate') {
    const file = a.log === 'decisions' ? 'brain_decisions.log' : 'training_samples.jsonl';
    return `rotated logs/${file} to ${file}.1 (${a.why}); keeping ${a.keep} rotated file(s), a new ${file} started`;
  }
  const what = a.what === 'archive' ? `the archives of ${done} batch(es)` : `${done} item(s)`;
  return `removed ${what} from ${WHERE[a.what]}, ${a.why}; ${a.kept} kept; removed: ${someNames(a.names)}`;
}
