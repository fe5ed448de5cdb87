// Which folder entries status takes by name as a windowed foreach's children, and the task it
// judges such a child as.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BatchRecord } from '../../agents/core/batch.ts';
import { childOfTemplate } from '../../agents/core/task.ts';
import { expandForeach } from '../../agents/plan/expand.ts';
import { windowChildOf, windowTemplateIds } from '../../agents/status/windowChildren.ts';
import { makeTask } from '../helpers/mount.ts';

test('windowTemplateIds: the templates every record names in windows', () => {
  const rec = (id: string, windows: BatchRecord['windows']) => ({ id, windows }) as BatchRecord;
  const ids = windowTemplateIds([
    rec('b1', { b1__work: { items: 1000, created: 256, complete: 0, failed: 0 } }),
    rec('b2', {}),
    rec('b3', { b3__a: { items: 9, created: 9, complete: 9, failed: 0 }, b3__b: { items: 5, created: 0, complete: 0, failed: 0 } }),
  ]);
  assert.deepEqual([...ids].sort(), ['b1__work', 'b3__a', 'b3__b']);
});

test('windowChildOf: <template id>.<n> with n from 1 is item n-1; anything else is no child', () => {
  const templates = new Set(['b1__work']);
  assert.deepEqual(windowChildOf('b1__work.1', templates), { template: 'b1__work', index: 0 });
  assert.deepEqual(windowChildOf('b1__work.100000', templates), { template: 'b1__work', index: 99_999 });
  for (const id of ['b1__work', 'b1__work.0', 'b1__work.01', 'b1__work.x', 'b1__work.', 'b1__work.1.2', 'b1__other.1', 'b2__work.1', '.1', 'b1__work.1e3', 'b1__work.1234567890']) {
    assert.equal(windowChildOf(id, templates), null, id);
  }
  assert.equal(windowChildOf('b1__work.1', new Set()), null, 'no record names the template');
});

test('childOfTemplate is what expansion makes of an item, but for what the item fills in', () => {
  const template = makeTask({
    batch: 'b1', name: 'work', task_class: 'script', vram_estimate_mb: 2048, depends_on: ['b1__items'], target: null, model: 'm',
    foreach: { path: '/tmp/b/manifest.json', key: 'items' }, expanded_into: [], window: { items: 1000, created: 256 },
    attempt: 2, approved: true, claimed_by: 'gpu-0', released_at: '2026-01-01T00:00:01.000Z',
  });
  const now = Date.parse('2026-01-02T00:00:00.000Z');
  const made = expandForeach(template, [{ n: 7 }], now, 41);
  assert.deepEqual(made.problems, []);
  const standIn = childOfTemplate(template, 41, '2026-01-02T00:00:00.000Z');
  assert.deepEqual(standIn, made.tasks[0]);
  assert.equal(standIn.id, 'b1__work.42');
  assert.deepEqual(windowChildOf(standIn.id, new Set([template.id])), { template: template.id, index: 41 });
});
