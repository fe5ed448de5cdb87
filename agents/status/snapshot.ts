// One look at the mount: reads config, batch records, tasks, heartbeats and the decision
// log's tail into a RigSnapshot. I/O only; every judgement is made by the pure modules
// (waitReason.ts, view.ts) from the snapshot. Reads only, and survives anything: every file
// is read through readMountFile (a FIFO, a directory, /dev/zero or a huge file costs a few
// system calls), nothing is moved or quarantined, and each file that cannot be used becomes
// an entry of bad_files instead of an exception.
import { type ScheduleRow, readSchedules } from './schedules.ts';
import { NO_CONTROLS, readControls } from '../core/controls.ts';
import { constants } from 'node:fs';
import { access, lstat, open, readdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, relative } from 'node:path';
import { readLockOwner } from '../brain/leaseOwner.ts';
import { isTempName } from '../core/atomic.ts';
import { readBatchRecordFile, listBatchIds, readBrainStateFile, type BatchRecord, type BrainState } from '../core/batch.ts';
import { loadConfig, type Config } from '../core/config.ts';
import { errorMessage, UserInputError } from '../core/errors.ts';
import { readHeartbeatFile, type Heartbeat } from '../core/heartbeat.ts';
import { listInbox } from '../core/inbox.ts';
import { kindOf } from '../core/mountRead.ts';
import { isAlive } from '../core/pids.ts';
import { heartbeatPath, mountPaths, TASK_FOLDERS, type MountPaths, type TaskFolder } from '../core/paths.ts';
import { type Intervention, readInterventions } from '../core/stuckRecords.ts';
import { readTaskFile, surveyFolder } from '../core/taskFile.ts';
import { childOfTemplate, type Task } from '../core/task.ts';
import { type BrainLeaseSeen, agentAlive } from './liveness.ts';
import { windowChildOf, windowTemplateIds } from './windowChildren.ts';
import { compareText } from '../core/textOrder.ts';

/** Decision log lines kept in a snapshot. */
export const DECISION_TAIL_LINES = 20;
/** Without a config, heartbeats are judged with the config's default (seconds). */
export const DEFAULT_HEARTBEAT_STALE_S = 120;

export interface GpuView {
  id: number;
  name: string;
  /** The agent's last heartbeat, or null when it never wrote one (or it is unreadable). */
  heartbeat: Heartbeat | null;
  /** Seconds since the heartbeat's last_updated by this machine's clock; null without a readable time. */
  age_s: number | null;
  /** Whether the agent's pid lives, when its heartbeat names this host; null otherwise (another host, or no hostname). */
  pid_alive: boolean | null;
  /** The heartbeat is fresh (age within timeouts.heartbeat_stale_s) and its process not seen gone (liveness.ts). */
  alive: boolean;
}

export interface RigSnapshot {
  /** Absolute path of the mount. */
  shared: string;
  /** When the look was taken (ms since the epoch). */
  now: number;
  /** null when there is no config, or it is invalid (see config_problem). */
  config: Config | null;
  config_problem: string | null;
  brain: BrainState | null;
  /** The brain's lease: lock held, owner, and whether its pid lives on this host (judged by liveness.ts). */
  brain_lease: BrainLeaseSeen;
  /** Batch records, oldest id first. */
  batches: BatchRecord[];
  /**
   * Every readable task, each in exactly one folder. A windowed foreach's children in private/
   * and queue/ are not read: each is its template's task under its own id (windowChildren.ts).
   */
  tasks: Record<TaskFolder, Task[]>;
  /** One entry per configured GPU, in config order; empty without a config. */
  gpus: GpuView[];
  /** The last lines of logs/brain_decisions.log, oldest first. */
  decisions: string[];
  /** Submissions in brain/inbox/ that the brain has not taken yet. */
  inbox_pending: number;
  /** Task ids with an approval file in <shared>/approvals/. */
  approvals: string[];
  /** Stuck tasks the brain could not end (abort and kill did not help): a person must look. */
  interventions: Intervention[];
  /** Files on the mount this look could not use, each with why (path relative to the mount). */
  bad_files: BadFile[];
  /** Scheduled plans with their next run (status/schedules.ts); absent in snapshots made by hand. */
  schedules?: ScheduleRow[];
  /** control/ on the mount: what is paused (rig, agents, batches) and what is cancelled (batches, tasks); absent in snapshots made by hand. */
  controls?: { paused: string[]; cancelled: string[] };
}

export interface BadFile {
  path: string;
  problem: string;
}

export interface SnapshotOptions {
  decisionLines?: number;
}

