// The pure window decisions of a foreach over more items than config foreach.window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../agents/core/config.ts';
import { CHILDREN_PER_PASS, countTasks, decideBatch, decideWindow, type TaskView, type WindowView } from '../../agents/brain/decide.ts';
import { BatchRecord } from '../../agents/core/batch.ts';
import type { TaskFolder } from '../../agents/core/paths.ts';
import { makeTask } from '../helpers/mount.ts';

const config = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 1 }], foreach: { window: 4 } });
const T = 'b1__work';

function world(children: Array<[number, TaskFolder]>, archived = { complete: 0, failed: 0 }) {
  const tasks = new Map<string, TaskView>();
  for (const [i, folder] of children) {
    const t = makeTask({ name: `work.${i + 1}`, template: 'work', item_index: i });
    tasks.set(t.id, { folder, task: t });
  }
  const windows = new Map<string, WindowView>([[T, { live: [...tasks.keys()], ...archived }]]);
  return { tasks, windows, config };
}

test('the first window is made in full; then only as many as finished', () => {
  assert.deepEqual(decideWindow(T, { items: 10, created: 0 }, world([])), { kind: 'create_children', id: T, from: 0, count: 4 });
  const w = world([[0, 'complete'], [1, 'processing'], [2, 'queue'], [3, 'private']]);
  assert.deepEqual(decideWindow(T, { items: 10, created: 4 }, w), { kind: 'create_children', id: T, from: 4, count: 1 });
  const full = world([[0, 'processing'], [1, 'processing'], [2, 'queue'], [3, 'private']]);
  assert.equal(decideWindow(T, { items: 10, created: 4 }, full), null);
});

test('a large window is made CHILDREN_PER_PASS at a time: no pass spends seconds writing children', () => {
  const big = { ...world([]), config: Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 1 }], foreach: { window: 256 } }) };
  assert.equal(CHILDREN_PER_PASS, 32);
  assert.deepEqual(decideWindow(T, { items: 100_000, created: 0 }, big), { kind: 'create_children', id: T, from: 0, count: 32 });
  assert.deepEqual(decideWindow(T, { items: 100_000, created: 32 }, big), { kind: 'create_children', id: T, from: 32, count: 32 });
  assert.deepEqual(decideWindow(T, { items: 40, created: 32 }, big), { kind: 'create_children', id: T, from: 32, count: 8 });
});

test('the last window is cut to the items left', () => {
  assert.deepEqual(decideWindow(T, { items: 9, created: 8 }, world([], { complete: 8, failed: 0 })), { kind: 'create_children', id: T, from: 8, count: 1 });
});

test('children past the cursor (a pass died before moving it) do not fill the window', () => {
  const w = world([[4, 'private'], [5, 'private']], { complete: 4, failed: 0 });
  assert.deepEqual(decideWindow(T, { items: 10, created: 4 }, w), { kind: 'create_children', id: T, from: 4, count: 4 });
});

test('closed once all items were made and every child archived: ok only without failures', () => {
  assert.equal(decideWindow(T, { items: 6, created: 6 }, world([[5, 'complete']], { complete: 5, failed: 0 })), null);
  assert.deepEqual(decideWindow(T, { items: 6, created: 6 }, world([], { complete: 6, failed: 0 })), { kind: 'close_template', id: T, ok: true, reason: 'all 6 items complete' });
  assert.deepEqual(decideWindow(T, { items: 6, created: 6 }, world([], { complete: 5, failed: 1 })), { kind: 'close_template', id: T, ok: false, reason: '1 of 6 items failed' });
});

test('counts: archived from the window, live by folder, not made yet waiting', () => {
  const { tasks, windows } = world([[3, 'processing'], [4, 'queue']], { complete: 2, failed: 1 });
  const tpl = makeTask({ name: 'work', window: { items: 10, created: 5 }, expanded_into: [] });
  tasks.set(T, { folder: 'private', task: tpl });
  const batch = BatchRecord.parse({ id: 'b1', plan: 'p', plan_dir: '/p', batch_path: '/tmp/b', state: 'running', values: {}, submitted_at: 'x', started_at: null, finished_at: null, task_ids: [T] });
  assert.deepEqual(countTasks(batch, tasks, windows), { total: 11, waiting: 6, queued: 1, processing: 1, complete: 2, failed: 1, skipped: 0 });
});

test('counts: once the template has ended (a cancel), items never made count as failed, not waiting', () => {
  const { tasks, windows } = world([[3, 'failed'], [4, 'failed']], { complete: 2, failed: 1 });
  const tpl = makeTask({ name: 'work', window: { items: 10, created: 5 }, expanded_into: [] });
  tasks.set(T, { folder: 'failed', task: tpl });
  const batch = BatchRecord.parse({ id: 'b1', plan: 'p', plan_dir: '/p', batch_path: '/tmp/b', state: 'running', values: {}, submitted_at: 'x', started_at: null, finished_at: null, task_ids: [T], cancelled_at: 'x' });
  // The template, 2 complete, 1 failed archived, 2 cancelled live, 5 never made.
  assert.deepEqual(countTasks(batch, tasks, windows), { total: 11, waiting: 0, queued: 0, processing: 0, complete: 2, failed: 9, skipped: 0 });
});

test('a pass releases the children made before it, then makes more', () => {
  const { tasks, windows } = world([[0, 'private']]);
  const tpl = makeTask({ name: 'work', window: { items: 10, created: 1 }, expanded_into: [] });
  tasks.set(T, { folder: 'private', task: tpl });
  const batch = BatchRecord.parse({ id: 'b1', plan: 'p', plan_dir: '/p', batch_path: '/tmp/b', state: 'running', values: {}, submitted_at: 'x', started_at: null, finished_at: null, task_ids: [T] });
  const kinds = decideBatch(batch, tasks, new Set(), config, null, () => null, { windows }).map((a) => a.kind);
  assert.deepEqual(kinds, ['release', 'create_children']);
});
