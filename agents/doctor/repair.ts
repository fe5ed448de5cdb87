// The doctor's hands: applies the repairs of the findings. Every repair looks again right
// before it acts and does nothing when the mount changed since the inspection (the rig may
// be running): a task moves only by rename, files are written whole (core/atomic.ts), and
// brain/state.json and batch records are only written when findings.ts allowed it (no
// running brain for state.json). Each change is logged as 'doctor', into doctor's own spool
// file, which the brain merges into logs/brain_decisions.log (core/spool.ts).
import { lstat, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { readBatchRecord, readBrainState, writeBatchRecord, writeBrainState } from '../core/batch.ts';
import { isoTime } from '../core/clock.ts';
import { DecisionLog } from '../core/decisionLog.ts';
import { errorMessage, isGone } from '../core/errors.ts';
import { removeTempFile } from '../core/leftovers.ts';
import { type MountPaths, childPath } from '../core/paths.ts';
import { TaskStore, quarantine } from '../core/store.ts';
import { readTaskFile } from '../core/taskFile.ts';
import {
  type Finding, type Repair, LEFTOVER_AGE_MS, LOCK_STALE_MS, folderRel, formatFinding, returnLostTask,
} from './findings.ts';
import { lockAge } from './inspect.ts';
import { readMountClock } from './mountClock.ts';

export type RepairStatus = 'repaired' | 'resolved' | 'failed';

export interface RepairOutcome {
  finding: Finding;
  /** repaired: changed as planned. resolved: nothing left to do (someone else fixed or moved it). failed: see note. */
  status: RepairStatus;
  /** What changed, one line each. */
  changes: string[];
  /** Why nothing changed (resolved) or what went wrong (failed). */
  note: string | null;
}

/** Order of application: unreadable files first, then what decides where tasks are, then batches, then leftovers. */
const ORDER: Record<Repair['kind'], number> = {
  quarantine_unreadable: 0, quarantine_other: 0, quarantine_file: 1, quarantine_duplicates: 2, return_lost: 3,
  set_batch_failed: 4, archive_and_drop: 5, drop_active: 6, delete_temp: 7, delete_file: 8, remove_lock: 9,
};

type Step = { changes: string[]; note: string | null };
const done = (...changes: string[]): Step => ({ changes, note: null });
const nothing = (note: string): Step => ({ changes: [], note });

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if (isGone(err)) return false;
    throw err;
  }
}

/** A path from a finding (relative to the mount), proved to stay inside it. */
function onMount(paths: MountPaths, rel: string): string {
  const parts = rel.split('/');
  let dir = paths.root;
  for (const p of parts.slice(0, -1)) dir = childPath(dir, p, 'path segment');
  // The last segment may be a temporary name (leading dot), which childPath refuses.
  const last = parts[parts.length - 1] ?? '';
  if (!last || last === '.' || last === '..' || last.includes('\\')) throw new Error(`bad path ${rel}`);
  return join(dir, last);
}

/**
 * The mount's own clock now (mountClock.ts), read once per repair that judges a file's age:
 * the age is judged again right before the file goes, on the same clock as the inspection.
 */
async function mountNow(paths: MountPaths): Promise<number> {
  const clock = await readMountClock(paths);
  if (!clock.ok) throw new Error(`${clock.problem}: the file's age cannot be judged, so it is left alone`);
  return clock.now;
}

/** The repair of one kind, with what it needs. */
type RepairOf<K extends Repair['kind']> = Extract<Repair, { kind: K }>;

async function quarantineUnreadable(store: TaskStore, r: RepairOf<'quarantine_unreadable'>): Promise<Step> {
  const read = await store.read(r.folder, r.id);
  if (read.ok) return nothing(`${folderRel(r.folder)}/${r.id}.json is readable now; left alone`);
  if (read.reason === 'missing') return nothing(`${folderRel(r.folder)}/${r.id}.json is gone`);
  return done(`moved ${folderRel(r.folder)}/${r.id}.json to quarantine/${r.folder}/ (unreadable)`);
}

