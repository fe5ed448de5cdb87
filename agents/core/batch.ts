// brain/batches/<batch_id>.json: one record per batch, written only by the brain.
// brain/state.json: the index of active batches (the seed's state.json).
import { readdir } from 'node:fs/promises';
import * as z from './zod.ts';
import { isTempName } from './atomic.ts';
import { isGone } from './errors.ts';
import { type JsonFileRead, readJsonFile } from './mountJson.ts';
import { type MountPaths, childPath, isSafeName } from './paths.ts';
import { writeOwnJson } from './quarantine.ts';
import { SafeId } from './task.ts';

export const BATCH_STATES = ['pending', 'running', 'complete', 'failed', 'cancelled'] as const;
export const BatchState = z.enum(BATCH_STATES);
export type BatchState = z.infer<typeof BatchState>;

export const TaskCounts = z.object({
  total: z.number().check(z.int()),
  waiting: z.number().check(z.int()),
  queued: z.number().check(z.int()),
  processing: z.number().check(z.int()),
  complete: z.number().check(z.int()),
  failed: z.number().check(z.int()),
  /** Tasks not run because a gate before them said no (in complete/, not failures); 0 in records written before gates. */
  skipped: z._default(z.number().check(z.int()), 0),
});
export type TaskCounts = z.infer<typeof TaskCounts>;

export const WindowCounts = z.object({
  items: z.number().check(z.int()),
  created: z.number().check(z.int()),
  complete: z.number().check(z.int()),
  failed: z.number().check(z.int()),
});
export type WindowCounts = z.infer<typeof WindowCounts>;

export const BatchRecord = z.object({
  id: SafeId,
  plan: SafeId,
  plan_dir: z.string(),
  batch_path: z.string(),
  state: BatchState,
  values: z.record(z.string(), z.string()),
  submitted_at: z.string(),
  started_at: z.nullable(z.string()),
  finished_at: z.nullable(z.string()),
  /** Every task id of the batch, foreach children included once expanded (except those of a windowed foreach: see windows). */
  task_ids: z.array(SafeId),
  /** Final counts, written when the batch ends (live counts come from the folders). */
  final_counts: z._default(z.nullable(TaskCounts), null),
  /** Tasks that failed for good and those recorded as not run because of them. */
  failed_tasks: z._default(z.array(z.string()), []),
  not_run: z._default(z.array(z.string()), []),
  /** Why tasks failed for good, by task id (the first 20, each cut to 300 characters): what status shows of a failed batch. */
  failure_reasons: z._default(z.record(z.string(), z.string()), {}),
  summary_path: z._default(z.nullable(z.string()), null),
  /**
   * Written when the batch finishes: the tasks a gate's "no" skipped, by the gate's task id,
   * with the reason they were skipped for (brain/gateSkip.ts). Status reads it once the
   * batch's task files are archived.
   */
  skipped_by_gate: z._default(z.record(z.string(), z.object({ reason: z.string(), tasks: z.array(z.string()) })), {}),
  /** 1 (highest) to 5 (lowest): its tasks' priority (core/fairOrder.ts). */
  priority: z._default(z.number().check(z.int(), z.gte(1), z.lte(5)), 3),
  /** When the brain first acted on a cancel of the whole batch (control/cancel/<id>); null: not cancelled. */
  cancelled_at: z._default(z.nullable(z.string()), null),
  /**
   * Windowed foreach templates by task id: items in all, made so far, and children finished and
   * archived (complete, failed). Their live children are in the task folders, not in task_ids.
   */
  windows: z._default(z.record(z.string(), WindowCounts), {}),
});
export type BatchRecord = z.infer<typeof BatchRecord>;
export type BatchRecordInput = z.input<typeof BatchRecord>;

export const BrainState = z.object({
  active_batches: z.array(SafeId),
  updated_at: z.string(),
  brain_pid: z.nullable(z.number().check(z.int())),
  /** The mount's path on the brain's host: task files hold absolute paths under it, so every host must mount it there. */
  shared_root: z.optional(z.string()),
});
export type BrainState = z.infer<typeof BrainState>;

