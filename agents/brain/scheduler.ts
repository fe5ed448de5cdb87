// Scheduled plans: the brain submits a plan whose front matter has `schedule:` by itself, with
// its default inputs, through the inbox (as the RPi does), and records each fire time in
// brain/schedules.json. What fires is decided purely in schedules.ts; this module reads the
// plans (at most every rereadMs of the brain's clock), applies the actions and writes the records.
//
// Exactly once across restarts. A run's batch id is a function of (plan, fire time)
// (scheduledBatchId), and the order is: submit, then record. So:
// - killed after submitting, before recording: the next life finds the same fire time due and
//   the same batch id. If that batch exists (its folder under plans/<plan>/batches/ is made
//   first when a submission becomes a batch, its record stays in brain/batches/), the fire time
//   is only recorded. If not, the inbox file is written again under the same name with the same
//   content, which replaces the waiting one; and the intake itself takes a submission whose
//   batch already exists with the same plan, time and values as already ingested.
// - killed after recording: that fire time is no longer due, and nothing before it.
// Hence one batch per fire time, never two, and a fire time submitted is never lost.
import { createHash } from 'node:crypto';
import { lstat } from 'node:fs/promises';
import { isoTime, type Clock } from '../core/clock.ts';
import type { Decision } from '../core/decisionLog.ts';
import { writeSubmission } from '../core/inbox.ts';
import { type MountPaths, batchDir } from '../core/paths.ts';
import { batchRecordPath } from '../core/batch.ts';
import { BadFileNotes } from '../core/badFiles.ts';
import { type ScheduleRecords, readScheduleRecords, writeScheduleRecords } from '../core/scheduleFile.ts';
import { findScheduledPlans } from '../plan/scheduledPlans.ts';
import { nextFire } from '../plan/schedule.ts';
import { type FireRecord, type ScheduleAction, type ScheduledPlan, decideSchedules } from './schedules.ts';
import { announce } from './escalate.ts';
import { compactTime } from '../core/outbox.ts';

/** How often the plans are read again for their schedules (ms of the brain's clock). */
export const SCHEDULE_REREAD_MS = 30_000;

export interface SchedulerOptions {
  paths: MountPaths;
  clock: Clock;
  /** One decision log line. */
  decide: (d: Omit<Decision, 'who'>) => Promise<unknown>;
  /** Default SCHEDULE_REREAD_MS. */
  rereadMs?: number;
}

