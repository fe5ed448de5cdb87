// brain/profiles.ts: what the brain learns of each (plan, task template) for predictions
// (forge submit --dry-run): how long a task runs, how long it waits to start once it could,
// the VRAM it peaks at, and for a foreach template how many items it had. Also how long each
// model took to load. Written by the brain only, after each completed task and at each batch's
// end; read by the dry run. The learning is pure (learnFromTask, learnFromBatchEnd).
//
// Aggregation: each template's figures come from the latest batch that ran it, not from all
// batches: a plan's data and scripts change from run to run, and the last run is the best guess
// for the next. Within that batch the runtime is the median of its successful attempts (one
// straggler does not move it), with the maximum beside it; the VRAM peak is the maximum (what
// a card must hold for the worst item, as vram_estimates.json keeps); the start lag is the
// smallest seen (the rig's own delay from "could start" to "started", without the time a task
// waited for a free card, which the prediction simulates itself).
import { join } from 'node:path';
import * as z from '../core/zod.ts';
import { readJsonFile } from '../core/mountJson.ts';
import type { MountPaths } from '../core/paths.ts';
import { writeOwnJson } from '../core/quarantine.ts';
import { TaskClass, type Task } from '../core/task.ts';
import type { BatchRecord } from '../core/batch.ts';

/** Durations kept per template for the median: enough for a stable median, small enough that the file stays far under the 1 MiB read limit. */
export const MAX_SAMPLES = 32;
/** Templates kept; the least recently learned go first. At most about 1.2 KB each as written (32 long durations, 64-character names): the full file stays under half the 1 MiB read limit. */
export const MAX_TEMPLATES = 400;
/** Models whose load time is kept. */
export const MAX_MODELS = 200;

const Ms = z.number().check(z.gte(0));

export const TemplateProfile = z.object({
  /** The batch these figures come from: the latest to run a task of this template. */
  batch: z.string(),
  /** When they were last learned (the brain's clock). */
  at: z.string(),
  task_class: TaskClass,
  /** Who runs it: worker or agent on a GPU, or the brain (a foreach's close, batch_summary). */
  executor: z._default(z.enum(['worker', 'agent', 'brain']), 'worker'),
  /** Successful attempts measured in that batch. */
  runs: z.number().check(z.int(), z.gte(0)),
  /** duration_ms of those attempts, at most MAX_SAMPLES (each new one replaces the oldest when full). */
  durations_ms: z.array(Ms).check(z.maxLength(MAX_SAMPLES)),
  median_ms: Ms,
  max_ms: Ms,
  /** ms from when the task could start (its dependencies done, or the batch started) to when it started; the smallest seen. null: not known. */
  start_lag_ms: z._default(z.nullable(Ms), null),
  /** The highest measured VRAM of one task of it, MB; null: never measured. */
  peak_vram_mb: z._default(z.nullable(Ms), null),
  /** A foreach template: how many items its manifest had. */
  items: z._default(z.nullable(z.number().check(z.int(), z.gte(0))), null),
  /** A foreach template: ms from its last item's finish to the brain closing it (its dependants may start then). */
  close_ms: z._default(z.nullable(Ms), null),
});
export type TemplateProfile = z.infer<typeof TemplateProfile>;

export const ModelProfile = z.object({ load_ms: Ms, at: z.string() });

export const Profiles = z.object({
  templates: z._default(z.record(z.string(), TemplateProfile), {}),
  models: z._default(z.record(z.string(), ModelProfile), {}),
});
export type Profiles = z.infer<typeof Profiles>;

export function emptyProfiles(): Profiles {
  return { templates: {}, models: {} };
}

export function profilesPath(paths: MountPaths): string {
  return join(paths.brain, 'profiles.json');
}

/** The key of a task's profile: foreach children share their template's. */
export function profileKey(plan: string, template: string): string {
  return `${plan}/${template}`;
}

/** The learned profiles; none when the file is absent or unreadable (they are learned again), with the reason when it is unreadable. */
export async function readProfiles(paths: MountPaths): Promise<{ profiles: Profiles; problem: string | null }> {
  const r = await readJsonFile(profilesPath(paths), Profiles, 'the learned task profiles');
  if (r.ok) return { profiles: r.value, problem: null };
  return { profiles: emptyProfiles(), problem: r.missing ? null : `${profilesPath(paths)}: ${r.problem}` };
}

/** Written by the brain only; something else in the file's place is moved aside (see writeOwnJson). */
export async function writeProfiles(paths: MountPaths, p: Profiles): Promise<void> {
  await writeOwnJson(paths, 'brain', profilesPath(paths), p);
}

const ms = (iso: string | null | undefined): number | null => {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : null;
};

function median(xs: readonly number[]): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : Math.round((s[mid - 1]! + s[mid]!) / 2);
}

/** The entry for this batch: the one there when it is this batch's, else a fresh one (a newer batch replaces an older one's figures). */
function entryFor(p: Profiles, key: string, batch: string, cls: TaskClass, executor: TemplateProfile['executor'], now: string): TemplateProfile {
  const cur = p.templates[key];
  if (cur && cur.batch === batch) return cur;
  const fresh: TemplateProfile = { batch, at: now, task_class: cls, executor, runs: 0, durations_ms: [], median_ms: 0, max_ms: 0, start_lag_ms: null, peak_vram_mb: null, items: null, close_ms: null };
  delete p.templates[key];
  p.templates[key] = fresh;
  prune(p.templates, MAX_TEMPLATES);
  return fresh;
}

