// The doctor's eyes: reads the mount into a MountSnapshot for findings.ts. Reads only:
// nothing here writes, renames or quarantines (TaskStore.list and .read quarantine what
// they cannot read, so task files are listed and parsed here instead).
import type { Dirent } from 'node:fs';
import { access, lstat, readdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, relative } from 'node:path';
import { isTempName } from '../core/atomic.ts';
import { BATCH_STATES, listBatchIds, readBatchRecord, readBrainState } from '../core/batch.ts';
import { type Config, loadConfig } from '../core/config.ts';
import { errorCode, errorMessage } from '../core/errors.ts';
import { readHeartbeat } from '../core/heartbeat.ts';
import { listInbox, readSubmission } from '../core/inbox.ts';
import { listTempFiles, rigFolders } from '../core/leftovers.ts';
import { type MountPaths, TASK_FOLDERS, type TaskFolder, heartbeatPath, isSafeName } from '../core/paths.ts';
import { Task } from '../core/task.ts';
import { isAgentProcess } from '../gpu/previousLife.ts';
import {
  type AgentView, type BatchRecordView, type Finding, type LockView, type MountFile, type MountSnapshot, type TaskFileView,
  findProblems,
} from './findings.ts';

/** A brain lock refreshed within this long (ms) belongs to a running brain: proper-lockfile refreshes every 5 s, stale after 30 s. */
const BRAIN_LOCK_FRESH_MS = 60_000;

function isGone(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'ENOENT' || code === 'ESTALE' || code === 'ENOTDIR';
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errorCode(err) === 'EPERM';
  }
}

async function entries(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isGone(err)) return [];
    throw err;
  }
}

async function ageOf(path: string, now: number): Promise<number | null> {
  try {
    return now - (await lstat(path)).mtimeMs;
  } catch (err) {
    if (isGone(err)) return null;
    throw err;
  }
}

/**
 * A task file's verdict without side effects: the same checks, in the same words, as
 * TaskStore.read, which would quarantine the file.
 */
export function parseTaskText(text: string, id: string): { task: Task; problem: null } | { task: null; problem: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { task: null, problem: `not valid JSON: ${errorMessage(err)}` };
  }
  const parsed = Task.safeParse(raw);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    return { task: null, problem: `not a valid task: ${why}` };
  }
  if (parsed.data.id !== id) return { task: null, problem: `file name says ${id} but the task id is ${parsed.data.id}` };
  return { task: parsed.data, problem: null };
}

async function readTaskFile(paths: MountPaths, folder: TaskFolder, name: string): Promise<TaskFileView | null> {
  const file = join(paths.folders[folder], name);
  const rel = relative(paths.root, file);
  const id = name.endsWith('.json') && isSafeName(name.slice(0, -5)) ? name.slice(0, -5) : null;
  if (id === null) return { folder, name, rel, id, task: null, problem: null };
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (isGone(err) || errorCode(err) === 'EISDIR') return null; // moved on meanwhile
    throw err;
  }
  return { folder, name, rel, id, ...parseTaskText(text, id) };
}

