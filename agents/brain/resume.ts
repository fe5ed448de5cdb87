// A resume request (brain/inbox/<batch>.resume.json, written by `forge submit --resume BATCH`):
// the failed or cancelled batch is reopened in place, same id and batch folder. Its tasks come
// back from tasks/archive/<batch>/ as resumePlan.ts judges them: kept ones into complete/ as
// they ended (logged CACHED), the others into private/ with fresh attempts (logged RERUN), a
// foreach template that is made again without its children. Then the batch runs again.
//
// Like a retry by hand (controls.ts), applying it twice does no harm: a task already moved back
// is found in its folder and judged the same, so a brain killed half way does the rest on its
// next life (the request stays in the inbox until the batch record says running).
import { lstat, readdir, unlink } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { readBatchRecordFile } from '../core/batch.ts';
import { clearControls } from '../core/controls.ts';
import { isGone } from '../core/errors.ts';
import type { Submission } from '../core/inbox.ts';
import { type DigestMemo, taskInputKey } from '../core/keyFiles.ts';
import { archiveDir } from '../core/placeTask.ts';
import { childPath, type TaskFolder } from '../core/paths.ts';
import { readResultCache } from '../core/resultCache.ts';
import type { Task } from '../core/task.ts';
import { readTaskFile } from '../core/taskFile.ts';
import type { BrainIndex } from './brainIndex.ts';
import { FINAL } from './brainIndex.ts';
import { resetForRetry } from './controls.ts';
import { type ResumeTask, type ResumeVerdict, planResume, resumeKeysNeeded } from './resumePlan.ts';

/** CACHED and RERUN lines logged per resume; past these, one line counts the rest. */
const MAX_TASK_LINES = 100;

interface Held {
  task: Task;
  /** Where its file is now: a task folder, or the batch's archive. */
  at: TaskFolder | 'archive';
}

export function resumeRole(t: Task): ResumeTask['role'] {
  if (t.type === 'batch_summary') return 'summary';
  if (t.executor === 'agent') return 'meta';
  if (t.foreach !== null) return 'template';
  if (t.template !== null) return 'child';
  return 'work';
}

function toResumeTask(h: Held): ResumeTask {
  const t = h.task;
  return {
    id: t.id,
    name: t.name,
    depends_on: t.depends_on,
    role: resumeRole(t),
    children: t.expanded_into,
    windowed: t.window !== null,
    complete: (h.at === 'complete' || h.at === 'archive') && t.result?.outcome === 'success',
    outcome: t.result?.outcome ?? null,
  };
}

/**
 * Reopens the batch the request names. Returns the problems that refuse it (nothing changed
 * then), or an empty list once the batch runs again.
 */
export async function resumeBatch(ix: BrainIndex, sub: Submission): Promise<string[]> {
  const id = sub.batch_id;
  if (!id) return ['a resume request names the batch it resumes: {"plan": "NAME", "batch_id": "ID", "resume": true}'];
  const active = ix.batches.get(id);
  if (active && !FINAL.has(active.state)) return [`batch ${id} is ${active.state}: only a failed or cancelled batch can be resumed`];
  const read = await readBatchRecordFile(ix.paths, id);
  if (!read.ok) return [read.missing ? `no batch ${id} (brain/batches/${id}.json); forge status lists the batches` : `batch ${id}: ${read.problem}`];
  const rec = read.value;
  if (rec.plan !== sub.plan) return [`batch ${id} is of plan ${rec.plan}, not ${sub.plan}`];
  if (rec.state !== 'failed' && rec.state !== 'cancelled') return [`batch ${id} is ${rec.state}: only a failed or cancelled batch can be resumed`];

  const held = await gatherTasks(ix, rec.task_ids, id);
  const gone = rec.task_ids.filter((t) => !held.has(t));
  if (gone.length) return [`batch ${id}: ${gone.length} of its ${rec.task_ids.length} task files are gone (tasks/archive/${id}/ is pruned after housekeeping.archive_keep_days), e.g. ${gone[0]}; submit its plan again for a new run`];
  const cacheRead = await readResultCache(ix.paths, id);
  const cached = new Map(cacheRead.ok ? Object.entries(cacheRead.cache.tasks) : []);
  const tasks = [...held.values()].map(toResumeTask);
  const keysNow = new Map<string, string | null>();
  const missingOutputs = new Map<string, string[]>();
  const memo: DigestMemo = new Map();
  for (const tid of resumeKeysNeeded(tasks, cached)) {
    const t = held.get(tid)!.task;
    keysNow.set(tid, await taskInputKey(t, ix.config, memo).catch(() => null));
    missingOutputs.set(tid, await missingOf(cached.get(tid)!.outputs, t.batch_path));
  }
  const verdicts = planResume(tasks, { cached, keysNow, missingOutputs });
  await applyVerdicts(ix, id, held, verdicts);
  await clearControls(ix.paths, id, rec.task_ids);

  const dropped = new Set(verdicts.flatMap((v) => (v.verdict === 'reexpand' ? v.dropped : [])));
  const remade = new Set(verdicts.filter((v) => v.verdict === 'reexpand').map((v) => v.id));
  const open = {
    ...rec, state: 'running' as const, finished_at: null, final_counts: null, cancelled_at: null, failed_tasks: [], not_run: [], failure_reasons: {}, summary_path: null,
    task_ids: rec.task_ids.filter((t) => !dropped.has(t)),
    windows: Object.fromEntries(Object.entries(rec.windows).filter(([t]) => !remade.has(t))),
  };
  ix.batches.set(id, open);
  await ix.updateBatch(id, open);
  await ix.saveState();
  await logVerdicts(ix, id, rec.state, verdicts, cacheRead.ok ? null : cacheRead.problem);
  return [];
}