/**
 * Why this process may not work on this mount: the brain names the mount by another path
 * (its host mounts the share elsewhere), so the absolute paths in its task files lead
 * nowhere here. Null when they agree, or when no brain has said yet.
 */
export async function mountPathMismatch(paths: MountPaths): Promise<string | null> {
  const state = await readBrainState(paths);
  const theirs = state?.shared_root;
  if (!theirs || theirs === paths.root) return null;
  return `the brain uses this mount as ${theirs}, this process as ${paths.root}: task files name absolute paths under the brain's, so mount the share at the same path on every host (docs/DEPLOY.md), or start this process with --shared ${theirs}`;
}

export function batchesDir(paths: MountPaths): string {
  return paths.batches;
}

export function batchRecordPath(paths: MountPaths, id: string): string {
  return childPath(batchesDir(paths), `${id}.json`, 'batch id');
}

/** Written by the brain only. `aside` hears of anything that was in the record's place and had to be moved away. */
export async function writeBatchRecord(paths: MountPaths, rec: BatchRecordInput, aside?: (why: string) => void): Promise<BatchRecord> {
  const valid = BatchRecord.parse(rec);
  const moved = await writeOwnJson(paths, 'batches', batchRecordPath(paths, valid.id), valid);
  if (moved) aside?.(moved);
  return valid;
}

/** One batch record, or what is wrong with it (a directory, garbage, a name that is no batch id). */
export async function readBatchRecordFile(paths: MountPaths, id: string): Promise<JsonFileRead<BatchRecord>> {
  if (!isSafeName(id)) return { ok: false, missing: false, problem: 'the file name is not a safe batch id' };
  return readJsonFile(batchRecordPath(paths, id), BatchRecord, 'a batch record (JSON with a state and task_ids)');
}

/** The record, or null when it is absent or unreadable; never throws. */
export async function readBatchRecord(paths: MountPaths, id: string): Promise<BatchRecord | null> {
  const r = await readBatchRecordFile(paths, id);
  return r.ok ? r.value : null;
}

/** Ids of the entries named <id>.json in brain/batches/, whatever they are: a reader judges each. */
export async function listBatchIds(paths: MountPaths): Promise<string[]> {
  try {
    return (await readdir(batchesDir(paths)))
      .filter((n) => n.endsWith('.json') && !isTempName(n))
      .map((n) => n.slice(0, -5))
      .sort();
  } catch (err) {
    if (isGone(err)) return [];
    throw err;
  }
}

export function readBrainStateFile(paths: MountPaths): Promise<JsonFileRead<BrainState>> {
  return readJsonFile(paths.brainState, BrainState, 'the brain state ({"active_batches": [...], ...})');
}

/** brain/state.json, or null when it is absent or unreadable (the brain rebuilds it); never throws. */
export async function readBrainState(paths: MountPaths): Promise<BrainState | null> {
  const r = await readBrainStateFile(paths);
  return r.ok ? r.value : null;
}

/**
 * Written by the brain only (and the doctor while no brain runs). Returns what was in its place
 * and had to be moved away (see writeOwnJson), which `aside` hears too; null when nothing was.
 */
export async function writeBrainState(paths: MountPaths, state: BrainState, aside?: (why: string) => void): Promise<string | null> {
  const moved = await writeOwnJson(paths, 'brain', paths.brainState, BrainState.parse(state));
  if (moved) aside?.(moved);
  return moved;
}

/** The batch a task id belongs to: ids are <batch>__<name>. */
export function batchOfTaskId(id: string): string {
  const i = id.indexOf('__');
  return i < 0 ? id : id.slice(0, i);
}

/** failure_reasons with one more: at most 20 kept, each at most 300 characters. */
export function withFailureReason(reasons: Readonly<Record<string, string>>, id: string, reason: string): Record<string, string> {
  if (id in reasons || Object.keys(reasons).length >= 20) return { ...reasons };
  return { ...reasons, [id]: reason.length > 300 ? `${reason.slice(0, 299)}…` : reason };
}
