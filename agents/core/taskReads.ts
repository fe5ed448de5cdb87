// Reads of one task folder's files that several readers in one process share (the brain's scan
// and its watch over agents both look at processing/): a file is read again only when its stat
// moved, and in full at least every maxAgeMs, since a network mount's stat may be cached
// (readByChange.ts). A claim or a result is a rename, so each new version has a new inode.
import type { TaskFolder } from './paths.ts';
import { ReadByChange } from './readByChange.ts';
import type { ReadOutcome, TaskStore } from './store.ts';

export class TaskReads {
  private readonly store: TaskStore;
  private readonly folder: TaskFolder;
  private readonly last: ReadByChange<{ task: ReadOutcome & { ok: true } }>;

  constructor(store: TaskStore, folder: TaskFolder, o: { maxAgeMs: number; now: () => number; stat?: (path: string) => Promise<string | null> }) {
    this.store = store;
    this.folder = folder;
    this.last = new ReadByChange(o);
  }

  /** The task as its file holds it now: the last read when the file's version has not moved, else a read (TaskStore.read). */
  async read(id: string): Promise<ReadOutcome> {
    const look = await this.last.look(id, this.store.fileOf(this.folder, id));
    if (!look.changed) return look.value.task;
    const r = await this.store.read(this.folder, id);
    if (r.ok) this.last.noteRead(id, look.version, { task: r });
    else this.last.forget(id);
    return r;
  }

  /** Forgets every file not in `ids` (the folder's latest listing). */
  keepOnly(ids: Iterable<string>): void {
    this.last.keepOnly(new Set(ids));
  }
}
