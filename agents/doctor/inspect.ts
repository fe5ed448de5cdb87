// The doctor's eyes: reads the mount into a MountSnapshot for findProblems.ts. Reads only (but
// for the clock probe of mountClock.ts, a file created and removed in the mount's root):
// nothing here writes, renames or quarantines (TaskStore.list and .read quarantine what
// they cannot read, so task files are listed and parsed here instead). Every file is read
// through readMountFile: a FIFO, a directory, /dev/zero or a huge file where a record should
// be becomes a finding, never a hang or a stack trace.
import type { Dirent } from 'node:fs';
import { isAlive } from '../core/pids.ts';
import { access, lstat, readdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, relative } from 'node:path';
import { isTempName } from '../core/atomic.ts';
import { listBatchIds, readBatchRecordFile, readBrainStateFile } from '../core/batch.ts';
import { type Config, loadConfig } from '../core/config.ts';
import { errorMessage, isGone } from '../core/errors.ts';
import { readHeartbeatFile, waitForHeartbeats } from '../core/heartbeat.ts';
import { listInbox, readSubmission } from '../core/inbox.ts';
import { listTempFiles, rigFolders } from '../core/leftovers.ts';
import { type MountPaths, TASK_FOLDERS, type TaskFolder, heartbeatPath, isSafeName } from '../core/paths.ts';
import { readEscalations as readEscalationFiles } from '../core/stuckRecords.ts';
import { readTaskFile as readTaskFileAt, surveyFolder, taskIdOf } from '../core/taskFile.ts';
import type { Task } from '../core/task.ts';
import { readLockOwner } from '../brain/leaseOwner.ts';
import { readMountClock } from './mountClock.ts';
import { isAgentProcess } from '../gpu/previousLife.ts';
import type { Finding } from './findings.ts';
import { findProblems } from './findProblems.ts';
import type { AgentView, BatchRecordView, LockView, MountFile, MountSnapshot, TaskFileView } from './snapshot.ts';

/** A brain lease renewed within this long (ms) belongs to a running brain: its holder renews it every 5 s or more often. */
const BRAIN_LOCK_FRESH_MS = 60_000;

/** A folder's entries; one that is gone, or cannot be listed this time, has none. */
async function entries(dir: string): Promise<Dirent[]> {
  return readdir(dir, { withFileTypes: true }).catch(() => [] as Dirent[]);
}

/**
 * How long ago `path` was last modified, in ms: `fileNow` is the mount's own clock (see
 * mountClock.ts), never this host's, so both times come from the file server. Null when gone.
 */
async function ageOf(path: string, fileNow: number): Promise<number | null> {
  try {
    return fileNow - (await lstat(path)).mtimeMs;
  } catch (err) {
    if (isGone(err)) return null;
    throw err;
  }
}

/**
 * How long ago a lock's holder last showed life, in ms on the mount's clock; null when the
 * lock is gone. A lock folder's mtime is set by its holder's own clock (proper-lockfile), so
 * the brain's lock is judged by its lease instead when there is one: brain/brain.owner is
 * written whole at every renewal, so its mtime is the file server's.
 */
export async function lockAge(paths: MountPaths, lock: string, fileNow: number): Promise<number | null> {
  const age = await ageOf(lock, fileNow);
  if (age === null || lock !== `${paths.brainLock}.lock`) return age;
  return (await ageOf(`${paths.brainLock}.owner`, fileNow)) ?? age;
}

/** One task file judged without side effects; null when it is gone (moved on meanwhile). */
async function readTaskFile(paths: MountPaths, folder: TaskFolder, name: string): Promise<TaskFileView | null> {
  const file = join(paths.folders[folder], name);
  const rel = relative(paths.root, file);
  const id = taskIdOf(name);
  if (id === null) return { folder, name, rel, id, task: null, problem: null };
  const r = await readTaskFileAt(file, id);
  if (r.ok) return { folder, name, rel, id, task: r.task, problem: null };
  return r.why === 'missing' ? null : { folder, name, rel, id, task: null, problem: r.problem };
}

/** Every entry of the task folders but temporaries: task files, foreign names, and what is not a regular file (FIFOs, directories, symlinks: never opened). */
async function readTaskFiles(paths: MountPaths): Promise<TaskFileView[]> {
  const out: TaskFileView[] = [];
  for (const folder of TASK_FOLDERS) {
    const survey = await surveyFolder(paths.folders[folder]).catch(() => null);
    if (!survey) continue;
    for (const b of survey.bad) {
      out.push({ folder, name: b.name, rel: relative(paths.root, join(paths.folders[folder], b.name)), id: taskIdOf(b.name), task: null, problem: b.problem });
    }
    for (const id of survey.ids) {
      const view = await readTaskFile(paths, folder, `${id}.json`);
      if (view) out.push(view);
    }
  }
  return out;
}

async function readConfigIfAny(paths: MountPaths): Promise<{ config: Config | null; problem: string | null }> {
  try {
    await access(paths.config);
  } catch {
    return { config: null, problem: null };
  }
  try {
    return { config: await loadConfig(paths.config), problem: null };
  } catch (err) {
    return { config: null, problem: errorMessage(err).split('\n').join('; ') };
  }
}

