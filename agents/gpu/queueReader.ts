// What a claim pass reads from queue/: the tasks (parsed once per file version, TaskCache), the
// seal verdict of each that may run here (a queued file runs only when it is what the brain
// released), and which seal refusals are worth a log line (RefusalNotes).
import type { MountPaths } from '../core/paths.ts';
import { SealCache, type SealVerdict } from '../core/seal.ts';
import type { KnownVersion, TaskStore } from '../core/store.ts';
import type { Task } from '../core/task.ts';
import { TaskCache } from '../core/taskCache.ts';
import { type QueuedTask, isForAgent } from './decideClaims.ts';
import { RefusalNotes } from './refusalNotes.ts';

/** Longest a queued file is judged by the version last read without a stat, ms. */
export const SWEEP_MS = 2000;

export class QueueReader {
  private readonly cache: TaskCache;
  private readonly seals: SealCache;
  private readonly refusals = new RefusalNotes();
  private readonly name: string;
  private readonly now: () => number;
  private sweptAt = -Infinity;

  constructor(o: { paths: MountPaths; store: TaskStore; name: string; now: () => number }) {
    this.cache = new TaskCache(o.store, 'queue');
    this.seals = new SealCache(o.paths, o.now);
    this.name = o.name;
    this.now = o.now;
  }

  /**
   * The tasks of these queue/ files that read, with the seal verdict of each that may run on this
   * agent; the cache keeps only these. A file read before is taken as last read (no stat) except
   * in a sweep, at most every SWEEP_MS: a pass costs a stat per new file, not per queued one. What
   * is about to be claimed is checked first (verify); the sweep bounds how long a file replaced
   * under the same name (a retry that left and came back between two passes) is judged by its
   * older version.
   */
  async read(ids: readonly string[]): Promise<QueuedTask[]> {
    this.cache.keepOnly(ids);
    const sweep = this.now() - this.sweptAt >= SWEEP_MS;
    if (sweep) this.sweptAt = this.now();
    const out: QueuedTask[] = [];
    for (const id of ids) {
      const task = (sweep ? null : this.cache.peek(id)) ?? (await this.cache.read(id));
      if (task) out.push(await this.withSeal(id, task));
    }
    return out;
  }

  /** The queued file as it is now (a stat, and a read when it changed), or null when it is gone: checked before a claim. */
  async verify(id: string): Promise<QueuedTask | null> {
    const task = await this.cache.read(id);
    return task ? this.withSeal(id, task) : null;
  }

  private async withSeal(id: string, task: Task): Promise<QueuedTask> {
    return { id, task, seal: isForAgent(task, this.name) ? await this.seals.verdict(task) : null };
  }

  /** The queued file as last read (verify): what a claim expects to take. */
  known(id: string): KnownVersion | null {
    return this.cache.known(id);
  }

  /** The seal verdict of a task (again, on the file as claimed: it may have been swapped between the read and the rename). */
  sealOf(task: Task): Promise<SealVerdict> {
    return this.seals.verdict(task);
  }

  /** Notes a seal refusal; true when it should be logged now. */
  noteRefusal(id: string, now: number): boolean {
    return this.refusals.note(id, now);
  }
}
