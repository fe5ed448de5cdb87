// Doorbell words that a task moved into a folder (core/doorbell.ts), held until the folder's
// listing shows the task or for HINT_MS. A hint is only a place to look: nothing is believed
// without reading the file, and a word that is not true costs one failed lookup.
import { isSafeName, type TaskFolder } from './paths.ts';

/**
 * How long a doorbell's word that a task moved into a folder is acted on when the folder's
 * listing does not show it yet (ms): longer than any client's cache of a listing.
 */
export const HINT_MS = 15_000;
/** Most hints held at once: a flood of bells cannot grow the map without end. */
const MAX_HINTS = 20_000;

export class MoveHints {
  /** `<folder>/<id>` → until when (this process's clock) the word is acted on. */
  private readonly until = new Map<string, number>();
  private readonly now: () => number;
  constructor(now: () => number) {
    this.now = now;
  }

  /** Notes that task `id` moved into `folder`. */
  add(folder: TaskFolder, id: string): void {
    if (!isSafeName(id)) return;
    const key = `${folder}/${id}`;
    this.until.delete(key); // re-inserted last: the oldest hints are the first dropped
    this.until.set(key, this.now() + HINT_MS);
    if (this.until.size > MAX_HINTS) this.until.delete(this.until.keys().next().value!);
  }

  /**
   * The ids hinted into `folder` that `listed` (this folder's listing) does not show yet.
   * Hints the listing confirms, or that are older than HINT_MS, are dropped.
   */
  pending(folder: TaskFolder, listed: ReadonlySet<string>): string[] {
    const out: string[] = [];
    if (this.until.size === 0) return out;
    const now = this.now();
    const prefix = `${folder}/`;
    for (const [key, until] of this.until) {
      if (!key.startsWith(prefix)) continue;
      const id = key.slice(prefix.length);
      if (until < now || listed.has(id)) this.until.delete(key);
      else out.push(id);
    }
    return out;
  }

  /** Forgets a hint found not to hold (the file is not there). */
  drop(folder: TaskFolder, id: string): void {
    this.until.delete(`${folder}/${id}`);
  }
}