async function readBatches(paths: MountPaths): Promise<BatchRecordView[]> {
  const out: BatchRecordView[] = [];
  for (const id of await listBatchIds(paths).catch(() => [] as string[])) {
    const rel = relative(paths.root, join(paths.batches, `${id}.json`));
    const r = await readBatchRecordFile(paths, id);
    if (r.ok) out.push({ id, rel, record: r.value, problem: null });
    // Gone since the listing: removed, not broken.
    else if (!r.missing) out.push({ id, rel, record: null, problem: r.problem });
  }
  return out;
}

async function readArchived(paths: MountPaths, batches: BatchRecordView[]): Promise<Record<string, Task[]>> {
  const out: Record<string, Task[]> = {};
  for (const b of batches) {
    if (!b.record || (b.record.state !== 'complete' && b.record.state !== 'failed' && b.record.state !== 'cancelled')) continue;
    const dir = join(paths.tasks, 'archive', b.id);
    const tasks: Task[] = [];
    for (const e of await entries(dir)) {
      const id = taskIdOf(e.name);
      if (isTempName(e.name) || !e.isFile() || id === null) continue;
      const r = await readTaskFileAt(join(dir, e.name), id);
      if (r.ok) tasks.push(r.task);
    }
    out[b.id] = tasks;
  }
  return out;
}

async function readPendingSubmissions(paths: MountPaths): Promise<string[]> {
  const ids: string[] = [];
  for (const file of await listInbox(paths)) {
    const r = await readSubmission(file);
    if (r.ok && r.sub.batch_id) ids.push(r.sub.batch_id);
  }
  return ids;
}

/**
 * The agents as their heartbeats show them: every configured GPU, and every heartbeat under
 * gpus/ (a rig started with another config still has live agents). A pid is judged only on the
 * host that wrote the heartbeat, and only a running GPU agent counts as alive.
 */
async function readAgents(paths: MountPaths, config: Config | null): Promise<AgentView[]> {
  if (!config) return [];
  const ids = new Set(config.gpus.map((g) => g.id));
  for (const e of await entries(paths.gpus)) {
    const m = /^gpu_(\d+)$/.exec(e.name);
    if (m && e.isDirectory()) ids.add(Number(m[1]));
  }
  const me = hostname();
  return Promise.all(
    [...ids].map(async (id) => {
      const r = await readHeartbeatFile(paths, id);
      const heartbeat = r.ok ? r.value : null;
      const gpu = config.gpus.find((g) => g.id === id) ?? { id, name: heartbeat?.name ?? `gpu-${id}`, model: '?', port: 1, runtime: 'ollama' as const, num_parallel: 1, manage: false, serve: null };
      const elsewhere = heartbeat?.hostname != null && heartbeat.hostname !== me;
      return {
        gpu, heartbeat, heartbeatRel: relative(paths.root, heartbeatPath(paths, id)),
        pidAlive: !heartbeat || elsewhere ? null : await isAgentProcess(heartbeat.pid),
        heartbeatProblem: r.ok || r.missing ? null : r.problem,
      };
    }),
  );
}

/** Plain files of a folder that are not temporaries, with their age (on the mount's clock). */
async function readFiles(paths: MountPaths, dir: string, fileNow: number): Promise<MountFile[]> {
  const out: MountFile[] = [];
  for (const e of await entries(dir)) {
    if (isTempName(e.name) || !e.isFile()) continue;
    const file = join(dir, e.name);
    const age = await ageOf(file, fileNow);
    if (age !== null) out.push({ rel: relative(paths.root, file), name: e.name, ageMs: age });
  }
  return out;
}

/** brain/escalations/*.json (core/stuckRecords.ts): only whether each can be read. */
async function readEscalations(paths: MountPaths): Promise<MountSnapshot['escalations']> {
  const { bad } = await readEscalationFiles(paths);
  return bad.map((b) => ({ rel: b.rel, name: b.name, problem: b.problem }));
}

async function readLocks(paths: MountPaths, dirs: string[], fileNow: number): Promise<LockView[]> {
  const brainLock = `${paths.brainLock}.lock`;
  const owner = await readLockOwner(paths);
  const out: LockView[] = [];
  for (const dir of dirs) {
    for (const e of await entries(dir)) {
      if (!e.name.endsWith('.lock')) continue;
      const file = join(dir, e.name);
      const age = await lockAge(paths, file, fileNow);
      if (age === null) continue;
      const ownerAlive = file === brainLock && owner && owner.host === hostname() ? isAlive(owner.pid) : null;
      out.push({ rel: relative(paths.root, file), ageMs: age, ownerAlive });
    }
  }
  return out;
}

