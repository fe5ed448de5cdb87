// What a claim pass reads from queue/: the tasks (parsed once per file version, TaskCache), the
// seal verdict of each that may run here (a queued file runs only when it is what the brain
// released), and which seal refusals are worth a log line (RefusalNotes).
import type { MountPaths } from '../core/paths.ts';
import { SealCache, type SealVerdict } from '../core/seal.ts';
import type { TaskStore } from '../core/store.ts';
import type { Task } from '../core/task.ts';
import { TaskCache } from '../core/taskCache.ts';
import { type QueuedTask, isForAgent } from './decideClaims.ts';
import { RefusalNotes } from './refusalNotes.ts';

export class QueueReader {
  private readonly cache: TaskCache;
  private readonly seals: SealCache;
  private readonly refusals = new RefusalNotes();
  private readonly name: string;

  constructor(o: { paths: MountPaths; store: TaskStore; name: string; now: () => number }) {
    this.cache = new TaskCache(o.store, 'queue');
    this.seals = new SealCache(o.paths, o.now);
    this.name = o.name;
  }

  /** The tasks of these queue/ files that read, with the seal verdict of each that may run on this agent; the cache keeps only these. */
  async read(ids: readonly string[]): Promise<QueuedTask[]> {
    this.cache.keepOnly(ids);
    const out: QueuedTask[] = [];
    for (const id of ids) {
      const task = await this.cache.read(id);
      if (task) out.push({ id, task, seal: isForAgent(task, this.name) ? await this.seals.verdict(task) : null });
    }
    return out;
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
