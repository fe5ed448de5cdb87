// brain/batches/<batch_id>.json: one record per batch, written only by the brain.
// brain/state.json: the index of active batches (the seed's state.json).
import { readdir, readFile } from 'node:fs/promises';
import { z } from 'zod';
import { writeJsonAtomic, isTempName } from './atomic.ts';
import { errorCode } from './errors.ts';
import { type MountPaths, childPath } from './paths.ts';
import { SafeId } from './task.ts';

export const BATCH_STATES = ['pending', 'running', 'complete', 'failed', 'cancelled'] as const;
export const BatchState = z.enum(BATCH_STATES);
export type BatchState = z.infer<typeof BatchState>;

export const TaskCounts = z.object({
  total: z.number().int(),
  waiting: z.number().int(),
  queued: z.number().int(),
  processing: z.number().int(),
  complete: z.number().int(),
  failed: z.number().int(),
});
export type TaskCounts = z.infer<typeof TaskCounts>;

export const BatchRecord = z.object({
  id: SafeId,
  plan: SafeId,
  plan_dir: z.string(),
  batch_path: z.string(),
  state: BatchState,
  values: z.record(z.string(), z.string()),
  submitted_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  /** Every task id of the batch, foreach children included once expanded. */
  task_ids: z.array(SafeId),
  /** Final counts, written when the batch ends (live counts come from the folders). */
  final_counts: TaskCounts.nullable().default(null),
  /** Tasks that failed for good and those recorded as not run because of them. */
  failed_tasks: z.array(z.string()).default([]),
  not_run: z.array(z.string()).default([]),
  summary_path: z.string().nullable().default(null),
});
export type BatchRecord = z.infer<typeof BatchRecord>;
export type BatchRecordInput = z.input<typeof BatchRecord>;

export const BrainState = z.object({
  active_batches: z.array(SafeId),
  updated_at: z.string(),
  brain_pid: z.number().int().nullable(),
});
export type BrainState = z.infer<typeof BrainState>;

export function batchesDir(paths: MountPaths): string {
  return paths.batches;
}

export function batchRecordPath(paths: MountPaths, id: string): string {
  return childPath(batchesDir(paths), `${id}.json`, 'batch id');
}

export async function writeBatchRecord(paths: MountPaths, rec: BatchRecordInput): Promise<BatchRecord> {
  const valid = BatchRecord.parse(rec);
  await writeJsonAtomic(batchRecordPath(paths, valid.id), valid);
  return valid;
}

export async function readBatchRecord(paths: MountPaths, id: string): Promise<BatchRecord | null> {
  try {
    const parsed = BatchRecord.safeParse(JSON.parse(await readFile(batchRecordPath(paths, id), 'utf8')));
    return parsed.success ? parsed.data : null;
  } catch (err) {
    if (errorCode(err) === 'ENOENT' || err instanceof SyntaxError) return null;
    throw err;
  }
}

export async function listBatchIds(paths: MountPaths): Promise<string[]> {
  try {
    return (await readdir(batchesDir(paths)))
      .filter((n) => n.endsWith('.json') && !isTempName(n))
      .map((n) => n.slice(0, -5))
      .sort();
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return [];
    throw err;
  }
}

export async function readBrainState(paths: MountPaths): Promise<BrainState | null> {
  try {
    const parsed = BrainState.safeParse(JSON.parse(await readFile(paths.brainState, 'utf8')));
    return parsed.success ? parsed.data : null;
  } catch (err) {
    if (errorCode(err) === 'ENOENT' || err instanceof SyntaxError) return null;
    throw err;
  }
}

export async function writeBrainState(paths: MountPaths, state: BrainState): Promise<void> {
  await writeJsonAtomic(paths.brainState, BrainState.parse(state));
}

/** The batch a task id belongs to: ids are <batch>__<name>. */
export function batchOfTaskId(id: string): string {
  const i = id.indexOf('__');
  return i < 0 ? id : id.slice(0, i);
}
