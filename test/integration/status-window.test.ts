// status during a windowed foreach, on a real mount: the waiting children are taken by name
// and counted with the batch record's windows, and what it prints equals what reading every
// task file gives. A bad or missing batch record, or an unreadable template, still gives an
// answer: the children are then read one by one and counted from the folders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { writeJsonAtomic } from '../../agents/core/atomic.ts';
import { batchRecordPath, writeBatchRecord } from '../../agents/core/batch.ts';
import { defaultGpus, writeConfig } from '../../agents/core/config.ts';
import { writeHeartbeat } from '../../agents/core/heartbeat.ts';
import { type MountPaths, TASK_FOLDERS, type TaskFolder } from '../../agents/core/paths.ts';
import type { Task, TaskInput, WorkerResult } from '../../agents/core/task.ts';
import { readTaskFile, taskIdOf } from '../../agents/core/taskFile.ts';
import { expandForeach } from '../../agents/plan/expand.ts';
import { toStatusJson } from '../../agents/status/json.ts';
import { type RigSnapshot, readSnapshot } from '../../agents/status/snapshot.ts';
import { NOW, heartbeat, iso } from '../helpers/doctorSnapshot.ts';
import { makeTask, tempMount } from '../helpers/mount.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ITEMS = 1000;
/** Items the record says were made; two more were made since (the record is a pass behind). */
const CREATED = 300;

const result = (t: Task, outcome: WorkerResult['outcome']): WorkerResult => ({
  task_id: t.id, attempt: 1, outcome, failure_kind: outcome === 'success' ? null : 'app', exit_code: outcome === 'success' ? 0 : 1,
  signal: null, reason: outcome === 'success' ? null : 'exit 1', started_at: iso(5000), finished_at: iso(4000), duration_ms: 1000, stdout_path: null, stderr_path: null,
});

async function put(paths: MountPaths, folder: TaskFolder, task: TaskInput): Promise<void> {
  await writeJsonAtomic(join(paths.folders[folder], `${task.id}.json`), task);
}

/**
 * Batch b1: `items` done, then `work`, a foreach of ITEMS items made a window at a time. Items
 * 1-40 are archived complete and 41-42 failed (the record's counts); of the live children,
 * 43-46 are in complete/, 47 in failed/ (to be retried), 48-51 run on gpu-0, 52-115 are
 * queued and the rest up to 302 wait in private/. Batch b2, not windowed, has a foreach child
 * of its own in private/.
 */
