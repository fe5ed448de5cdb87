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

/** Failures that count against the budgets: those since the last retry by hand (attempts_from). */
export function countFailures(task: Pick<Task, 'attempts' | 'attempts_from'>): { app: number; infra: number } {
  let app = 0;
  let infra = 0;
  for (const a of task.attempts.slice(task.attempts_from)) {
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

  if (outcome === 'cancelled') {
    return { retry: false, attempt: { n: app, of: max }, reason: last?.reason ?? 'cancelled', raiseVramTo: null };
  }
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

/** The retry a task is on its way to: 1 for the first retry, counting every failure since the last retry by hand. */
export function retryNumber(task: Pick<Task, 'attempts' | 'attempts_from'>): number {
  const { app, infra } = countFailures(task);
  return Math.max(1, app + infra);
}

/**
 * How long a failed task waits before its retry, ms: exponential backoff with jitter. The first
 * retry waits the base (the task's retry_delay_s, else retries.backoff_base_s), each later one
 * twice the one before, capped at retries.backoff_cap_s; then up to a quarter more, so tasks
 * that failed together (a flaky mount, a busy runtime) do not all come back at once. The
 * jitter is drawn from the task id and the retry's number: the same decision every time it is
 * made (a pure function, and a brain that restarts keeps the spacing).
 */
export function retryDelayMs(task: Pick<Task, 'id' | 'retry_delay_s' | 'attempts' | 'attempts_from'>, config: Config): number {
  const n = retryNumber(task);
  const base = (task.retry_delay_s ?? config.retries.backoff_base_s) * 1000;
  const cap = Math.max(base, config.retries.backoff_cap_s * 1000);
  const wait = Math.min(cap, base * 2 ** (n - 1));
  return Math.round(wait * (1 + 0.25 * unitHash(`${task.id}:${n}`)));
}

/** A number in [0, 1) from a string (FNV-1a): the same string, the same number. */
function unitHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h / 2 ** 32;
}
