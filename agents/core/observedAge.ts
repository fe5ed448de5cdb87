// How long this process has seen a file unchanged, on its own clock. The mount is shared by
// hosts whose clocks differ, and a file's times (mtime, ctime) are stamped by whichever
// host or server wrote it: `Date.now() - mtimeMs` mixes two clocks and can be off by minutes
// either way. What this process can know for sure is when it first saw a file at its current
// version (inode, size and times: unreadable.ts fileVersion) and how long ago that was on its
// own monotonic clock. A file that a live writer touches gets a new version and starts again.
//
// Bounded: keepOnly() forgets every key not in the latest listing, so the map never holds
// more than the files that exist now.
import { monotonicMs } from './clock.ts';

/** Where a key's count started: the version seen and when (this process's clock). */
interface Seen {
  version: string;
  since: number;
}

export class ObservedAge {
  private readonly seen = new Map<string, Seen>();
  private readonly now: () => number;

  /** `now`: this process's clock in ms (default: monotonic, core/clock.ts monotonicMs), never a file time. */
  constructor(now: () => number = monotonicMs) {
    this.now = now;
  }

  /**
   * Notes one look at `key` (a path), whose file is now `version`, and returns how long (ms)
   * this version has been seen unchanged: 0 on the first look and after every change.
   */
  observe(key: string, version: string): number {
    const now = this.now();
    const prev = this.seen.get(key);
    // A clock that went back (an injected wall clock) starts the count again rather than go negative.
    if (prev && prev.version === version && now >= prev.since) return now - prev.since;
    this.seen.set(key, { version, since: now });
    return 0;
  }

  /** The file is gone, was read well, or was dealt with. */
  forget(key: string): void {
    this.seen.delete(key);
  }

  /** Forgets every key under `prefix` that is not in `live` (the latest listing). */
  keepOnly(prefix: string, live: ReadonlySet<string>): void {
    for (const key of this.seen.keys()) if (key.startsWith(prefix) && !live.has(key)) this.seen.delete(key);
  }

  get size(): number {
    return this.seen.size;
  }
}
