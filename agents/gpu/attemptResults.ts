// The agent's writes to the tasks it holds in processing/: its claim (the next attempt token),
// and the attempt's end: the claim token is checked, the attempt closed (core/attempt.ts) and
// the task written whole, then one rename to complete/ or failed/. A result for a claim that is
// no longer ours is kept aside, never applied.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isoTime } from '../core/clock.ts';
import { closeAttempt } from '../core/attempt.ts';
import { writeJsonAtomic } from '../core/atomic.ts';
import type { Config } from '../core/config.ts';
import type { MountPaths } from '../core/paths.ts';
import type { KnownVersion, ReplaceOutcome, TaskStore } from '../core/store.ts';
import { type Task, type WorkerResult, sameClaim } from '../core/task.ts';
import { recordClaim } from './claimPolicy.ts';
import type { AgentLog } from './runtimeWatch.ts';

type Lost = Exclude<ReplaceOutcome, { ok: true }>['reason'];

/** Why a late result was not applied, in words, for the log. */
export function lateReason(why: Lost, unreadableGraceS: number): string {
  return {
    gone: 'the task left processing/ before the result was recorded',
    declined: 'the task holds another claim now',
    quarantined: 'the task file in processing/ was not a task and went to quarantine/',
    unreadable: `the task file in processing/ could not be read for ${unreadableGraceS} s`,
  }[why];
}

/**
 * A claim won: the task as recorded (null: the record failed and was logged; not run), the text
 * written (null when recorded by replace), and the task as it was queued (null likewise).
 */
export interface Claimed {
  task: Task | null;
  text: string | null;
  was: Task | null;
}

export interface AttemptResultsOptions {
  paths: MountPaths;
  config: Config;
  /** The agent's name: the claim it checks and the attempts it records. */
  name: string;
  store: TaskStore;
  log: AgentLog;
}

export class AttemptResults {
  private readonly o: AttemptResultsOptions;

  constructor(o: AttemptResultsOptions) {
    this.o = o;
  }

  /**
   * Claims a queued task and records the claim with the next attempt token in one move
   * (TaskStore.claimRecorded); `known` is the queued file as the claim pass read it. null: lost
   * to another claimer (a normal outcome). A claim won but not recorded there (a taken file
   * that does not read as a task) is recorded as a claim rename always was (recordClaim).
   */
  async claim(queued: Task, known: KnownVersion | null, now: number): Promise<Claimed | null> {
    const r = await this.o.store.claimRecorded(queued.id, (cur) => recordClaim(cur, queued, this.o.name, isoTime(now)), known ?? undefined);
    if (!r.won) return null;
    if (r.task === null) {
      const task = await this.recordClaim(queued, now);
      return { task, text: null, was: null };
    }
    await this.logClaim(r.task);
    return { task: r.task, text: r.text, was: r.was };
  }

  private async logClaim(t: Task): Promise<void> {
    const of = t.attempts_from ? `${t.attempt} (${t.attempt - t.attempts_from} of ${t.max_attempts} since a retry by hand)` : `${t.attempt} of ${t.max_attempts}`;
    await this.o.log('CLAIM', t.id, `attempt ${of}: ${t.task_class} task ${t.name}`);
  }

  /**
   * After winning the claim rename: the claim recorded with the next attempt token. Only the
   * claim this agent saw: if it was undone meanwhile (the brain released it as unclaimed) and
   * another agent claimed it, the file now carries that agent's token. Null when not recorded.
   */
  async recordClaim(queued: Task, now: number): Promise<Task | null> {
    const r = await this.replaceOwn(queued.id, (cur) => recordClaim(cur, queued, this.o.name, isoTime(now)));
    if (r.ok) {
      await this.logClaim(r.task);
      return r.task;
    }
    await this.o.log('CLAIM_LOST', queued.id, r.reason === 'declined' ? 'another claim of this task was recorded first; not run' : `the task left processing/ before the claim was recorded (${r.reason}); not run`);
    return null;
  }

  /**
   * Records the attempt's result on the task as claimed (`t`) and moves it on. 'success' or
   * 'failure' when recorded, 'late' when the claim was no longer ours (kept in tasks/late_results).
   */
  async record(t: Task, startedAt: number, result: WorkerResult, claimedText: string | null = null): Promise<'success' | 'failure' | 'late'> {
    const ok = result.outcome === 'success';
    const by = { agent: this.o.name, claimedAt: t.claimed_at ?? isoTime(startedAt) };
    // The file as the claim wrote it, unless something replaced it since (replace checks after its take).
    const known = claimedText === null ? undefined : { text: claimedText, task: t };
    const r = await this.replaceOwn(t.id, (cur) => (sameClaim(cur, t) ? closeAttempt(cur, result, by) : null), ok ? 'complete' : 'failed', known);
    if (!r.ok) {
      await this.keepLate(t, result, r.reason);
      return 'late';
    }
    const took = `attempt ${t.attempt} in ${(result.duration_ms / 1000).toFixed(1)} s`;
    if (ok) await this.o.log('DONE', t.id, result.gate ? `${took}; gate says ${result.gate.proceed ? 'proceed' : 'no'}${result.gate.reason ? `: ${result.gate.reason}` : ''}` : took);
    else await this.o.log('TASK_FAILED', t.id, `${took}: ${result.outcome}${result.failure_kind ? ` (${result.failure_kind})` : ''}: ${result.reason ?? ''}`.slice(0, 400));
    return ok ? 'success' : 'failure';
  }

  /**
   * replace() of this agent's own claim in processing/. A file that reads torn for longer than
   * the store's own retries (an NFS client's stale view of a file just replaced) is tried again
   * once a second, until it reads or the store gives up on it after unreadable_grace_s: a
   * result is never set aside, nor a claim dropped, for a read that would have worked later.
   */
  async replaceOwn(id: string, change: Parameters<TaskStore['replace']>[2], to?: 'complete' | 'failed', known?: KnownVersion): Promise<ReplaceOutcome> {
    const tries = Math.ceil(this.o.config.timeouts.unreadable_grace_s) + 5;
    for (let i = 0; ; i++) {
      const r = await this.o.store.replace('processing', id, change, to, i === 0 ? known : undefined);
      if (r.ok || r.reason !== 'unreadable' || i >= tries) return r;
      await new Promise((done) => setTimeout(done, 1000));
    }
  }

  /** A result for a claim that is no longer ours (the brain presumed us dead): kept aside, never applied. */
  private async keepLate(t: Task, result: WorkerResult, why: Lost): Promise<void> {
    const dir = join(this.o.paths.tasks, 'late_results');
    await mkdir(dir, { recursive: true });
    await writeJsonAtomic(join(dir, `${t.id}.attempt${t.attempt}.${this.o.name}.json`), { task: t, result });
    const how = lateReason(why, this.o.config.timeouts.unreadable_grace_s);
    await this.o.log('LATE_RESULT', t.id, `attempt ${t.attempt} finished (${result.outcome}), but ${how}; kept in tasks/late_results, not applied`);
  }
}