async function quarantineOther(paths: MountPaths, r: RepairOf<'quarantine_other'>): Promise<Step> {
  const file = onMount(paths, r.rel);
  if (!(await exists(file))) return nothing(`${r.rel} is gone`);
  await quarantine(paths, r.where, file, r.rel.split('/').pop() ?? r.rel, r.reason);
  return done(`moved ${r.rel} to quarantine/${r.where}/ (${r.reason})`);
}

async function quarantineFile(paths: MountPaths, store: TaskStore, r: RepairOf<'quarantine_file'>): Promise<Step> {
  const rel = `${folderRel(r.folder)}/${r.name}`;
  if (!(await exists(join(paths.folders[r.folder], r.name)))) return nothing(`${rel} is gone`);
  await store.quarantineFile(r.folder, r.name, r.reason);
  return done(`moved ${rel} to quarantine/${r.folder}/ (${r.reason})`);
}

async function quarantineDuplicates(store: TaskStore, r: RepairOf<'quarantine_duplicates'>): Promise<Step> {
  // Never drop a copy unless the one kept is still there.
  if (!(await store.exists(r.keep, r.id))) return nothing(`${folderRel(r.keep)}/${r.id}.json moved meanwhile; run the doctor again`);
  const out: string[] = [];
  for (const d of r.drop) {
    if (!(await store.exists(d, r.id))) continue;
    await store.quarantineFile(d, `${r.id}.json`, `duplicate of ${folderRel(r.keep)}/${r.id}.json, the more advanced copy`);
    out.push(`moved ${folderRel(d)}/${r.id}.json to quarantine/${d}/ (duplicate; kept ${folderRel(r.keep)}/${r.id}.json)`);
  }
  return out.length ? done(...out) : nothing('the other copies are gone');
}

async function returnLost(store: TaskStore, r: RepairOf<'return_lost'>, now: number): Promise<Step> {
  // Read without side effects: a torn read of a live claim must not be quarantined here.
  const cur = await readTaskFile(store.fileOf('processing', r.id), r.id);
  if (!cur.ok) return nothing(cur.why === 'missing' ? `tasks/processing/${r.id}.json is gone` : `tasks/processing/${r.id}.json cannot be read now (${cur.problem}); run the doctor again`);
  if (cur.task.attempt !== r.expectAttempt || cur.task.claimed_by !== r.expectClaimedBy) {
    return nothing(`tasks/processing/${r.id}.json was claimed again meanwhile (attempt ${cur.task.attempt} by ${cur.task.claimed_by ?? 'nobody'})`);
  }
  const next = returnLostTask(cur.task, r.reason, now);
  if (next.task !== cur.task) await store.write('processing', next.task);
  if (!(await store.move(r.id, 'processing', next.to))) return nothing(`tasks/processing/${r.id}.json moved meanwhile`);
  return done(
    next.task === cur.task
      ? `moved tasks/processing/${r.id}.json to ${folderRel(next.to)}/ (attempt ${cur.task.attempt} had finished: ${cur.task.result?.outcome})`
      : `moved tasks/processing/${r.id}.json to ${folderRel(next.to)}/ with attempt ${next.task.attempt} recorded as lost (infra): ${r.reason}`,
  );
}

async function setBatchFailed(paths: MountPaths, r: RepairOf<'set_batch_failed'>): Promise<Step> {
  const rec = await readBatchRecord(paths, r.batch);
  if (!rec || rec.state !== 'complete') return nothing(`batch ${r.batch} is no longer recorded as complete`);
  await writeBatchRecord(paths, {
    ...rec, state: 'failed', failed_tasks: [...new Set([...rec.failed_tasks, ...r.failed])], final_counts: r.counts,
  });
  return done(`brain/batches/${r.batch}.json: state complete → failed (${r.failed.length} failed)`);
}