/** The batch id of the run for `fireAt`: newBatchId's form (time, then 6 hex), the same for the same plan and fire time. */
export function scheduledBatchId(plan: string, fireAt: number): string {
  const stamp = isoTime(fireAt).replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${createHash('sha256').update(`${plan}\n${isoTime(fireAt)}`).digest('hex').slice(0, 6)}`;
}

export class Scheduler {
  private readonly o: SchedulerOptions;
  /** When this brain started: due times before it were missed during downtime. */
  private readonly startMs: number;
  private plans: ScheduledPlan[] = [];
  private lastRead = -Infinity;
  private records: ScheduleRecords | null = null;
  private readonly badFiles = new BadFileNotes();

  constructor(o: SchedulerOptions) {
    this.o = o;
    this.startMs = o.clock.now();
  }

  /** One look: read the plans if it is time, then fire, skip or track as schedules.ts decides. */
  async step(): Promise<void> {
    const now = this.o.clock.now();
    let reread = false;
    if (now - this.lastRead >= (this.o.rereadMs ?? SCHEDULE_REREAD_MS)) {
      this.lastRead = now;
      await this.readPlans();
      reread = true;
    }
    if (!this.plans.length && !reread) return;
    const records = await this.loadRecords();
    const actions = decideSchedules(this.plans, fireRecords(records), this.startMs, now);
    const lines: Array<Omit<Decision, 'who'>> = [];
    // Every submission before the one write that records them (see the top of this file).
    for (const a of actions) {
      const line = await this.apply(a, records, now);
      if (line) lines.push(line);
    }
    // What status shows (the schedule and its next run), written when it changed.
    const shown = (reread || actions.length > 0) && this.noteShown(records, now);
    if (!actions.length && !shown) return;
    const moved = await writeScheduleRecords(this.o.paths, records);
    if (moved) lines.push({ what: 'BAD_FILE', reason: moved });
    for (const line of lines) await this.o.decide(line);
  }

  /** Puts each plan's schedule and next run into its record; true when any changed. */
  private noteShown(records: ScheduleRecords, now: number): boolean {
    let changed = false;
    for (const { plan, spec } of this.plans) {
      const rec = records[plan];
      if (!rec) continue;
      const next = nextFire(spec, now);
      const view = { schedule: spec.cron, timezone: spec.timezone, catch_up: spec.catchUp, next_run: next === null ? null : isoTime(next) };
      if (rec.schedule === view.schedule && rec.timezone === view.timezone && rec.catch_up === view.catch_up && rec.next_run === view.next_run) continue;
      records[plan] = { ...rec, ...view };
      changed = true;
    }
    // A plan no longer scheduled (or gone): status stops listing it; its fire record stays.
    const live = new Set(this.plans.map((p) => p.plan));
    for (const [plan, rec] of Object.entries(records)) {
      if (live.has(plan) || rec.schedule === undefined) continue;
      const { schedule: _s, timezone: _t, catch_up: _c, next_run: _n, ...fire } = rec;
      records[plan] = fire;
      changed = true;
    }
    return changed;
  }

  private async readPlans(): Promise<void> {
    const found = await findScheduledPlans(this.o.paths);
    this.plans = found.plans;
    for (const { plan, problem } of found.problems) {
      if (this.badFiles.first(plan, problem)) await this.o.decide({ what: 'BAD_FILE', reason: `${problem}; plan ${plan} is not run on a schedule until its plan.md is fixed` });
    }
    for (const { plan } of found.plans) this.badFiles.clear(plan);
  }

  /** The records, read once: the brain is their one writer, so memory holds what the file says. */
  private async loadRecords(): Promise<ScheduleRecords> {
    if (this.records) return this.records;
    const read = await readScheduleRecords(this.o.paths);
    this.records = read.ok ? read.value : {};
    if (!read.ok && !read.missing) {
      // Started afresh: no fire time is known, so none is caught up; a run already submitted is still not submitted twice (its batch id).
      await this.o.decide({ what: 'BAD_FILE', reason: `brain/schedules.json: ${read.problem}; the schedules start again from now (missed runs are not caught up) and the file is written again` });
    }
    return this.records;
  }

  /** Submits or records one action into `records`; the decision log line to write once they are saved. */
  private async apply(a: ScheduleAction, records: ScheduleRecords, now: number): Promise<Omit<Decision, 'who'> | null> {
    if (a.kind === 'track') {
      records[a.plan] = { last_fire: null, known_since: isoTime(a.since), batch: null };
      return null;
    }
    const spec = this.plans.find((p) => p.plan === a.plan)!.spec;
    const when = `${isoTime(a.fireAt)} (schedule "${spec.cron}" ${spec.timezone})`;
    const next = nextFire(spec, now);
    const nextText = next === null ? 'no next run' : `next run ${isoTime(next)}`;
    const missed = a.missed >= 1000 ? '1000 or more runs' : `${a.missed} run${a.missed === 1 ? '' : 's'}`;
    const batch = scheduledBatchId(a.plan, a.fireAt);
    const already = await this.batchExists(a.plan, batch);
    records[a.plan] = { ...records[a.plan]!, last_fire: isoTime(a.fireAt), batch: a.kind === 'fire' || already ? batch : records[a.plan]?.batch ?? null };
    if (already) {
      return { what: 'SCHEDULE', batch, reason: `plan ${a.plan}: the run of ${when} was submitted before the brain restarted; recorded, not submitted again; ${nextText}` };
    }
    if (a.kind === 'skip') {
      await announce(this.o.paths, { type: 'schedule_missed', key: [a.plan, compactTime(a.fireAt)], time: now, plan: a.plan, message: `plan ${a.plan}: ${missed} missed while the brain was down, the last at ${when}, not run (catch_up: false)` }, (problem) => this.o.decide({ what: 'OUTBOX_FAILED', reason: problem }));
      return { what: 'SCHEDULE_SKIP', reason: `plan ${a.plan}: ${missed} missed while the brain was down, the last at ${when}, not run (catch_up: false); ${nextText}` };
    }
    await writeSubmission(this.o.paths, { plan: a.plan, config: {}, batch_id: batch, submitted_at: isoTime(a.fireAt) });
    const why = a.catchUp
      ? `catch-up: ${missed} missed while the brain was down, the last at ${when}: one run submitted with the default inputs`
      : `the run of ${when} submitted with the default inputs${a.missed ? ` (${missed} missed before the brain started folded into it)` : ''}`;
    return { what: 'SCHEDULE', batch, reason: `plan ${a.plan}: ${why}; ${nextText}` };
  }

  /** Whether the batch of this id was made (or begun): its folder is made first, its record kept after it ends. */
  private async batchExists(plan: string, id: string): Promise<boolean> {
    const there = (p: string) => lstat(p).then(() => true, () => false);
    return (await there(batchRecordPath(this.o.paths, id))) || (await there(batchDir(this.o.paths, plan, id)));
  }
}

function fireRecords(records: ScheduleRecords): Map<string, FireRecord> {
  return new Map(Object.entries(records).map(([plan, r]) => [plan, { lastFire: r.last_fire === null ? null : Date.parse(r.last_fire), knownSince: Date.parse(r.known_since) }]));
}
