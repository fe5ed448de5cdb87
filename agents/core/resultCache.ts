// brain/cache/<batch_id>.json: the result cache of one batch, written by the brain only, when
// the batch ends. For each task that completed: the input key its worker computed before it ran
// (core/inputKey.ts) and the files it left. `forge submit --resume` keeps a task complete while
// its key is unchanged and those files are there (brain/resumePlan.ts).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from './zod.ts';
import { readJsonFile } from './mountJson.ts';
import { type MountPaths, childPath } from './paths.ts';
import { writeOwnJson } from './quarantine.ts';
import { SafeId } from './task.ts';

export const CachedResult = z.object({
  key: z.string().check(z.maxLength(128)),
  outputs: z.array(z.string()).check(z.maxLength(128)),
});
export type CachedResult = z.infer<typeof CachedResult>;

export const ResultCache = z.object({
  batch: SafeId,
  written_at: z.string(),
  /** Task id → what its completed run was keyed on and left. */
  tasks: z.record(z.string(), CachedResult),
});
export type ResultCache = z.infer<typeof ResultCache>;

/** A batch of 100,000 tasks with a few outputs each fits well under it. */
const MAX_CACHE_BYTES = 64 * 1024 * 1024;

export function resultCacheDir(paths: MountPaths): string {
  return join(paths.brain, 'cache');
}

export function resultCachePath(paths: MountPaths, batch: string): string {
  return childPath(resultCacheDir(paths), `${batch}.json`, 'batch id');
}

/** Written whole by the brain; what was in its place (not a regular file) is moved aside, as writeOwnJson does. */
export async function writeResultCache(paths: MountPaths, cache: ResultCache): Promise<void> {
  await mkdir(resultCacheDir(paths), { recursive: true });
  await writeOwnJson(paths, 'cache', resultCachePath(paths, cache.batch), ResultCache.parse(cache));
}

/** The batch's cache; an empty one when there is none. A file that is not a cache of this batch is a problem, said in words. */
export async function readResultCache(paths: MountPaths, batch: string): Promise<{ ok: true; cache: ResultCache } | { ok: false; problem: string }> {
  const file = resultCachePath(paths, batch);
  const r = await readJsonFile(file, ResultCache, 'a result cache {"batch", "written_at", "tasks": {...}}', { maxBytes: MAX_CACHE_BYTES });
  if (r.ok) {
    if (r.value.batch !== batch) return { ok: false, problem: `${file}: holds the cache of batch ${r.value.batch}, not ${batch}` };
    return { ok: true, cache: r.value };
  }
  if (r.missing) return { ok: true, cache: { batch, written_at: '', tasks: {} } };
  return { ok: false, problem: `${file}: ${r.problem}` };
}
