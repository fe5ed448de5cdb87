// Reading by change. A reader that looks at the same files again and again (the brain's spool
// merge every second, its heartbeat watch every pass) stats each first and reads it only when
// its version (inode, size and times: unreadable.ts statsVersion) moved since its last read:
// one system call instead of an open, a stat, reads, a close and a parse, for files that
// mostly sit unchanged on an idle rig.
//
// A stat can miss a change: on a network mount it may be answered from the client's attribute
// cache (NFS keeps attributes 3 to 60 s; an open revalidates them, close-to-open), and a file
// rewritten within one tick of a coarse clock (sshfs counts whole seconds), with the same size
// and a reused inode, looks the same. So a file is read anyway once its last read is maxAgeMs
// old: a change is seen late by at most that, never missed.
import { lstat } from 'node:fs/promises';
import { statsVersion } from './unreadable.ts';

/** A file's last read: its version then (taken before the read), when (reader's clock), and what the reader kept of it. */
export interface LastRead<T> {
  version: string;
  at: number;
  value: T;
}

/**
 * Pure: whether a file now at `version` (null: it could not be stat'ed) must be read, given
 * its last read. A clock that went back counts as due.
 */
export function mustRead(last: { version: string; at: number } | undefined, version: string | null, now: number, maxAgeMs: number): boolean {
  if (!last || version === null || version !== last.version) return true;
  return now < last.at || now - last.at >= maxAgeMs;
}

/**
 * What a look found: the file's version now (to note after a read), and whether it changed
 * since its last read; when it did not, the value kept from that read.
 */
export type ChangeLook<T> = { changed: false; version: string; value: T } | { changed: true; version: string | null };

/** The version of a file from one lstat (a symlink is not followed); null when it cannot be stat'ed. */
export async function versionOf(path: string): Promise<string | null> {
  try {
    return statsVersion(await lstat(path));
  } catch {
    return null;
  }
}

/**
 * The last read of each file a reader looks at, by key. Bounded by the caller: keepOnly()
 * with the latest listing, forget() for a file dealt with.
 */
export class ReadByChange<T> {
  private readonly last = new Map<string, LastRead<T>>();
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  private readonly stat: (path: string) => Promise<string | null>;

  /** `now`: the reader's clock (ms); `stat`: a file's version (tests inject one). */
  constructor(o: { maxAgeMs: number; now: () => number; stat?: (path: string) => Promise<string | null> }) {
    this.maxAgeMs = o.maxAgeMs;
    this.now = o.now;
    this.stat = o.stat ?? versionOf;
  }

  /**
   * Stats `path` (the file of `key`): whether it must be read, or the value of its last read.
   * `maxAgeMs` (default the reader's) may be Infinity for a file whose stat is known exact.
   */
  async look(key: string, path: string, maxAgeMs: number = this.maxAgeMs): Promise<ChangeLook<T>> {
    const version = await this.stat(path);
    const last = this.last.get(key);
    if (last && version !== null && !mustRead(last, version, this.now(), maxAgeMs)) return { changed: false, version, value: last.value };
    return { changed: true, version };
  }

  /**
   * Notes a whole read of `key`'s file: `version` is what look() gave before the read, so a
   * change made during the read shows as a new version at the next look. A null version
   * (the stat failed) notes nothing: the next look reads again.
   */
  noteRead(key: string, version: string | null, value: T): void {
    if (version === null) this.last.delete(key);
    else this.last.set(key, { version, at: this.now(), value });
  }

  /** What the reader kept of `key`'s last read, without looking at the file. */
  value(key: string): T | undefined {
    return this.last.get(key)?.value;
  }

  forget(key: string): void {
    this.last.delete(key);
  }

  /** Forgets every key not in `live` (the latest listing). */
  keepOnly(live: ReadonlySet<string>): void {
    for (const key of this.last.keys()) if (!live.has(key)) this.last.delete(key);
  }

  get size(): number {
    return this.last.size;
  }
}
