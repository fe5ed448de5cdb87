// forge logs TASK [--shared DIR] [--json] [--lines N]: a task's attempts and the tail of each
// attempt's stdout and stderr. The task file is looked for in the live task folders, then in
// tasks/archive/<batch>/; each attempt's output is in <batch folder>/logs/<name>.attemptN.out
// and .err (agents/worker/main.ts writes them there).
import '../agents/core/shortLived.ts';
import { join } from 'node:path';
import { parseCommand, usageError, runCommand } from '../agents/core/args.ts';
import { batchOfTaskId } from '../agents/core/batch.ts';
import { printable } from '../agents/core/decisionLog.ts';
import { type LogTail, attemptLogs } from '../agents/core/logTail.ts';
import { isSafeName, mountPaths, TASK_FOLDERS, type MountPaths } from '../agents/core/paths.ts';
import { archiveDir } from '../agents/core/placeTask.ts';
import { TaskStore } from '../agents/core/store.ts';
import type { AttemptRecord, Task } from '../agents/core/task.ts';
import { readTaskFile } from '../agents/core/taskFile.ts';

const USAGE = `usage: forge logs TASK [--json] [--lines N] [--shared DIR]
  TASK          a task id (batch__name), or a task name found in exactly one live batch
  --json        print one JSON object: { task_id, where, attempts: [{ ..., stdout, stderr }] }
  --lines N     how many of the last lines of each log to show (default 50)
  --shared DIR  the shared mount (default: $RIG_SHARED, else ./shared)
  -h, --help    print this help and exit`;

interface Found {
  task: Task;
  /** The folder the task file is in, relative to the mount: e.g. tasks/complete or tasks/archive/b1. */
  where: string;
}

/** The task file's folders, live first, then the batch's archive. */
function placesOf(paths: MountPaths, store: TaskStore, id: string): Array<{ file: string; where: string }> {
  const live = TASK_FOLDERS.map((f) => ({ file: store.fileOf(f, id), where: `tasks/${f}` }));
  const batch = batchOfTaskId(id);
  if (batch === id || !isSafeName(batch)) return live;
  return [...live, { file: join(archiveDir(paths, batch), `${id}.json`), where: `tasks/archive/${batch}` }];
}

async function findById(paths: MountPaths, store: TaskStore, id: string): Promise<Found | null> {
  for (const place of placesOf(paths, store, id)) {
    const r = await readTaskFile(place.file, id);
    if (r.ok) return { task: r.task, where: place.where };
  }
  return null;
}

/** Ids in the live folders whose task name is `name`: for `forge logs hello` in place of b1__hello. */
async function idsNamed(store: TaskStore, name: string): Promise<string[]> {
  const ids = new Set<string>();
  for (const f of TASK_FOLDERS) {
    for (const id of await store.list(f).catch(() => [])) if (id !== name && id.endsWith(`__${name}`)) ids.add(id);
  }
  return [...ids].sort();
}

function renderTail(label: string, t: LogTail): string[] {
  if (t.lines === null) return [`  ${label}: ${t.path}: ${t.problem}`];
  const head = `  ${label}: ${t.path} (${t.lines.length === 0 ? 'empty' : `last ${t.lines.length} line${t.lines.length === 1 ? '' : 's'}`})`;
  return [head, ...t.lines.map((l) => `    ${printable(l, 2000)}`)];
}

function renderAttempt(task: Task, a: AttemptRecord, logs: { stdout: LogTail; stderr: LogTail }): string[] {
  const exit = a.exit_code === null ? '' : `, exit ${a.exit_code}`;
  const kind = a.failure_kind ? ` (${a.failure_kind})` : '';
  return [
    `attempt ${a.attempt} of ${task.max_attempts}: ${a.agent}, claimed ${a.claimed_at}, finished ${a.finished_at ?? '(running)'}: ${a.outcome}${kind}${exit}`,
    ...(a.reason ? [`  reason: ${printable(a.reason, 2000)}`] : []),
    ...renderTail('stdout', logs.stdout),
    ...renderTail('stderr', logs.stderr),
  ];
}

async function resolveTask(paths: MountPaths, arg: string): Promise<Found> {
  if (!isSafeName(arg)) usageError(USAGE, `TASK '${printable(arg, 200)}' is not a task id (letters, digits, '.', '_', '-')`);
  const store = new TaskStore(paths);
  const byId = await findById(paths, store, arg);
  if (byId) return byId;
  const named = await idsNamed(store, arg);
  if (named.length === 1) {
    const found = await findById(paths, store, named[0]!);
    if (found) return found;
  }
  const looked = placesOf(paths, store, arg).map((p) => p.where).join(', ');
  const also = named.length > 1 ? `; the name ${arg} is a task of several batches: ${named.join(', ')}` : '';
  process.stderr.write(`logs: no task ${arg} in ${paths.root} (looked in ${looked}${also})\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  const { values, positionals, shared } = parseCommand(USAGE, { json: { type: 'boolean' }, lines: { type: 'string' } }, undefined, { positionals: { min: 1, max: 1 } });
  const count = values.lines === undefined ? 50 : Number(values.lines);
  if (!Number.isInteger(count) || count < 1 || count > 10_000) usageError(USAGE, `--lines ${values.lines}: expected a whole number from 1 to 10000`);
  const paths = mountPaths(shared);
  const { task, where } = await resolveTask(paths, positionals[0]!);
  const logs = await Promise.all(task.attempts.map((a) => attemptLogs(task, a, count)));

  if (values.json) {
    const attempts = task.attempts.map((a, i) => ({ ...a, stdout: logs[i]!.stdout, stderr: logs[i]!.stderr }));
    process.stdout.write(JSON.stringify({ task_id: task.id, name: task.name, batch: task.batch, where, attempts }, null, 2) + '\n');
  } else {
    const lines = [`task ${task.id} (batch ${task.batch}, plan ${task.plan}) in ${where}: ${task.attempts.length} attempt${task.attempts.length === 1 ? '' : 's'}`];
    task.attempts.forEach((a, i) => lines.push(...renderAttempt(task, a, logs[i]!)));
    process.stdout.write(lines.join('\n') + '\n');
  }
}

runCommand(main);