/** Keeps the `max` entries learned last (insertion order is learning order: entryFor re-inserts). */
function prune(rec: Record<string, unknown>, max: number): void {
  const keys = Object.keys(rec);
  for (const k of keys.slice(0, Math.max(0, keys.length - max))) delete rec[k];
}

function addDuration(e: TemplateProfile, d: number): void {
  if (e.durations_ms.length < MAX_SAMPLES) e.durations_ms.push(d);
  else e.durations_ms[e.runs % MAX_SAMPLES] = d;
  e.runs += 1;
  e.median_ms = median(e.durations_ms);
  e.max_ms = Math.max(e.max_ms, d);
}

function noteLag(e: TemplateProfile, lag: number | null): void {
  if (lag === null || lag < 0) return;
  e.start_lag_ms = e.start_lag_ms === null ? lag : Math.min(e.start_lag_ms, lag);
}

function noteLoad(p: Profiles, model: string, loadMs: number, now: string): void {
  delete p.models[model];
  p.models[model] = { load_ms: loadMs, at: now };
  prune(p.models, MAX_MODELS);
}

export interface TaskLearnContext {
  /** When the task could start: its dependencies' latest finished_at, or the batch's started_at (ms); null when unknown. */
  readyAt: number | null;
  /** A foreach child: how many items its template has; null otherwise or unknown. */
  items: number | null;
  /** The brain's clock, ISO. */
  now: string;
}

/**
 * A task run by a worker or an agent, newly seen complete: its runtime, start lag, peak and
 * (for a foreach child) its template's item count go into its template's profile; a load_llm
 * task's runtime, or the load time an llm task's runtime reported, is its model's load time. Returns the key learned, or null when the task says
 * nothing (not a success, or run by the brain, or a foreach template: see learnFromBatchEnd).
 */
export function learnFromTask(p: Profiles, t: Task, ctx: TaskLearnContext): string | null {
  const r = t.result;
  if (!r || r.outcome !== 'success' || t.executor === 'brain' || t.foreach !== null) return null;
  const key = profileKey(t.plan, t.template ?? t.name);
  const e = entryFor(p, key, t.batch, t.task_class, t.executor, ctx.now);
  e.at = ctx.now;
  addDuration(e, r.duration_ms);
  const started = ms(r.started_at);
  noteLag(e, started !== null && ctx.readyAt !== null ? started - ctx.readyAt : null);
  const peak = r.peak_vram_mb ?? null;
  if (peak !== null && peak > 0) e.peak_vram_mb = Math.max(e.peak_vram_mb ?? 0, Math.ceil(peak));
  if (ctx.items !== null) e.items = ctx.items;
  // A model's load: a load_llm task's whole run, or the load the runtime reported for an llm task's first request.
  if (t.type === 'load_llm' && t.model) noteLoad(p, t.model, r.duration_ms, ctx.now);
  else if (r.llm?.load_ms) noteLoad(p, r.llm.model, r.llm.load_ms, ctx.now);
  return key;
}

/** When a task could start: the latest finish among its dependencies, else the batch's start. */
export function readyTime(t: Pick<Task, 'depends_on'>, finishedAt: (id: string) => number | null, batchStart: number | null): number | null {
  if (!t.depends_on.length) return batchStart;
  let latest = -Infinity;
  for (const d of t.depends_on) {
    const f = finishedAt(d);
    if (f === null) return null;
    latest = Math.max(latest, f);
  }
  return latest;
}

/** A foreach template's item count, from its record: its window's or its expansion's. */
export function itemsOf(template: Pick<Task, 'window' | 'expanded_into'> | undefined): number | null {
  if (!template) return null;
  return template.window?.items ?? template.expanded_into?.length ?? null;
}

/**
 * A batch that ended complete: what only the brain does is learned from its tasks. A foreach
 * template's item count and its close (from its last item's finish to the template's), in the
 * template's profile beside its items' figures; and batch_summary's time from its dependencies'
 * end to the batch's end, as its start lag. `tasks` are the batch's tasks the brain still holds
 * (a windowed foreach's archived items are not among them: its close is then not learned).
 * Returns the keys learned.
 */
export function learnFromBatchEnd(p: Profiles, rec: Pick<BatchRecord, 'id' | 'plan' | 'state' | 'started_at' | 'finished_at'>, tasks: readonly Task[], now: string): string[] {
  if (rec.state !== 'complete') return [];
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const finished = (id: string) => ms(byId.get(id)?.finished_at);
  const learned: string[] = [];
  for (const t of tasks) {
    // Foreach templates (closed by the brain) and batch_summary (run by it); the rest is learned task by task.
    if (t.result?.outcome !== 'success' || (t.foreach === null && t.executor !== 'brain')) continue;
    const key = profileKey(t.plan, t.name);
    const e = entryFor(p, key, rec.id, t.task_class, t.foreach ? 'worker' : 'brain', now);
    e.at = now;
    if (t.foreach) {
      e.items = itemsOf(t);
      const last = (t.expanded_into ?? []).map(finished);
      const from = last.length && !t.window && last.every((f) => f !== null) ? Math.max(...(last as number[])) : null;
      const to = ms(t.finished_at);
      if (from !== null && to !== null && to >= from) e.close_ms = to - from;
    } else {
      // batch_summary: the batch ends right after it; its lag runs to the batch's end.
      const from = readyTime(t, finished, ms(rec.started_at));
      const to = ms(rec.finished_at) ?? ms(t.finished_at);
      e.runs = Math.max(e.runs, 1);
      if (from !== null && to !== null && to >= from) e.start_lag_ms = to - from;
    }
    learned.push(key);
  }
  return learned;
}