async function buildMount(paths: MountPaths): Promise<void> {
  await writeConfig(paths.config, { gpus: defaultGpus(2) });
  const items = makeTask({ batch: 'b1', name: 'items', created_at: iso(60_000) });
  const template = makeTask({
    batch: 'b1', name: 'work', depends_on: [items.id], created_at: iso(60_000),
    foreach: { path: '/tmp/b/manifest.json', key: 'items' }, expanded_into: [], window: { items: ITEMS, created: CREATED + 2 },
  });
  await put(paths, 'complete', { ...items, result: result(items, 'success') });
  await put(paths, 'private', template);
  const made = expandForeach(template, Array.from({ length: CREATED + 2 - 42 }, (_, i) => ({ n: i })), NOW - 30_000, 42);
  assert.deepEqual(made.problems, []);
  const running: Task[] = [];
  for (const c of made.tasks as Task[]) {
    const n = c.item_index! + 1;
    if (n <= 46) await put(paths, 'complete', { ...c, attempt: 1, result: result(c, 'success') });
    else if (n === 47) await put(paths, 'failed', { ...c, attempt: 1, result: result(c, 'failed') });
    else if (n <= 51) {
      running.push(c);
      await put(paths, 'processing', { ...c, attempt: 1, claimed_by: 'gpu-0', claimed_at: iso(2000) });
    } else await put(paths, n <= 115 ? 'queue' : 'private', c);
  }
  await writeBatchRecord(paths, {
    id: 'b1', plan: 'p', plan_dir: '/p', batch_path: '/tmp/b', state: 'running', values: {}, submitted_at: iso(60_000), started_at: iso(60_000),
    finished_at: null, task_ids: [items.id, template.id], failed_tasks: ['b1__work.41', 'b1__work.42'],
    windows: { [template.id]: { items: ITEMS, created: CREATED, complete: 40, failed: 2 } },
  });
  const other = makeTask({ batch: 'b2', name: 'each', foreach: null, expanded_into: [], created_at: iso(50_000) });
  const child = { ...other, id: 'b2__each.1', name: 'each.1', template: 'each', item_index: 0, expanded_into: null };
  await put(paths, 'private', other);
  await put(paths, 'private', child);
  await writeBatchRecord(paths, {
    id: 'b2', plan: 'p', plan_dir: '/p', batch_path: '/tmp/b', state: 'running', values: {}, submitted_at: iso(50_000), started_at: iso(50_000),
    finished_at: null, task_ids: [other.id, child.id],
  });
  const active = running.map((t) => ({ worker_id: `w${t.id}`, task_id: t.id, task_class: 'cpu' as const, task_name: t.name, vram_estimate_mb: 0, peak_vram_mb: null, pid: 9, started_at: iso(2000) }));
  await writeHeartbeat(paths, heartbeat(0, { active_tasks: active, active_workers: active.length, budget_available_mb: 1024 }));
  await writeHeartbeat(paths, heartbeat(1));
}

/** The snapshot with every task read from its file, as status read them all before. */
async function readingEveryFile(paths: MountPaths, snap: RigSnapshot): Promise<RigSnapshot> {
  const tasks = Object.fromEntries(TASK_FOLDERS.map((f) => [f, [] as Task[]])) as Record<TaskFolder, Task[]>;
  for (const folder of TASK_FOLDERS) {
    for (const name of await readdir(paths.folders[folder])) {
      const id = taskIdOf(name);
      const r = id ? await readTaskFile(join(paths.folders[folder], name), id) : null;
      if (r?.ok) tasks[folder].push(r.task);
    }
  }
  return { ...snap, tasks };
}

/** The output with the waiting list in id order: a child taken by name is dated as its template, so its place among its folder's tasks may differ. */
function comparable(snap: RigSnapshot) {
  const j = toStatusJson(snap);
  return { ...j, waiting: [...j.waiting].sort((a, b) => (a.task_id < b.task_id ? -1 : 1)) };
}

const status = (shared: string) => execa('node', [join(ROOT, 'bin', 'forge'), 'status', '--json', '--shared', shared], { cwd: ROOT, reject: false, timeout: 30_000 });

test('a windowed foreach: counts from the record and the folder listings, the same output as reading every task file', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    await buildMount(paths);
    const snap = await readSnapshot(paths.root, NOW);
    const all = await readingEveryFile(paths, snap);
    assert.deepEqual(comparable(snap), comparable(all));
    const json = toStatusJson(snap);
    // Items 1-300 of the record's count: 42 archived, 258 live (4 complete, 1 failed, 4
    // running, 64 queued, 185 waiting); 700 not made yet; plus `items` (complete) and the template.
    assert.deepEqual(json.batches.find((b) => b.id === 'b1')?.tasks, {
      total: ITEMS + 2, waiting: 185 + 700 + 1, queued: 64, processing: 4, complete: 4 + 40 + 1, failed: 1 + 2, skipped: 0,
    });
    assert.deepEqual(json.batches.find((b) => b.id === 'b2')?.tasks, { total: 2, waiting: 2, queued: 0, processing: 0, complete: 0, failed: 0, skipped: 0 });
    // The folders hold items 301 and 302 too, made after the record was written.
    assert.deepEqual(json.queue, { queued: 64, processing: 4, complete: 5, failed: 1, waiting: 187 + 1 + 2 });
    const reasons = new Map(json.waiting.map((w) => [w.task_id, w.reason]));
    assert.match(reasons.get('b1__work.300') ?? '', /^ready; held back: 64 tasks of its batch wait in queue\/ \(release\.max_queued 64\)/);
    assert.equal(reasons.get('b1__work.52'), 'queued; next claim cycle');
    assert.equal(reasons.get('b1__work'), `making its ${ITEMS} items a window at a time (${CREATED + 2} made so far)`);
    assert.deepEqual(json.bad_files, []);
    assert.deepEqual(snap.tasks.processing.map((t) => t.claimed_by), ['gpu-0', 'gpu-0', 'gpu-0', 'gpu-0'], 'running children are read');
  } finally {
    await cleanup();
  }
});

