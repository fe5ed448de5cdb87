// Parsed tasks of one folder, kept while their files are unchanged. An agent's claim pass looks
// at every queued task on every pass, and the brain's scan and its watch over agents both look
// at every running one; most are the same files as last time, and a stat costs a fraction of an
// open, read, JSON parse and schema check. Files change only by rename (a new inode), so inode,
// size and times name one version of a file (readByChange.ts, which also re-reads a file once
// its last read is maxAgeMs old, for a network mount's cached stat).
import type { TaskFolder } from './paths.ts';
import { ReadByChange } from './readByChange.ts';
import type { KnownVersion, ReadOutcome, TaskStore } from './store.ts';
import type { Task } from './task.ts';

type Read = ReadOutcome & { ok: true };

export class TaskCache {
  private readonly last: ReadByChange<Read>;
  private readonly store: TaskStore;
  private readonly folder: TaskFolder;

  /** `maxAgeMs`: read a file again at least this often whatever its stat says (default never: a local folder's stat is exact). */
  constructor(store: TaskStore, folder: TaskFolder, o: { maxAgeMs?: number; now?: () => number; stat?: (path: string) => Promise<string | null> } = {}) {
    this.store = store;
    this.folder = folder;
    this.last = new ReadByChange({ maxAgeMs: o.maxAgeMs ?? Infinity, now: o.now ?? Date.now, stat: o.stat });
  }

  /** The task as its file holds it now, or null when it is gone or unreadable (quarantined by the store). */
  async read(id: string): Promise<Task | null> {
    const r = await this.lookUp(id, true);
    return r.ok ? r.task : null;
  }

  /**
   * As read(), with the store's reason when there is no task ('not_ready': maybe a torn read,
   * look again). A file that cannot be stat'ed is read anyway, for the store to judge.
   */
  outcome(id: string): Promise<ReadOutcome> {
    return this.lookUp(id, false);
  }

  private async lookUp(id: string, goneWithoutStat: boolean): Promise<ReadOutcome> {
    // lstat: a symlink is judged (and quarantined) by the store, never followed here.
    const look = await this.last.look(id, this.store.fileOf(this.folder, id));
    if (!look.changed) return look.value;
    if (look.version === null && goneWithoutStat) {
      this.last.forget(id);
      return { ok: false, reason: 'missing' };
    }
    // Read after the stat: what is read is this version of the file or a later one, and a
    // later one has another version, so the next look reads again.
    const r = await this.store.read(this.folder, id);
    if (r.ok) this.last.noteRead(id, look.version, r);
    else this.last.forget(id);
    return r;
  }

  /** The task last read for this name with the text it was read from (see peek), for a writer that checks the file still holds it. */
  known(id: string): KnownVersion | null {
    const e = this.last.value(id);
    return e ? { task: e.task, text: e.text } : null;
  }

  /**
   * The task last read for this name, without looking at the file: cheap, and possibly an older
   * version. Whoever acts on it checks it with read() first (the agent before each claim).
   */
  peek(id: string): Task | null {
    return this.last.value(id)?.task ?? null;
  }

  /** Forgets every task not in `ids` (the folder's listing): the cache never outgrows the folder. */
  keepOnly(ids: Iterable<string>): void {
    this.last.keepOnly(new Set(ids));
  }

  get size(): number {
    return this.last.size;
  }
}
