// Parsed tasks of one folder, kept while their files are unchanged. An agent's claim pass looks
// at every queued task on every pass; most are the same files as last time, and a stat costs a
// fraction of an open, read, JSON parse and schema check. Files change only by rename (a new
// inode), so inode, size and times name one version of a file.
import { lstat } from 'node:fs/promises';
import type { TaskFolder } from './paths.ts';
import type { KnownVersion, TaskStore } from './store.ts';
import type { Task } from './task.ts';
import { statsVersion } from './unreadable.ts';

export class TaskCache {
  private readonly entries = new Map<string, { key: string; task: Task; text: string }>();
  private readonly store: TaskStore;
  private readonly folder: TaskFolder;
  constructor(store: TaskStore, folder: TaskFolder) {
    this.store = store;
    this.folder = folder;
  }

  /** The task as its file holds it now, or null when it is gone or unreadable (quarantined by the store). */
  async read(id: string): Promise<Task | null> {
    let key: string;
    try {
      // lstat: a symlink is judged (and quarantined) by the store, never followed here.
      key = statsVersion(await lstat(this.store.fileOf(this.folder, id)));
    } catch {
      this.entries.delete(id);
      return null;
    }
    const hit = this.entries.get(id);
    if (hit?.key === key) return hit.task;
    // Read after the stat: what is read is this version of the file or a later one, and a
    // later one has another key, so the next read looks again.
    const r = await this.store.read(this.folder, id);
    if (!r.ok) {
      this.entries.delete(id);
      return null;
    }
    this.entries.set(id, { key, task: r.task, text: r.text });
    return r.task;
  }

  /** The task last read for this name with the text it was read from (see peek), for a writer that checks the file still holds it. */
  known(id: string): KnownVersion | null {
    const e = this.entries.get(id);
    return e ? { task: e.task, text: e.text } : null;
  }

  /**
   * The task last read for this name, without looking at the file: cheap, and possibly an older
   * version. Whoever acts on it checks it with read() first (the agent before each claim).
   */
  peek(id: string): Task | null {
    return this.entries.get(id)?.task ?? null;
  }

  /** Forgets every task not in `ids` (the folder's listing): the cache never outgrows the folder. */
  keepOnly(ids: readonly string[]): void {
    const live = new Set(ids);
    for (const id of this.entries.keys()) if (!live.has(id)) this.entries.delete(id);
  }

  get size(): number {
    return this.entries.size;
  }
}
