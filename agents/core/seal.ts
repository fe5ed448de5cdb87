// brain/seals/<batch>.json: what the brain released, so that a task file carries no authority
// of its own. Anyone who can write tasks/queue/ can drop a file there naming any command, any
// batch_path, `approved: true`; an agent runs a task only when its sealed fields match the
// digest the brain wrote for that task id when it made the task, its batch_path is the
// batch's, and an `approved` task has its file in approvals/. The seal is written before any
// of its tasks can be released, and changes only when a foreach adds children.
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from './zod.ts';
import { writeJsonAtomic } from './atomic.ts';
import { readMountFile } from './mountRead.ts';
import { readJsonFile } from './mountJson.ts';
import { type MountPaths, childPath } from './paths.ts';
import { SafeId, Task, type TaskInput } from './task.ts';

/** The fields that decide what runs, where and with what rights. Never changed after the brain makes a task. */
const SEALED = ['id', 'batch', 'plan', 'name', 'type', 'task_class', 'executor', 'command', 'argv', 'cwd', 'batch_path', 'prompt', 'output_schema', 'model', 'target', 'timeout_s'] as const;

export const SealRecord = z.object({
  batch: SafeId,
  batch_path: z.string(),
  /** Task id → digest of its sealed fields. */
  tasks: z.record(z.string(), z.string()),
});
export type SealRecord = z.infer<typeof SealRecord>;

/** A seal holds one digest per task; a foreach of 100,000 items is about 9 MB. */
const MAX_SEAL_BYTES = 32 * 1024 * 1024;

export function sealsDir(paths: MountPaths): string {
  return join(paths.brain, 'seals');
}

export function sealPath(paths: MountPaths, batch: string): string {
  return childPath(sealsDir(paths), `${batch}.json`, 'batch id');
}

/** The digest of a task's sealed fields (sha256, hex). */
const digests = new WeakMap<object, string>();

export function taskDigest(t: Pick<Task, (typeof SEALED)[number]> & { gate?: boolean }): string {
  // Tasks are never changed in place (each version is a new object): an agent checks the same
  // queued task on every claim pass, once hashed is enough.
  const known = digests.get(t);
  if (known !== undefined) return known;
  const fields: unknown[] = SEALED.map((k) => t[k] ?? null);
  // A gate decides whether the tasks behind it run: sealed too, and only when set, so the
  // digests of every other task stay what they were before gates existed.
  if (t.gate === true) fields.push({ gate: true });
  const d = createHash('sha256').update(JSON.stringify(fields)).digest('hex');
  digests.set(t, d);
  return d;
}

/** Adds tasks to a batch's seal (or starts it); written whole, before any of them can be released. */
export function addToSeal(seal: SealRecord | null, batch: string, batchPath: string, tasks: readonly TaskInput[]): SealRecord {
  const out: SealRecord = seal ?? { batch, batch_path: batchPath, tasks: {} };
  // Digests of the tasks as every reader will see them: with the schema's defaults filled in.
  for (const t of tasks) out.tasks[t.id] = taskDigest(Task.parse(t));
  return out;
}

export async function writeSeal(paths: MountPaths, seal: SealRecord): Promise<void> {
  await mkdir(sealsDir(paths), { recursive: true });
  await writeJsonAtomic(sealPath(paths, seal.batch), seal);
}

export async function readSeal(paths: MountPaths, batch: string): Promise<SealRecord | null> {
  let file: string;
  try {
    file = sealPath(paths, batch);
  } catch {
    return null;
  }
  const r = await readJsonFile(file, SealRecord, 'a seal record', { maxBytes: MAX_SEAL_BYTES });
  return r.ok && r.value.batch === batch ? r.value : null;
}

export type SealVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Pure: may this task file run? `approvalFiled`: whether approvals/<task id> exists (the only
 * thing that lets a task marked approved past the executor's approval list).
 */
export function checkSeal(t: Task, seal: SealRecord | null, approvalFiled: boolean): SealVerdict {
  if (seal === null) return { ok: false, reason: `not released by the brain: batch ${t.batch} has no seal (brain/seals/${t.batch}.json)` };
  const want = seal.tasks[t.id];
  if (want === undefined) return { ok: false, reason: `not released by the brain: task ${t.id} is not in its batch's seal` };
  if (t.batch_path !== seal.batch_path) return { ok: false, reason: `batch_path ${t.batch_path} is not its batch's (${seal.batch_path})` };
  if (taskDigest(t) !== want) return { ok: false, reason: 'its command, folders or type differ from what the brain released (the file was changed after release)' };
  if (t.approved && !approvalFiled) return { ok: false, reason: `marked approved, but no approval file approvals/${t.id} exists` };
  return { ok: true };
}

/**
 * The seals an agent has read, per batch. A task id missing from a cached seal re-reads it (a
 * foreach may have added children), at most every `refreshMs`.
 */
export class SealCache {
  private readonly seals = new Map<string, { seal: SealRecord | null; at: number }>();
  private readonly paths: MountPaths;
  private readonly now: () => number;
  private readonly refreshMs: number;
  constructor(paths: MountPaths, now: () => number, refreshMs = 500) {
    this.paths = paths;
    this.now = now;
    this.refreshMs = refreshMs;
  }

  async verdict(t: Task): Promise<SealVerdict> {
    let hit = this.seals.get(t.batch);
    const stale = !hit || ((hit.seal === null || !(t.id in hit.seal.tasks)) && this.now() - hit.at >= this.refreshMs);
    if (stale) {
      hit = { seal: await readSeal(this.paths, t.batch), at: this.now() };
      this.seals.set(t.batch, hit);
    }
    const approvalFiled = t.approved ? (await readMountFile(join(this.paths.approvals, t.id), { maxBytes: 4096 })).ok : false;
    return checkSeal(t, hit!.seal, approvalFiled);
  }

  /** Forgets batches that no longer have queued work. */
  keepOnly(batches: ReadonlySet<string>): void {
    for (const b of this.seals.keys()) if (!batches.has(b)) this.seals.delete(b);
  }
}
