// checkPlan in a worker thread, within a ParseBudget: a heap limit (resourceLimits) and a time
// limit (the worker is terminated). The limits in limits.ts keep every plan the rig accepts
// cheap to parse; this is what keeps one they miss (a parser's worst case, a bug) from stalling
// the brain's loop or hanging `submit`: the plan is refused with the limit that stopped it.
import { Worker } from 'node:worker_threads';
import { join, resolve } from 'node:path';
import { threadSourceFor } from '../core/entry.ts';
import { errorCode, errorMessage } from '../core/errors.ts';
import { DEFAULT_PARSE_BUDGET, type ParseBudget } from './limits.ts';
import { PLAN_FILE, type LoadedPlan } from './load.ts';

/** What the worker is given (workerData). */
export interface ParseRequest {
  dir: string;
  values: Record<string, string>;
}

export interface BoundedOptions {
  budget?: ParseBudget;
  /** Aborting stops the worker; the result is then a refusal saying so. */
  signal?: AbortSignal;
}

/** The refusal for a check stopped by its budget (or aborted): no plan, one problem that says why. */
export function budgetProblem(file: string, stop: 'time' | 'heap' | 'aborted' | { failed: string }, budget: ParseBudget): string {
  if (stop === 'time') {
    return `${file}: reading and checking this plan took longer than ${budget.timeMs / 1000} s, the time limit for one plan, and was stopped; a plan within the limits (plans/PLAN_FORMAT.md, Limits) takes a few seconds, so look for huge paragraphs or lines full of markup characters ('*', '[', '\`') and split the plan`;
  }
  if (stop === 'heap') {
    return `${file}: checking this plan needed more than ${budget.heapMb} MB of memory, the limit for one plan, and was stopped; make the plan smaller (plans/PLAN_FORMAT.md, Limits)`;
  }
  if (stop === 'aborted') return `${file}: the check of this plan was stopped before it finished (its submission changed or went away)`;
  return `${file}: the plan checker failed: ${stop.failed}`;
}

/** checkPlan(dir, values), run in a worker thread within the budget; never rejects, never hangs. */
export function checkPlanBounded(dir: string, values: Record<string, string>, opts: BoundedOptions = {}): Promise<LoadedPlan> {
  const budget = opts.budget ?? DEFAULT_PARSE_BUDGET;
  const file = join(resolve(dir), PLAN_FILE);
  const refuse = (stop: Parameters<typeof budgetProblem>[1]): LoadedPlan => ({ plan: null, problems: [budgetProblem(file, stop, budget)] });
  return new Promise((done) => {
    let worker: Worker;
    try {
      const { source, eval: isEval } = threadSourceFor('plan/parseWorker');
      const request: ParseRequest = { dir, values };
      worker = new Worker(source, { eval: isEval, workerData: request, resourceLimits: { maxOldGenerationSizeMb: budget.heapMb } });
    } catch (err) {
      done(refuse({ failed: errorMessage(err) }));
      return;
    }
    let settled = false;
    const finish = (result: LoadedPlan) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      void worker.terminate().catch(() => {});
      done(result);
    };
    const onAbort = () => finish(refuse('aborted'));
    const timer = setTimeout(() => finish(refuse('time')), budget.timeMs);
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (m: LoadedPlan) => finish(m));
    worker.once('error', (err) => finish(refuse(errorCode(err) === 'ERR_WORKER_OUT_OF_MEMORY' ? 'heap' : { failed: errorMessage(err) })));
    worker.once('exit', (code) => finish(refuse({ failed: `it exited (code ${code}) without a result` })));
  });
}
