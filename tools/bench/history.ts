// Task history for the scale test: completed tasks of older batches written straight onto a
// mount (raw writes of valid task files, far faster than the store's fsync per file), either
// where the brain leaves them after a batch (tasks/archive/<batch>/) or, the worst case,
// still in tasks/complete/.
import { mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeBatchRecord } from '../../agents/core/batch.ts';
import type { MountPaths } from '../../agents/core/paths.ts';
import { Task } from '../../agents/core/task.ts';

export interface History {
  batches: string[];
  tasks: number;
}

/** Ids of old batches, sortable like real ones and older than any the run will make. */
function oldBatchId(i: number): string {
  return `20200101-000000-${i.toString(16).padStart(6, '0')}`;
}

function finishedTask(paths: MountPaths, batch: string, name: string): Task {
  const at = '2020-01-01T00:00:01.000Z';
  return Task.parse({
    id: `${batch}__${name}`, batch, plan: 'history', name, task_class: 'cpu', command: 'true', argv: ['true'],
    cwd: join(paths.plans, 'history'), batch_path: join(paths.plans, 'history', 'batches', batch), vram_estimate_mb: 0,
    timeout_s: 3600, max_attempts: 3, attempt: 1, created_at: at, released_at: at, claimed_by: 'gpu-0', claimed_at: at, finished_at: at,
    attempts: [{ attempt: 1, agent: 'gpu-0', claimed_at: at, finished_at: at, outcome: 'success', failure_kind: null, reason: null, exit_code: 0, peak_vram_mb: null }],
    result: {
      task_id: `${batch}__${name}`, attempt: 1, outcome: 'success', failure_kind: null, exit_code: 0, signal: null, reason: null,
      started_at: at, finished_at: at, duration_ms: 7, stdout_path: null, stderr_path: null,
    },
  });
}

/** Writes `total` completed tasks in batches of `perBatch` into tasks/archive/, with their batch records. */
export async function writeArchivedHistory(paths: MountPaths, total: number, perBatch: number): Promise<History> {
  const batches: string[] = [];
  const width = String(perBatch).length;
  for (let b = 0, left = total; left > 0; b++, left -= perBatch) {
    const batch = oldBatchId(b);
    batches.push(batch);
    const dir = join(paths.tasks, 'archive', batch);
    await mkdir(dir, { recursive: true });
    const names = Array.from({ length: Math.min(perBatch, left) }, (_, i) => `t${String(i + 1).padStart(width, '0')}`);
    const template = finishedTask(paths, batch, 'x');
    // 64 writes in flight: enough to keep the disk busy without exhausting file handles.
    for (let i = 0; i < names.length; i += 64) {
      await Promise.all(names.slice(i, i + 64).map((name) => {
        const t = { ...template, id: `${batch}__${name}`, name, result: { ...template.result!, task_id: `${batch}__${name}` } };
        return writeFile(join(dir, `${t.id}.json`), JSON.stringify(t, null, 2) + '\n');
      }));
    }
    await writeBatchRecord(paths, {
      id: batch, plan: 'history', plan_dir: join(paths.plans, 'history'), batch_path: template.batch_path, state: 'complete', values: {},
      submitted_at: template.created_at, started_at: template.created_at, finished_at: template.created_at,
      task_ids: names.map((n) => `${batch}__${n}`),
      final_counts: { total: names.length, waiting: 0, queued: 0, processing: 0, complete: names.length, failed: 0 },
    });
  }
  return { batches, tasks: total };
}

/** The worst case: the history's task files moved from the archive back into tasks/complete/. */
export async function moveHistoryToComplete(paths: MountPaths, history: History): Promise<void> {
  for (const batch of history.batches) {
    const dir = join(paths.tasks, 'archive', batch);
    for (const name of await readdir(dir)) await rename(join(dir, name), join(paths.folders.complete, name));
  }
}