async function brainStatus(paths: MountPaths, fileNow: number): Promise<{ running: boolean; why: string }> {
  const age = await lockAge(paths, `${paths.brainLock}.lock`, fileNow);
  if (age === null) return { running: false, why: 'no brain holds brain/brain.lock' };
  const owner = await readLockOwner(paths);
  if (owner && owner.host === hostname()) {
    return isAlive(owner.pid)
      ? { running: true, why: `brain pid ${owner.pid} is running` }
      : { running: false, why: `brain pid ${owner.pid} that held brain/brain.lock is gone` };
  }
  const who = owner ? `pid ${owner.pid} on ${owner.host}` : 'an unknown process';
  return age < BRAIN_LOCK_FRESH_MS
    ? { running: true, why: `brain/brain.lock held by ${who}` }
    : { running: false, why: `brain/brain.lock of ${who}: its lease not renewed for ${Math.round(age / 1000)} s` };
}

/**
 * One look at the whole mount. Reads tasks before heartbeats, so a heartbeat is never older
 * than the claim it should list. `now` is this host's clock (for the times written inside
 * records); file ages are judged on the mount's own clock (mountClock.ts), or on `now` with
 * clockProblem set when no probe file could be written there.
 */
export async function inspectMount(paths: MountPaths, now: number): Promise<MountSnapshot> {
  const mountClock = await readMountClock(paths);
  const fileNow = mountClock.ok ? mountClock.now : now;
  const { config, problem } = await readConfigIfAny(paths);
  const brain = await brainStatus(paths, fileNow);
  const stateRead = await readBrainStateFile(paths);
  const state = stateRead.ok ? stateRead.value : null;
  const unreadable: MountSnapshot['unreadable'] = [];
  if (!stateRead.ok && !stateRead.missing) unreadable.push({ rel: relative(paths.root, paths.brainState), where: 'brain', problem: stateRead.problem });
  const batches = await readBatches(paths);
  const pendingSubmissions = await readPendingSubmissions(paths);
  const taskFiles = await readTaskFiles(paths);
  const archived = await readArchived(paths, batches);
  const agents = await readAgents(paths, config);
  const dirs = await rigFolders(paths);
  const tempFiles = (await listTempFiles(dirs, fileNow)).map((t) => {
    const rel = relative(paths.root, t.path);
    return { rel, name: rel.split('/').pop() ?? rel, ageMs: t.ageMs };
  });
  return {
    now, config, configProblem: problem, brain, state, batches, taskFiles, archived, pendingSubmissions, agents, tempFiles,
    signals: await readFiles(paths, paths.signals, fileNow),
    approvals: await readFiles(paths, paths.approvals, fileNow),
    lateResults: await readFiles(paths, join(paths.tasks, 'late_results'), fileNow),
    locks: await readLocks(paths, dirs, fileNow),
    escalations: await readEscalations(paths),
    unreadable,
    clockProblem: mountClock.ok ? null : mountClock.problem,
  };
}

/**
 * Inspects and judges. A processing task found lost is looked at once more (its file, then
 * every heartbeat) and kept only if still lost: an agent between its claiming rename and
 * writing its claim, or between claim and heartbeat, must not be declared dead.
 */
export async function examineMount(paths: MountPaths, clock: () => number = Date.now): Promise<{ snapshot: MountSnapshot; findings: Finding[] }> {
  const snapshot = await inspectMount(paths, clock());
  const findings = findProblems(snapshot);
  const lost = findings.filter((f) => f.kind === 'LOST_TASK');
  if (lost.length === 0) return { snapshot, findings };

  const suspects = new Set(lost.map((f) => f.subject));
  // A claim is judged lost only on heartbeats newer than this look: the agent may have written
  // one between its claim and adding the task to its list. Wait (bounded) for two more beats
  // of every agent that may be alive (a dead pid on this host needs no wait); one that stays
  // still that long is not writing.
  await waitForBeats(paths, snapshot.agents.filter((a) => a.pidAlive !== false), 2, Math.min(65_000, (snapshot.config?.cycles.external_s ?? 30) * 2000 + 2000));
  const taskFiles: TaskFileView[] = [];
  for (const f of snapshot.taskFiles) {
    if (!suspects.has(f.rel)) taskFiles.push(f);
    else {
      const again = await readTaskFile(paths, f.folder, f.name);
      if (again) taskFiles.push(again);
    }
  }
  const second: MountSnapshot = { ...snapshot, now: clock(), taskFiles, agents: await readAgents(paths, snapshot.config) };
  const confirmed = new Map(findProblems(second).filter((f) => f.kind === 'LOST_TASK').map((f) => [f.subject, f]));
  const out: Finding[] = [];
  for (const f of findings) {
    if (f.kind !== 'LOST_TASK') out.push(f);
    else {
      const c = confirmed.get(f.subject);
      if (c) out.push(c);
    }
  }
  return { snapshot: second, findings: out };
}

/** Waits until every agent's heartbeat seq has moved by `beats`, or `ms` passed. */
async function waitForBeats(paths: MountPaths, agents: readonly AgentView[], beats: number, ms: number): Promise<void> {
  const want = new Map(agents.flatMap((a) => (a.heartbeat && !a.heartbeat.stopping ? [[a.gpu.id, a.heartbeat.seq + beats] as const] : [])));
  await waitForHeartbeats(paths, want.keys(), ms, (hb, id) => hb.seq >= want.get(id)!);
}
