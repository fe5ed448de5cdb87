// Which of the rig's meta tasks (load_llm, unload_llm) are still open, across the brain's passes.
// A task that an agent claims or finishes is in no folder for a moment: the store takes it
// under a temporary name, reads it back and renames the new version into place
// (TaskStore.claimRecorded, replace). A scan in that moment does not see it, and a heat decision
// made then would queue the same load again. So a task seen queued or running stays open
// until it is seen finished, or until it has been unseen for `graceMs` (quarantined, lost).
import type { TaskFolder } from '../core/paths.ts';

export class OpenMeta {
  /** id -> when it was last seen open (or queued by this brain), brain clock ms. */
  private readonly lastOpen = new Map<string, number>();

  private readonly graceMs: number;

  constructor(graceMs: number) {
    this.graceMs = graceMs;
  }

  /** A meta task this brain has just written into queue/. */
  queued(id: string, now: number): void {
    this.lastOpen.set(id, now);
  }

  /** One scan's view of the rig's tasks (id -> folder); returns the ids that count as open now. */
  update(rigTasks: ReadonlyMap<string, TaskFolder>, now: number): string[] {
    for (const [id, folder] of rigTasks) if (folder === 'queue' || folder === 'processing') this.lastOpen.set(id, now);
    const open: string[] = [];
    for (const [id, seen] of this.lastOpen) {
      const folder = rigTasks.get(id);
      const finished = folder === 'complete' || folder === 'failed';
      if (finished || (folder === undefined && now - seen > this.graceMs)) this.lastOpen.delete(id);
      else open.push(id);
    }
    return open;
  }
}