async function readTaskFiles(paths: MountPaths): Promise<TaskFileView[]> {
  const out: TaskFileView[] = [];
  for (const folder of TASK_FOLDERS) {
    for (const e of await entries(paths.folders[folder])) {
      // Temporary files are a writer's (leftovers are judged apart); folders are archives or foreign.
      if (isTempName(e.name) || e.isDirectory()) continue;
      const view = await readTaskFile(paths, folder, e.name);
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

async function readBatches(paths: MountPaths, now: number): Promise<BatchRecordView[]> {
  const out: BatchRecordView[] = [];
  for (const id of await listBatchIds(paths)) {
    const file = join(paths.batches, `${id}.json`);
    const rel = relative(paths.root, file);
    if (!isSafeName(id)) {
      out.push({ id, rel, record: null, problem: 'the file name is not a safe batch id' });
      continue;
    }
    const record = await readBatchRecord(paths, id);
    if (record) out.push({ id, rel, record, problem: null });
    else if ((await ageOf(file, now)) !== null) {
      // Still there but unreadable: broken. (One gone since the listing was removed, not broken.)
      out.push({ id, rel, record: null, problem: `not a valid batch record (expected JSON with ${BATCH_STATES.join('|')} state and task_ids)` });
    }
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
      if (isTempName(e.name) || !e.isFile() || !e.name.endsWith('.json')) continue;
      const text = await readFile(join(dir, e.name), 'utf8').catch(() => null);
      const parsed = text === null ? null : parseTaskText(text, e.name.slice(0, -5));
      if (parsed?.task) tasks.push(parsed.task);
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
      const heartbeat = await readHeartbeat(paths, id);
      const gpu = config.gpus.find((g) => g.id === id) ?? { id, name: heartbeat?.name ?? `gpu-${id}`, model: '?', port: 1 };
      const elsewhere = heartbeat?.hostname != null && heartbeat.hostname !== me;
      return {
        gpu, heartbeat, heartbeatRel: relative(paths.root, heartbeatPath(paths, id)),
        pidAlive: !heartbeat || elsewhere ? null : isAlive(heartbeat.pid) && (await isAgentProcess(heartbeat.pid)),
      };
    }),
  );
}

/** Plain files of a folder that are not temporaries, with their age. */
async function readFiles(paths: MountPaths, dir: string, now: number): Promise<MountFile[]> {
  const out: MountFile[] = [];
  for (const e of await entries(dir)) {
    if (isTempName(e.name) || !e.isFile()) continue;
    const file = join(dir, e.name);
    const age = await ageOf(file, now);
    if (age !== null) out.push({ rel: relative(paths.root, file), name: e.name, ageMs: age });
  }
  return out;
}

/** brain/escalations/*.json (brain/monitor.ts Escalation): only whether each can be read. */
async function readEscalations(paths: MountPaths): Promise<MountSnapshot['escalations']> {
  const dir = join(paths.brain, 'escalations');
  const out: MountSnapshot['escalations'] = [];
  for (const e of await entries(dir)) {
    if (isTempName(e.name) || !e.isFile()) continue;
    const file = join(dir, e.name);
    const text = await readFile(file, 'utf8').catch((err: unknown) => (isGone(err) ? null : Promise.reject(err)));
    if (text === null) continue;
    let problem: string | null = null;
    try {
      const raw = JSON.parse(text) as { task_id?: unknown; attempt?: unknown } | null;
      if (!raw || typeof raw.task_id !== 'string' || typeof raw.attempt !== 'number') {
        problem = 'not an escalation record (expected {"task_id": "...", "attempt": N, "agent": "...", ...})';
      }
    } catch (err) {
      problem = `not valid JSON: ${errorMessage(err)}`;
    }
    out.push({ rel: relative(paths.root, file), name: e.name, problem });
  }
  return out;
}

interface LockOwner {
  pid: number;
  host: string;
}

async function readBrainOwner(paths: MountPaths): Promise<LockOwner | null> {
  try {
    const raw = JSON.parse(await readFile(`${paths.brainLock}.owner`, 'utf8')) as Partial<LockOwner>;
    return typeof raw.pid === 'number' && typeof raw.host === 'string' ? { pid: raw.pid, host: raw.host } : null;
  } catch {
    return null;
  }
}

async function readLocks(paths: MountPaths, dirs: string[], now: number): Promise<LockView[]> {
  const brainLock = `${paths.brainLock}.lock`;
  const owner = await readBrainOwner(paths);
  const out: LockView[] = [];
  for (const dir of dirs) {
    for (const e of await entries(dir)) {
      if (!e.name.endsWith('.lock')) continue;
      const file = join(dir, e.name);
      const age = await ageOf(file, now);
      if (age === null) continue;
      const ownerAlive = file === brainLock && owner && owner.host === hostname() ? isAlive(owner.pid) : null;
      out.push({ rel: relative(paths.root, file), ageMs: age, ownerAlive });
    }
  }
  return out;
}

async function brainStatus(paths: MountPaths, now: number): Promise<{ running: boolean; why: string }> {
  const age = await ageOf(`${paths.brainLock}.lock`, now);
  if (age === null) return { running: false, why: 'no brain holds brain/brain.lock' };
  const owner = await readBrainOwner(paths);
  if (owner && owner.host === hostname()) {
    return isAlive(owner.pid)
      ? { running: true, why: `brain pid ${owner.pid} is running` }
      : { running: false, why: `brain pid ${owner.pid} that held brain/brain.lock is gone` };
  }
  const who = owner ? `pid ${owner.pid} on ${owner.host}` : 'an unknown process';
  return age < BRAIN_LOCK_FRESH_MS
    ? { running: true, why: `brain/brain.lock held by ${who}` }
    : { running: false, why: `brain/brain.lock of ${who} not refreshed for ${Math.round(age / 1000)} s` };
}

/** One look at the whole mount. Reads tasks before heartbeats, so a heartbeat is never older than the claim it should list. */
export async function inspectMount(paths: MountPaths, now: number): Promise<MountSnapshot> {
  const { config, problem } = await readConfigIfAny(paths);
  const brain = await brainStatus(paths, now);
  const state = await readBrainState(paths);
  const batches = await readBatches(paths, now);
  const pendingSubmissions = await readPendingSubmissions(paths);
  const taskFiles = await readTaskFiles(paths);
  const archived = await readArchived(paths, batches);
  const agents = await readAgents(paths, config);
  const dirs = await rigFolders(paths);
  const tempFiles = (await listTempFiles(dirs, now)).map((t) => {
    const rel = relative(paths.root, t.path);
    return { rel, name: rel.split('/').pop() ?? rel, ageMs: t.ageMs };
  });
  return {
    now, config, configProblem: problem, brain, state, batches, taskFiles, archived, pendingSubmissions, agents, tempFiles,
    signals: await readFiles(paths, paths.signals, now),
    approvals: await readFiles(paths, paths.approvals, now),
    lateResults: await readFiles(paths, join(paths.tasks, 'late_results'), now),
    locks: await readLocks(paths, dirs, now),
    escalations: await readEscalations(paths),
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
  const end = Date.now() + ms;
  while (want.size && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 200));
    for (const [id, seq] of want) {
      const hb = await readHeartbeat(paths, id).catch(() => null);
      if (hb && hb.seq >= seq) want.delete(id);
    }
  }
}
