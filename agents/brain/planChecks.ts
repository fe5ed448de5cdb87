// The plans of inbox submissions, read, parsed and checked in a worker thread
// (checkPlanBounded) while the brain's passes go on: a pass starts a check and returns; a later
// pass, woken when the check ends, takes its result. One check runs at a time (each may use
// a few hundred MB), the others wait their turn in inbox order. A check is keyed by the inbox
// file and what the submission asks (plan, batch id, values), so a file rewritten while its
// check runs is checked again, and the check of a file that went away is stopped.
import { checkPlanBounded } from '../plan/boundedCheck.ts';
import type { ParseBudget } from '../plan/limits.ts';
import type { LoadedPlan } from '../plan/load.ts';

export interface CheckRequest {
  dir: string;
  values: Record<string, string>;
  /** What the submission asks, beside its file: a different key is a different check. */
  key: string;
}

interface Running {
  file: string;
  key: string;
  abort: AbortController;
}

export class PlanChecks {
  private running: Running | null = null;
  private readonly finished = new Map<string, { key: string; result: LoadedPlan }>();
  private readonly budget: ParseBudget | undefined;
  private readonly wake: () => void;

  /** wake: called when a check ends, so the loop runs a pass to take its result. */
  constructor(budget: ParseBudget | undefined, wake: () => void) {
    this.budget = budget;
    this.wake = wake;
  }

  /**
   * The result of this file's check once it has ended (handed out once); null while it runs or
   * waits, starting it when no other check runs.
   */
  poll(file: string, req: CheckRequest): LoadedPlan | null {
    const done = this.finished.get(file);
    if (done) {
      this.finished.delete(file);
      if (done.key === req.key) return done.result;
    }
    if (this.running?.file === file && this.running.key !== req.key) this.running.abort.abort();
    if (this.running) return null;
    const running: Running = { file, key: req.key, abort: new AbortController() };
    this.running = running;
    void checkPlanBounded(req.dir, req.values, { budget: this.budget, signal: running.abort.signal }).then((result) => {
      if (this.running === running) this.running = null;
      if (!running.abort.signal.aborted) this.finished.set(file, { key: running.key, result });
      this.wake();
    });
    return null;
  }

  /** Forgets the checks of files no longer in the inbox, stopping one that runs. */
  keepOnly(files: readonly string[]): void {
    const present = new Set(files);
    for (const file of this.finished.keys()) if (!present.has(file)) this.finished.delete(file);
    if (this.running && !present.has(this.running.file)) this.running.abort.abort();
  }
}
