// VRAM estimates learned from measured peaks, per (plan, task template): brain/vram_estimates.json.
import { join } from 'node:path';
import * as z from '../core/zod.ts';
import { readJsonFile } from '../core/mountJson.ts';
import type { MountPaths } from '../core/paths.ts';
import { writeOwnJson } from '../core/quarantine.ts';
import type { Task, TaskInput } from '../core/task.ts';

const Estimates = z.record(z.string(), z.object({ peak_mb: z.number().check(z.gte(0)), batch: z.string(), at: z.string() }));
export type Estimates = z.infer<typeof Estimates>;

export function estimatesPath(paths: MountPaths): string {
  return join(paths.brain, 'vram_estimates.json');
}

/** The key a measurement is learned under: foreach children share their template's. */
export function estimateKey(t: Pick<Task, 'plan' | 'name' | 'template'>): string {
  return `${t.plan}/${t.template ?? t.name}`;
}

/** The learned estimates; none when the file is absent or unreadable (they are learned again). */
export async function readEstimates(paths: MountPaths): Promise<Estimates> {
  const r = await readJsonFile(estimatesPath(paths), Estimates, 'the learned VRAM estimates');
  return r.ok ? r.value : {};
}

/** Written by the brain only; something else in the file's place is moved aside (see writeOwnJson). */
export async function writeEstimates(paths: MountPaths, e: Estimates): Promise<void> {
  await writeOwnJson(paths, 'brain', estimatesPath(paths), e);
}

/**
 * A completed script task's measured peak becomes the estimate for the next batch. Within one
 * batch the largest peak of a template's items wins. Returns the new entry, or null when nothing changes.
 */
export function learnFrom(e: Estimates, t: Task, now: string): { key: string; peak: number; before: number | null } | null {
  const peak = t.result?.peak_vram_mb ?? null;
  if (t.task_class !== 'script' || peak === null || peak <= 0) return null;
  const key = estimateKey(t);
  const cur = e[key];
  if (cur && cur.batch === t.batch && cur.peak_mb >= peak) return null;
  if (cur && cur.batch !== t.batch && cur.peak_mb === peak) return null;
  e[key] = { peak_mb: Math.ceil(peak), batch: t.batch, at: now };
  return { key, peak: Math.ceil(peak), before: cur?.peak_mb ?? null };
}

/** Applies learned estimates to a new batch's script tasks; returns what changed, for the log. */
export function applyEstimates(e: Estimates, tasks: TaskInput[]): string[] {
  const changed: string[] = [];
  for (const t of tasks) {
    if (t.task_class !== 'script') continue;
    const learned = e[`${t.plan}/${t.name}`];
    if (learned && learned.peak_mb !== t.vram_estimate_mb) {
      changed.push(`${t.name} ${t.vram_estimate_mb}→${learned.peak_mb} MB`);
      t.vram_estimate_mb = learned.peak_mb;
    }
  }
  return changed;
}