async function archiveAndDrop(paths: MountPaths, store: TaskStore, r: RepairOf<'archive_and_drop'>, now: number): Promise<Step> {
  const out: string[] = [];
  for (const t of r.tasks) {
    if (await store.archive(t.id, t.folder, r.batch)) out.push(`moved ${folderRel(t.folder)}/${t.id}.json to tasks/archive/${r.batch}/`);
  }
  const drop = await dropActive(paths, r.batch, now);
  return drop ? done(...out, drop) : out.length ? done(...out) : nothing(`batch ${r.batch} is no longer listed as active`);
}

async function deleteFile(paths: MountPaths, r: RepairOf<'delete_file'>): Promise<Step> {
  try {
    await unlink(onMount(paths, r.rel));
    return done(`deleted ${r.rel}`);
  } catch (err) {
    if (isGone(err)) return nothing(`${r.rel} is gone`);
    throw err;
  }
}

async function removeLock(paths: MountPaths, r: RepairOf<'remove_lock'>): Promise<Step> {
  const file = onMount(paths, r.rel);
  const age = await lockAge(paths, file, await mountNow(paths));
  if (age === null) return nothing(`${r.rel} is gone`);
  if (age < LOCK_STALE_MS) return nothing(`${r.rel} was refreshed meanwhile: its holder is alive`);
  await rm(file, { recursive: true, force: true });
  return done(`removed ${r.rel}`);
}

async function applyOne(paths: MountPaths, store: TaskStore, r: Repair, now: number): Promise<Step> {
  switch (r.kind) {
    case 'quarantine_unreadable': return quarantineUnreadable(store, r);
    case 'quarantine_other': return quarantineOther(paths, r);
    case 'quarantine_file': return quarantineFile(paths, store, r);
    case 'quarantine_duplicates': return quarantineDuplicates(store, r);
    case 'return_lost': return returnLost(store, r, now);
    case 'set_batch_failed': return setBatchFailed(paths, r);
    case 'archive_and_drop': return archiveAndDrop(paths, store, r, now);
    case 'drop_active': {
      const drop = await dropActive(paths, r.batch, now);
      return drop ? done(drop) : nothing(`batch ${r.batch} is no longer listed as active`);
    }
    case 'delete_temp': {
      const ok = await removeTempFile(onMount(paths, r.rel), LEFTOVER_AGE_MS, await mountNow(paths));
      return ok ? done(`deleted ${r.rel}`) : nothing(`${r.rel} is gone or was written again`);
    }
    case 'delete_file': return deleteFile(paths, r);
    case 'remove_lock': return removeLock(paths, r);
  }
}

async function dropActive(paths: MountPaths, batch: string, now: number): Promise<string | null> {
  const state = await readBrainState(paths);
  if (!state || !state.active_batches.includes(batch)) return null;
  await writeBrainState(paths, { ...state, active_batches: state.active_batches.filter((b) => b !== batch), updated_at: isoTime(now) });
  return `brain/state.json: removed ${batch} from active_batches`;
}

/** Applies the repair of every 'repair' finding, in a safe order; never throws for one finding's failure. */
export async function applyRepairs(paths: MountPaths, findings: readonly Finding[], clock: () => number = Date.now): Promise<RepairOutcome[]> {
  // A person asked for the repair after the doctor judged the file unreadable: no grace here.
  const store = new TaskStore(paths, { unreadableGraceMs: 0 });
  const log = DecisionLog.spool(paths, 'doctor', clock);
  const todo = findings
    .filter((f): f is Finding & { repair: Repair } => f.severity === 'repair' && f.repair !== null)
    .sort((a, b) => ORDER[a.repair.kind] - ORDER[b.repair.kind]);
  const out: RepairOutcome[] = [];
  for (const f of todo) {
    try {
      const step = await applyOne(paths, store, f.repair, clock());
      out.push({ finding: f, status: step.changes.length ? 'repaired' : 'resolved', changes: step.changes, note: step.note });
      for (const c of step.changes) await log.write({ who: 'doctor', what: 'REPAIR', reason: `${f.kind}: ${c}` }).catch(() => {});
    } catch (err) {
      out.push({ finding: f, status: 'failed', changes: [], note: `${formatFinding(f)}: ${errorMessage(err)}` });
    }
  }
  return out;
}