/** Every task of the batch, from the folders (a resume cut short) or the archive. */
async function gatherTasks(ix: BrainIndex, ids: readonly string[], batch: string): Promise<Map<string, Held>> {
  const out = new Map<string, Held>();
  const dir = archiveDir(ix.paths, batch);
  for (const tid of ids) {
    const known = ix.tasks.get(tid);
    if (known) {
      out.set(tid, { task: known.task, at: known.folder });
      continue;
    }
    // A finished batch's tasks are archived; one found in a folder was moved back by a resume cut short.
    const r = await readTaskFile(childPath(dir, `${tid}.json`, 'task id'), tid);
    if (r.ok) {
      out.set(tid, { task: r.task, at: 'archive' });
      continue;
    }
    const live = await locate(ix, tid);
    if (live) out.set(tid, { task: live.task, at: live.folder });
  }
  return out;
}

async function locate(ix: BrainIndex, id: string): Promise<{ folder: TaskFolder; task: Task } | null> {
  const folder = await ix.store.locate(id).catch(() => null);
  if (!folder) return null;
  const r = await readTaskFile(join(ix.paths.folders[folder], `${id}.json`), id);
  return r.ok ? { folder, task: r.task } : null;
}

/** The recorded outputs not there now; one outside the batch folder counts as missing (it is not looked at). */
async function missingOf(outputs: readonly string[], batchPath: string): Promise<string[]> {
  const missing: string[] = [];
  for (const p of outputs) {
    const ok = p.startsWith(batchPath + sep) && (await lstat(p).then(() => true, () => false));
    if (!ok) missing.push(p);
  }
  return missing;
}

async function applyVerdicts(ix: BrainIndex, batch: string, held: ReadonlyMap<string, Held>, verdicts: readonly ResumeVerdict[]): Promise<void> {
  for (const v of verdicts) {
    const h = held.get(v.id);
    if (!h) continue;
    if (v.verdict === 'keep') {
      await place(ix, batch, h, 'complete', h.task);
    } else if (v.verdict === 'rerun') {
      await place(ix, batch, h, 'private', resetForRetry(h.task));
    } else {
      await place(ix, batch, h, 'private', { ...resetForRetry(h.task), expanded_into: null, window: null });
      for (const c of v.dropped) await drop(ix, batch, c, held.get(c));
      if (h.task.window !== null) await dropArchivedChildren(ix, batch, v.id);
    }
  }
}

/** The task written whole where it goes, then its old file removed (a crash in between leaves two copies; the next try keeps the live one). */
async function place(ix: BrainIndex, batch: string, h: Held, to: TaskFolder, task: Task): Promise<void> {
  if (h.at === to && task === h.task) {
    ix.tasks.set(task.id, { folder: to, task });
    return;
  }
  const written = await ix.store.write(to, task);
  ix.tasks.set(task.id, { folder: to, task: written });
  if (h.at === 'archive') await unlinkQuiet(childPath(archiveDir(ix.paths, batch), `${task.id}.json`, 'task id'));
  else if (h.at !== to) await ix.store.remove(h.at, task.id);
}

async function drop(ix: BrainIndex, batch: string, id: string, h: Held | undefined): Promise<void> {
  ix.tasks.delete(id);
  if (h && h.at !== 'archive') await ix.store.remove(h.at, id);
  await unlinkQuiet(childPath(archiveDir(ix.paths, batch), `${id}.json`, 'task id'));
}

/** A windowed foreach's archived children (<template id>.<n>.json): made again from the manifest. */
async function dropArchivedChildren(ix: BrainIndex, batch: string, templateId: string): Promise<void> {
  const dir = archiveDir(ix.paths, batch);
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const n of names) if (n.startsWith(`${templateId}.`) && n.endsWith('.json')) await unlinkQuiet(join(dir, n));
}

async function unlinkQuiet(file: string): Promise<void> {
  await unlink(file).catch((err: unknown) => {
    if (!isGone(err)) throw err;
  });
}

async function logVerdicts(ix: BrainIndex, batch: string, was: string, verdicts: readonly ResumeVerdict[], cacheProblem: string | null): Promise<void> {
  const kept = verdicts.filter((v) => v.verdict === 'keep');
  const again = verdicts.filter((v) => v.verdict !== 'keep');
  const names = again.slice(0, 10).map((v) => v.id.slice(batch.length + 2)).join(', ');
  const note = cacheProblem ? `; the result cache could not be read, so every task runs again (${cacheProblem})` : '';
  await ix.decide({ what: 'RESUME_BATCH', batch, reason: `batch ${batch} resumed (was ${was}): ${kept.length} task(s) cached, ${again.length} run again${names ? `: ${names}${again.length > 10 ? ', ...' : ''}` : ''}${note}` });
  let lines = 0;
  for (const v of [...kept, ...again]) {
    if (lines++ >= MAX_TASK_LINES) break;
    const what = v.verdict === 'keep' ? 'CACHED' : 'RERUN';
    const how = v.verdict === 'reexpand' ? `made again from its manifest: ${v.reason}` : v.reason;
    await ix.decide({ what, task: v.id, reason: how });
  }
  if (verdicts.length > MAX_TASK_LINES) await ix.decide({ what: 'RESUME_BATCH', batch, reason: `... ${verdicts.length - MAX_TASK_LINES} more task(s) not listed: ${kept.length} cached and ${again.length} run again in all` });
}
