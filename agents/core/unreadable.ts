// How long a file has stayed unreadable, on the reader's own clock. A file another process
// replaces (an agent's take-and-replace in processing/, an NFS client's stale cached size)
// can read torn once and whole a moment later; it is garbage only when the same version of it
// (inode, size and times unchanged) has failed every look for a while. File times are the
// writer's clock and say nothing here: only this reader's observations count.
import type { Stats } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { ObservedAge } from './observedAge.ts';

/** How long a file must stay unchanged and unreadable before a reader gives up on it (ms): 30 s. */
export const UNREADABLE_GRACE_MS = 30_000;

/** The version of a file from its lstat: a rename puts a new inode in place, a write changes size and times. */
export function statsVersion(s: Stats): string {
  return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
}

/** The version of a file (statsVersion); null when gone. */
export async function fileVersion(path: string): Promise<string | null> {
  try {
    return statsVersion(await lstat(path));
  } catch {
    return null;
  }
}

/** Pure: whether a file unreadable since `since` (reader's clock) is given up on at `now`. */
export function isDue(since: number, now: number, graceMs: number): boolean {
  return now - since >= graceMs;
}

export class UnreadableWatch {
  private readonly ages: ObservedAge;
  private readonly graceMs: number;
  constructor(graceMs: number, now: () => number) {
    this.graceMs = graceMs;
    this.ages = new ObservedAge(now);
  }

  /**
   * Notes one failed look at `key`, whose file is now `version`. A new version starts the
   * count again. Returns how long this version has failed, and whether that is long enough.
   */
  note(key: string, version: string): { due: boolean; forMs: number } {
    const forMs = this.ages.observe(key, version);
    return { due: isDue(0, forMs, this.graceMs), forMs };
  }

  /** The file read well, was moved on, or was quarantined. */
  forget(key: string): void {
    this.ages.forget(key);
  }

  /** Forgets every key under `prefix` not in `live` (a folder's listing): the map never outgrows the folders. */
  keepOnly(prefix: string, live: ReadonlySet<string>): void {
    this.ages.keepOnly(prefix, live);
  }

  get size(): number {
    return this.ages.size;
  }
}
