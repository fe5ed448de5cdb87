// Queued files refused for their seal: when each was first refused, and whether it was logged.
// Logged once, and only when still refused seconds later, so a task that reached the queue just
// before this agent re-read its seal is never reported as a forgery.

/** How long a refusal must last before it is logged, ms. */
export const REFUSAL_QUIET_MS = 2000;
/** Past this many notes they are all forgotten: the map never grows without bound. */
const MAX_NOTES = 10_000;

export class RefusalNotes {
  private readonly seen = new Map<string, { since: number; logged: boolean }>();

  /** Notes a refusal of `id` at `now`; true when it should be logged now (once per file). */
  note(id: string, now: number): boolean {
    const seen = this.seen.get(id);
    if (!seen) {
      if (this.seen.size > MAX_NOTES) this.seen.clear();
      this.seen.set(id, { since: now, logged: false });
      return false;
    }
    if (seen.logged || now - seen.since < REFUSAL_QUIET_MS) return false;
    seen.logged = true;
    return true;
  }
}