export async function readSnapshot(shared: string, now: number, opts: SnapshotOptions = {}): Promise<RigSnapshot> {
  const paths = mountPaths(shared);
  const bad: BadFile[] = [];
  const note = (file: string, problem: string) => bad.push({ path: relative(paths.root, file) || '.', problem });
  const { config, problem } = await readConfigIfAny(paths);
  const records = readBatches(paths, note);
  const [brain_lease, brain, batches, tasks, decisions, inbox, approvals] = await Promise.all([
    readBrainLease(paths),
    readBrainStateFile(paths).then((r) => {
      if (!r.ok && !r.missing) note(paths.brainState, r.problem);
      return r.ok ? r.value : null;
    }),
    records,
    // The records name the windowed foreach templates whose waiting children are not read.
    records.then((recs) => readAllTasks(paths, note, windowTemplateIds(recs))),
    readTailLines(paths.decisionLog, opts.decisionLines ?? DECISION_TAIL_LINES, (p) => note(paths.decisionLog, p)),
    listInbox(paths),
    readdir(paths.approvals).then((names) => names.filter((n) => !isTempName(n)), () => [] as string[]),
  ]);
  const gpus = await readGpuViews(paths, config, now, note);
  const interventions = await readInterventions(paths);
  const schedules = await readSchedules(paths, note);
  const controls = await readControls(paths, ['cancel', 'pause']).catch(() => NO_CONTROLS);
  for (const b of interventions.bad) note(join(paths.root, b.rel), b.problem);
  return {
    shared: paths.root,
    now,
    config,
    config_problem: problem,
    brain,
    brain_lease,
    batches,
    tasks,
    gpus,
    decisions,
    inbox_pending: inbox.length,
    approvals,
    interventions: interventions.records,
    schedules,
    controls: { paused: [...controls.pause].sort(), cancelled: [...controls.cancel].sort() },
    bad_files: bad.sort((a, b) => compareText(a.path, b.path)),
  };
}

type Note = (file: string, problem: string) => void;

/** The lock folder, its owner, and, for an owner on this host, whether its pid lives. */
async function readBrainLease(paths: MountPaths): Promise<BrainLeaseSeen> {
  const locked = await lstat(`${paths.brainLock}.lock`).then(() => true, () => false);
  const owner = await readLockOwner(paths);
  return { locked, owner, pid_alive: owner && owner.host === hostname() ? isAlive(owner.pid) : null };
}

async function readConfigIfAny(paths: MountPaths): Promise<{ config: Config | null; problem: string | null }> {
  try {
    await access(paths.config);
  } catch {
    return { config: null, problem: `${paths.config}: no config file; GPUs unknown until the rig writes one` };
  }
  try {
    return { config: await loadConfig(paths.config), problem: null };
  } catch (err) {
    const text = err instanceof UserInputError ? err.problems.join('; ') : errorMessage(err);
    return { config: null, problem: text };
  }
}

async function readBatches(paths: MountPaths, note: Note): Promise<BatchRecord[]> {
  const ids = await listBatchIds(paths).catch(() => [] as string[]);
  const recs = await Promise.all(ids.map(async (id) => {
    const r = await readBatchRecordFile(paths, id);
    if (!r.ok && !r.missing) note(join(paths.batches, `${id}.json`), r.problem);
    return r.ok ? r.value : null;
  }));
  return recs.filter((r): r is BatchRecord => r !== null);
}

/**
 * Reads each task file once. Folders are scanned one after another in the order tasks
 * normally move (private → queue → processing → complete → failed), so a task that moves
 * forward during the scan is seen again in a later folder, and the later sighting is the
 * newer one: it wins. A file that vanishes between listing and reading is skipped. A task
 * moving backwards mid-scan (a retry from failed/) can be missed for this one look.
 * Children of the `windowed` templates in private/ and queue/ are taken from the listing and
 * judged as their template (windowChildren.ts); one whose template was not read is read itself.
 * Nothing is quarantined here: status only looks.
 */
