// Whether a failed task is tried again. app failures spend the task's own attempts;
// infra failures (the rig's fault) spend a separate cap and never the task's budget.
import type { Config } from '../core/config.ts';
import type { Task } from '../core/task.ts';

export interface RetryVerdict {
  retry: boolean;
  /** The attempt the retry would be, counted against the budget that applies. */
  attempt: { n: number; of: number };
  reason: string;
  /** For an out-of-memory failure: the raised estimate the retry gets. */
  raiseVramTo: number | null;
}

export function countFailures(task: Task): { app: number; infra: number } {
  let app = 0;
  let infra = 0;
  for (const a of task.attempts) {
    if (a.failure_kind === 'app') app += 1;
    else if (a.failure_kind === 'infra') infra += 1;
  }
  return { app, infra };
}

export function decideRetry(task: Task, config: Config): RetryVerdict {
  const max = task.max_attempts;
  const maxInfra = config.retries.max_infra_attempts;
  const { app, infra } = countFailures(task);
  const last = task.result;
  const why = last?.reason ? `: ${last.reason}` : '';
  const outcome = last?.outcome ?? 'error';
  const kind = last?.failure_kind ?? 'app';

  if (outcome === 'blocked') {
    return { retry: false, attempt: { n: app, of: max }, reason: `blocked by the executor policy, never retried${why}`, raiseVramTo: null };
  }
  if (outcome === 'unschedulable') {
    return { retry: false, attempt: { n: app, of: max }, reason: last?.reason ?? 'can never fit any GPU', raiseVramTo: null };
  }
  if (outcome === 'not_run') {
    return { retry: false, attempt: { n: app, of: max }, reason: last?.reason ?? 'not run', raiseVramTo: null };
  }
  if (kind === 'infra') {
    const raise = outcome === 'oom' ? raisedEstimate(task) : null;
    if (infra <= maxInfra) {
      return {
        retry: true,
        attempt: { n: app + 1, of: max },
        reason: `${outcome} (infra failure ${infra} of ${maxInfra}, not counted against the task)${why}`,
        raiseVramTo: raise,
      };
    }
    return { retry: false, attempt: { n: app, of: max }, reason: `gave up after ${infra} infra failures${why}`, raiseVramTo: null };
  }
  if (app < max) {
    return { retry: true, attempt: { n: app + 1, of: max }, reason: `${outcome}${why}`, raiseVramTo: null };
  }
  return { retry: false, attempt: { n: app, of: max }, reason: `failed ${app} of ${max} attempts${why}`, raiseVramTo: null };
}

/** After an out-of-memory death: half as much again, or the measured peak plus a fifth, whichever is larger. */
export function raisedEstimate(task: Task): number {
  const peak = task.result?.peak_vram_mb ?? 0;
  return Math.ceil(Math.max(task.vram_estimate_mb * 1.5, peak * 1.2, 512));
}