test('waiting children are not read: a damaged one shows as its template made it, and the brain judges the file on its next scan', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    await buildMount(paths);
    await writeFile(join(paths.folders.private, 'b1__work.200.json'), 'not json at all');
    await writeFile(join(paths.folders.processing, 'b1__work.48.json'), 'not json at all');
    const json = toStatusJson(await readSnapshot(paths.root, NOW));
    assert.deepEqual(json.bad_files.map((b) => b.path), ['tasks/processing/b1__work.48.json'], 'running children are read');
    assert.ok(json.waiting.some((w) => w.task_id === 'b1__work.200'));
  } finally {
    await cleanup();
  }
});

for (const damage of ['garbage', 'missing'] as const) {
  test(`a ${damage} batch record: the batch is counted from its task files, read one by one, and status says what is wrong`, async () => {
    const { paths, cleanup } = await tempMount();
    try {
      await buildMount(paths);
      const file = batchRecordPath(paths, 'b1');
      await (damage === 'garbage' ? writeFile(file, '{"id": "b1", "state": ') : unlink(file));
      const r = await status(paths.root);
      assert.equal(r.exitCode, 0, r.stderr);
      const json = JSON.parse(r.stdout) as ReturnType<typeof toStatusJson>;
      // Without a record there are no windows: every live task file of b1 counts, and nothing more.
      assert.deepEqual(json.batches.find((b) => b.id === 'b1'), {
        id: 'b1', plan: 'p', state: 'running', tasks: { total: 2 + 260, waiting: 1 + 187, queued: 64, processing: 4, complete: 1 + 4, failed: 1, skipped: 0 },
      });
      assert.deepEqual(json.bad_files.map((b) => b.path), damage === 'garbage' ? ['brain/batches/b1.json'] : []);
      if (damage === 'garbage') assert.match(json.bad_files[0]!.problem, /JSON|batch record/);
      const snap = await readSnapshot(paths.root, NOW);
      assert.deepEqual(comparable(snap), comparable(await readingEveryFile(paths, snap)));
    } finally {
      await cleanup();
    }
  });
}

test('an unreadable template: its waiting children are read from their files, and the template is named as a bad file', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    await buildMount(paths);
    await writeFile(join(paths.folders.private, 'b1__work.json'), 'not json at all');
    const snap = await readSnapshot(paths.root, NOW);
    assert.deepEqual(comparable(snap), comparable(await readingEveryFile(paths, snap)));
    const json = toStatusJson(snap);
    assert.deepEqual(json.bad_files.map((b) => b.path), ['brain/private_tasks/b1__work.json']);
    // The template is listed in task_ids but unseen: it counts as waiting, as the brain counts it.
    assert.deepEqual(json.batches.find((b) => b.id === 'b1')?.tasks, {
      total: ITEMS + 2, waiting: 185 + 700 + 1, queued: 64, processing: 4, complete: 4 + 40 + 1, failed: 1 + 2, skipped: 0,
    });
    assert.equal(json.waiting.filter((w) => w.task_id.startsWith('b1__work.')).length, 64 + 187 + 1);
  } finally {
    await cleanup();
  }
});
