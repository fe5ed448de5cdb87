// What the rules share: the snapshot plus what several rules derive from it (the live copy of
// each task, the orphans, the duplicates), derived once so that each rule stays a plain
// function from this view to its findings.
import { ASK_BATCH } from '../../core/request.ts';
import type { TaskView } from '../../brain/decide.ts';
import type { Config } from '../../core/config.ts';
import type { TaskFolder } from '../../core/paths.ts';
import { DEFAULT_CONFIG, ORPHAN_GRACE_MS, RANK, liveTasks } from '../findings.ts';
import type { BatchRecordView, MountSnapshot, TaskFileView } from '../snapshot.ts';

/** One task in two or more folders: the most advanced copy is kept. */
export interface DuplicateGroup {
  id: string;
  /** Every folder holding it, most advanced first. */
  folders: TaskFolder[];
  keep: TaskFolder;
  drop: TaskFolder[];
}

export interface MountView {
  snap: MountSnapshot;
  /** The snapshot's config, or the defaults without one (retry caps). */
  config: Config;
  records: Map<string, BatchRecordView>;
  /** The most advanced readable copy of each task. */
  live: Map<string, TaskView>;
  /** Task files whose batch has no record (see orphanFiles). */
  orphanFiles: TaskFileView[];
  /** Ids of orphan tasks: judged only as orphans, by no other task rule. */
  orphans: Set<string>;
  duplicates: DuplicateGroup[];
  /** `<folder>/<id>` of every copy a duplicate drops: a dropped processing copy is not judged as lost. */
  shadowed: Set<string>;
}

/**
 * Tasks of a batch with no record file at all. A submission in the inbox makes the brain
 * write that record (again, after a crash), and a batch being submitted has its tasks
 * written just before its record: both are left alone.
 */
export function orphanFiles(snap: MountSnapshot, records: ReadonlyMap<string, unknown>): TaskFileView[] {
  const pending = new Set(snap.pendingSubmissions);
  return snap.taskFiles.filter((f) => {
    const t = f.task;
    // The realtime questions' pseudo-batch has no record: its tasks are the brain's (brain/requests.ts).
    if (!t || records.has(t.batch) || pending.has(t.batch) || t.batch === ASK_BATCH) return false;
    const created = Date.parse(t.created_at);
    return !(Number.isFinite(created) && snap.now - created < ORPHAN_GRACE_MS);
  });
}

/** Tasks (orphans aside) found in more than one folder, in the order of their first copy. */
export function duplicateGroups(files: readonly TaskFileView[], orphans: ReadonlySet<string>): DuplicateGroup[] {
  const copies = new Map<string, TaskFolder[]>();
  for (const f of files) {
    if (!f.task || orphans.has(f.task.id)) continue;
    copies.set(f.task.id, [...(copies.get(f.task.id) ?? []), f.folder]);
  }
  const out: DuplicateGroup[] = [];
  for (const [id, folders] of copies) {
    if (folders.length < 2) continue;
    const sorted = [...folders].sort((a, b) => RANK[b] - RANK[a]);
    out.push({ id, folders: sorted, keep: sorted[0]!, drop: sorted.slice(1) });
  }
  return out;
}

export function viewMount(snap: MountSnapshot): MountView {
  const records = new Map(snap.batches.map((b) => [b.id, b]));
  const orphaned = orphanFiles(snap, records);
  const orphans = new Set(orphaned.map((f) => f.task!.id));
  const duplicates = duplicateGroups(snap.taskFiles, orphans);
  const shadowed = new Set(duplicates.flatMap((d) => d.drop.map((folder) => `${folder}/${d.id}`)));
  return {
    snap, config: snap.config ?? DEFAULT_CONFIG, records, live: liveTasks(snap.taskFiles),
    orphanFiles: orphaned, orphans, duplicates, shadowed,
  };
}