async function readAllTasks(paths: MountPaths, note: Note, windowed: ReadonlySet<string>): Promise<Record<TaskFolder, Task[]>> {
  const where = new Map<string, { folder: TaskFolder; task: Task | null }>();
  for (const folder of TASK_FOLDERS) {
    const dir = paths.folders[folder];
    let survey;
    try {
      survey = await surveyFolder(dir);
    } catch (err) {
      note(dir, `cannot be listed (${errorMessage(err)})`);
      continue; // an unreadable folder shows as empty for this look
    }
    for (const b of survey.bad) note(join(dir, b.name), b.problem);
    const byName = folder === 'private' || folder === 'queue';
    const toRead: string[] = [];
    for (const id of survey.ids) {
      if (byName && windowChildOf(id, windowed)) where.set(id, { folder, task: null });
      else toRead.push(id);
    }
    for (const task of await readTasks(dir, toRead, note)) if (task) where.set(task.id, { folder, task });
  }
  const orphans: Array<[string, TaskFolder]> = [];
  for (const [id, v] of where) {
    if (v.task) continue;
    const child = windowChildOf(id, windowed)!;
    const template = where.get(child.template)?.task;
    // As expansion made it, dated as its template (its own time is in the file, not read).
    if (template) v.task = childOfTemplate(template, child.index, template.created_at);
    else orphans.push([id, v.folder]);
  }
  // Rare: the template was unreadable, or not seen (moving between listings). These are read.
  const read = await mapLimit(orphans, READ_AT_ONCE, ([id, folder]) => readOneTask(paths.folders[folder], id, note));
  orphans.forEach(([id, folder], i) => where.set(id, { folder, task: read[i] ?? null }));
  const out = Object.fromEntries(TASK_FOLDERS.map((f) => [f, [] as Task[]])) as Record<TaskFolder, Task[]>;
  for (const { folder, task } of where.values()) if (task) out[folder].push(task);
  return out;
}

/** Task files read at once (the reads go through libuv's thread pool). */
const READ_AT_ONCE = 16;

function readTasks(dir: string, ids: readonly string[], note: Note): Promise<Array<Task | null>> {
  return mapLimit(ids, READ_AT_ONCE, (id) => readOneTask(dir, id, note));
}

/** The task, or null when it is gone (skipped) or unusable (noted). */
async function readOneTask(dir: string, id: string, note: Note): Promise<Task | null> {
  const file = join(dir, `${id}.json`);
  const r = await readTaskFile(file, id);
  if (!r.ok && r.why !== 'missing') note(file, r.problem);
  return r.ok ? r.task : null;
}

/*
 * Liveness here is judged by the agent's pid when its heartbeat names this host (a dead
 * agent is down at once), else by the timestamp inside the heartbeat against this machine's
 * clock. The brain judges it differently — by whether `seq` advances, on its own clock —
 * because it watches continuously and must not be fooled by clock skew. Status is a
 * single look with nothing to compare seq against, so it uses last_updated; a skewed
 * clock can make a live agent look stale here (the age shown lets a person notice).
 */
async function readGpuViews(paths: MountPaths, config: Config | null, now: number, note: Note): Promise<GpuView[]> {
  if (!config) return [];
  const staleS = config.timeouts.heartbeat_stale_s ?? DEFAULT_HEARTBEAT_STALE_S;
  return Promise.all(
    config.gpus.map(async (g): Promise<GpuView> => {
      const r = await readHeartbeatFile(paths, g.id);
      if (!r.ok && !r.missing) note(heartbeatPath(paths, g.id), r.problem);
      const heartbeat = r.ok ? r.value : null;
      const t = heartbeat ? Date.parse(heartbeat.last_updated) : Number.NaN;
      const age_s = Number.isFinite(t) ? Math.max(0, (now - t) / 1000) : null;
      const pid_alive = heartbeat && heartbeat.hostname === hostname() ? isAlive(heartbeat.pid) : null;
      return { id: g.id, name: g.name, heartbeat, age_s, pid_alive, alive: agentAlive(age_s, staleS, pid_alive) };
    }),
  );
}

/**
 * The last `maxLines` lines of a text file, reading only its end: a chunk from the end,
 * doubled until it holds enough lines (or 1 MiB, or the whole file). Opened without blocking
 * and without following a symlink; anything but a regular file shows no lines, and `bad`
 * hears why.
 */
export async function readTailLines(file: string, maxLines: number, bad?: (problem: string) => void): Promise<string[]> {
  if (maxLines <= 0) return [];
  let handle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') bad?.('is a symlink, not a regular file');
    else if (code !== 'ENOENT') bad?.(`cannot be opened (${code ?? errorMessage(err)})`);
    return []; // no log yet (or unreadable this time): nothing to show
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) {
      bad?.(`is ${kindOf(st.mode)}, not a regular file`);
      return [];
    }
    const size = st.size;
    let chunk = 16 * 1024;
    for (;;) {
      const start = Math.max(0, size - chunk);
      const length = size - start;
      const buf = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buf, 0, length, start);
      let lines = buf.subarray(0, bytesRead).toString('utf8').split('\n');
      if (start > 0) lines = lines.slice(1); // the first line may start mid-line
      lines = lines.map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '');
      if (lines.length >= maxLines || start === 0 || chunk >= 1024 * 1024) return lines.slice(-maxLines);
      chunk *= 2;
    }
  } catch {
    return [];
  } finally {
    await handle.close().catch(() => {});
  }
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return out;
}
