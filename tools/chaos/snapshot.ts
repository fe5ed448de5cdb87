// Reads what a trial left on the mount into one plain object, for the pure checker: batch
// records, archived tasks, what is still in each folder, quarantine, the inbox, late
// results, every batch's runs.log, the decision lines (merged or still in the spool) and
// leftover temporary files.
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { type BatchRecord, readBatchRecord } from '../../agents/core/batch.ts';
import { type DecisionLine, parseDecisionLine } from '../../agents/core/decisionLog.ts';
import { listTempFiles, rigFolders } from '../../agents/core/leftovers.ts';
import { type MountPaths, type TaskFolder, TASK_FOLDERS, batchDir } from '../../agents/core/paths.ts';
import { readDecisionLines } from '../../agents/core/spool.ts';
import { Task } from '../../agents/core/task.ts';

/** One line of runs.log: `<ms> <task id> <attempt> <pid> START` or `... END ok|fail`. */
export interface RunLine {
  t: number;
  task: string;
  attempt: number;
  pid: number;
  what: 'START' | 'END';
  status: 'ok' | 'fail' | null;
}

/** One run of a task: its START line and, unless it was killed, its END line. */
export interface Run {
  task: string;
  attempt: number;
  pid: number;
  start: number | null;
  end: { t: number; status: 'ok' | 'fail' } | null;
}

export function assembleRuns(lines: RunLine[]): Run[] {
  const runs = new Map<string, Run>();
  for (const l of lines) {
    const key = `${l.task}#${l.attempt}#${l.pid}`;
    const r = runs.get(key) ?? { task: l.task, attempt: l.attempt, pid: l.pid, start: null, end: null };
    if (l.what === 'START') r.start = l.t;
    else r.end = { t: l.t, status: l.status ?? 'fail' };
    runs.set(key, r);
  }
  return [...runs.values()].sort((a, b) => (a.start ?? a.end?.t ?? 0) - (b.start ?? b.end?.t ?? 0));
}

export interface QuarantineEntry {
  /** The subfolder of quarantine/ (the folder the file was found in). */
  where: string;
  name: string;
  /** The .why.txt beside it, null when missing. */
  why: string | null;
}

export interface MountSnapshot {
  batches: Record<string, BatchRecord | null>;
  /** Archived task files by batch; unreadable ones are listed in `unreadable`. */
  archive: Record<string, Task[]>;
  unreadable: string[];
  /** File names (all of them, temporaries included) in each task folder. */
  folders: Record<TaskFolder, string[]>;
  inbox: string[];
  rejected: string[];
  quarantine: QuarantineEntry[];
  lateResults: string[];
  runs: RunLine[];
  /** runs.log lines that do not parse (a torn append would show here). */
  badRunLines: string[];
  decisions: DecisionLine[];
  /** Temporary files left anywhere in the rig's folders, relative to the mount. */
  tempFiles: string[];
}

export function parseRunLog(text: string): { runs: RunLine[]; bad: string[] } {
  const runs: RunLine[] = [];
  const bad: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const m = /^(\d+) (\S+) (\d+) (\d+) (START|END)(?: (ok|fail))?$/.exec(line);
    if (!m || (m[5] === 'END') !== (m[6] !== undefined)) {
      bad.push(line);
      continue;
    }
    runs.push({ t: Number(m[1]), task: m[2]!, attempt: Number(m[3]), pid: Number(m[4]), what: m[5] as 'START' | 'END', status: (m[6] as 'ok' | 'fail' | undefined) ?? null });
  }
  return { runs, bad };
}

async function names(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).sort();
}

export async function readMountSnapshot(paths: MountPaths, batches: Array<{ id: string; plan: string }>): Promise<MountSnapshot> {
  const snap: MountSnapshot = {
    batches: {}, archive: {}, unreadable: [],
    folders: { private: [], queue: [], processing: [], complete: [], failed: [] },
    inbox: [], rejected: [], quarantine: [], lateResults: [], runs: [], badRunLines: [], decisions: [], tempFiles: [],
  };
  for (const { id, plan } of batches) {
    snap.batches[id] = await readBatchRecord(paths, id).catch(() => null);
    const dir = join(paths.tasks, 'archive', id);
    const tasks: Task[] = [];
    for (const n of await names(dir)) {
      const text = await readFile(join(dir, n), 'utf8').catch(() => '');
      let parsed;
      try {
        parsed = Task.safeParse(JSON.parse(text));
      } catch {
        parsed = null;
      }
      if (parsed?.success) tasks.push(parsed.data);
      else snap.unreadable.push(`tasks/archive/${id}/${n}`);
    }
    snap.archive[id] = tasks;
    const batchPath = snap.batches[id]?.batch_path ?? batchDir(paths, plan, id);
    const { runs, bad } = parseRunLog(await readFile(join(batchPath, 'runs.log'), 'utf8').catch(() => ''));
    snap.runs.push(...runs);
    snap.badRunLines.push(...bad);
  }
  for (const f of TASK_FOLDERS) snap.folders[f] = await names(paths.folders[f]);
  snap.inbox = (await readdir(paths.inbox, { withFileTypes: true }).catch(() => [])).filter((e) => e.isFile()).map((e) => e.name).sort();
  snap.rejected = await names(paths.inboxRejected);
  for (const where of await names(paths.quarantine)) {
    const all = await names(join(paths.quarantine, where));
    for (const n of all) {
      if (n.endsWith('.why.txt')) continue;
      const why = all.includes(`${n}.why.txt`) ? await readFile(join(paths.quarantine, where, `${n}.why.txt`), 'utf8').catch(() => null) : null;
      snap.quarantine.push({ where, name: n, why });
    }
  }
  snap.lateResults = await names(join(paths.tasks, 'late_results'));
  // The merged log and what the spool holds beyond it: the agents' and the launcher's last
  // lines may not be merged yet (the brain stopped first).
  for (const line of await readDecisionLines(paths)) {
    const d = parseDecisionLine(line);
    if (d) snap.decisions.push(d);
  }
  snap.tempFiles = (await listTempFiles(await rigFolders(paths), Date.now())).map((f) => relative(paths.root, f.path)).sort();
  return snap;
}
