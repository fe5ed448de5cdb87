// A foreach over more items than foreach.window, through the real brain, agents and commands:
// every item done exactly once and archived, `forge status --json` counting every item during
// and after; and `forge cancel` mid-way ends the batch cancelled without making more items.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readBatchRecord } from '../../agents/core/batch.ts';
import type { MountPaths } from '../../agents/core/paths.ts';
import { Task } from '../../agents/core/task.ts';
import { submitPlan, waitFor, waitForBatchEnd } from '../../tools/harness/runRig.ts';
import { forge, withRig, writePlan } from '../helpers/rig.ts';

const N = 40;
const W = 8;
/** The plan's own tasks around the items: the manifest's task, the template, the summary. */
const OWN = 3;

const ITEMS = `import { renameSync, writeFileSync } from 'node:fs';
const [n, out] = process.argv.slice(2);
writeFileSync(out + '.tmp', JSON.stringify({ items: Array.from({ length: Number(n) }, (_, i) => ({ n: i })) }));
renameSync(out + '.tmp', out);
`;

/** Appends the item's number to started.log in the batch folder, then sleeps `s` seconds (sh: an item costs no node boot). */
const MARK = `#!/bin/sh
echo "$2" >> "$1/started.log"
exec sleep "$3"
`;

const plan = (s: string) => `# Window

## Goal
A foreach of ${N} items, made ${W} at a time.

## Tasks

### items
- **task_class**: cpu
- **command**: \`node scripts/items.mjs ${N} {BATCH_PATH}/manifest.json\`

### work
- **task_class**: cpu
- **command**: \`sh scripts/mark.sh {BATCH_PATH} {ITEM.n} ${s}\`
- **depends_on**: items
- **foreach**: {BATCH_PATH}/manifest.json:items
`;

async function statusOf(paths: MountPaths, batch: string): Promise<{ state: string; tasks: Record<string, number> }> {
  const r = await forge('status', '--json', '--shared', paths.root);
  assert.equal(r.code, 0, r.stderr);
  const b = (JSON.parse(r.stdout) as { batches: Array<{ id: string; state: string; tasks: Record<string, number> }> }).batches.find((x) => x.id === batch);
  assert.ok(b, `status lists ${batch}`);
  return b;
}

async function started(batchPath: string): Promise<string[]> {
  return (await readFile(join(batchPath, 'started.log'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
}

async function archivedChildren(paths: MountPaths, batch: string): Promise<Task[]> {
  const dir = join(paths.tasks, 'archive', batch);
  const names = (await readdir(dir)).filter((n) => /__work\.\d+\.json$/.test(n));
  return Promise.all(names.map(async (n) => Task.parse(JSON.parse(await readFile(join(dir, n), 'utf8')))));
}

const sum = (t: Record<string, number>) => t.waiting! + t.queued! + t.processing! + t.complete! + t.failed!;

test(`a foreach of ${N} items with foreach.window ${W}: every item once, archived, status counts every item`, async () => {
  await withRig(2, { foreach: { window: W } }, async (paths) => {
    await writePlan(paths, 'window', plan('0.2'), { 'items.mjs': ITEMS, 'mark.sh': MARK });
    const batch = await submitPlan(paths.root, join(paths.plans, 'window'));
    const rec = await waitFor('the batch record', () => readBatchRecord(paths, batch), 20_000);
    // While it runs: every item counted (made or not), none lost between the folders and the archive.
    await waitFor('some items started', async () => (await started(rec.batch_path)).length >= 4, 60_000);
    const during = await statusOf(paths, batch);
    assert.equal(during.state, 'running');
    assert.equal(during.tasks.total, N + OWN, JSON.stringify(during.tasks));
    assert.equal(sum(during.tasks), N + OWN, JSON.stringify(during.tasks));
    assert.ok(during.tasks.complete! < N + OWN, 'not all done yet');

    const end = await waitForBatchEnd(paths, batch, 120_000);
    assert.equal(end.state, 'complete');
    assert.deepEqual(end.final_counts, { total: N + OWN, waiting: 0, queued: 0, processing: 0, complete: N + OWN, failed: 0, skipped: 0 });
    assert.equal(end.task_ids.length, OWN, 'the children stay out of task_ids');
    const children = await archivedChildren(paths, batch);
    assert.equal(children.length, N, 'every child archived once');
    assert.deepEqual(children.map((t) => t.item_index).sort((a, b) => a! - b!), Array.from({ length: N }, (_, i) => i));
    for (const t of children) {
      assert.equal(t.result?.outcome, 'success', t.id);
      assert.equal(t.attempts.length, 1, `${t.id} ran once`);
    }
    assert.deepEqual((await started(rec.batch_path)).map(Number).sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i), 'each item started exactly once');
    const after = await statusOf(paths, batch);
    assert.equal(after.state, 'complete');
    assert.deepEqual(after.tasks, end.final_counts);
  });
});

test(`forge cancel mid-way through a windowed foreach: the batch ends cancelled, no further item is made`, async () => {
  await withRig(1, { foreach: { window: W }, resource_limits: { max_workers: 2 }, timeouts: { abort_grace_s: 2 } }, async (paths) => {
    await writePlan(paths, 'window', plan('60'), { 'items.mjs': ITEMS, 'mark.sh': MARK });
    const batch = await submitPlan(paths.root, join(paths.plans, 'window'));
    const rec = await waitFor('the batch record', () => readBatchRecord(paths, batch), 20_000);
    await waitFor('two items running', async () => (await started(rec.batch_path)).length >= 2, 60_000);
    await waitFor('one window made, as the record says', async () => (await readBatchRecord(paths, batch))?.windows[`${batch}__work`]?.created === W, 10_000);

    const cancel = await forge('cancel', batch, '--shared', paths.root);
    assert.equal(cancel.code, 0, cancel.stderr);
    const end = await waitForBatchEnd(paths, batch, 60_000);
    assert.equal(end.state, 'cancelled');
    assert.equal(end.windows[`${batch}__work`]?.created, W, 'no item made after the cancel');
    const children = await archivedChildren(paths, batch);
    assert.equal(children.length, W, 'the window made is archived, nothing more');
    for (const t of children) assert.equal(t.result?.outcome, 'cancelled', t.id);
    assert.equal((await started(rec.batch_path)).length, 2, 'no item started after the cancel');
    // Items never made count as failed (not run), as the cancelled ones do; none is left waiting.
    const c = end.final_counts!;
    assert.equal(c.total, N + OWN);
    assert.equal(c.waiting + c.queued + c.processing, 0, JSON.stringify(c));
    assert.equal(c.complete, 2, 'the manifest task and the summary'); // the summary still runs
    assert.equal(c.failed, N + 1, 'every item and the template');
    const after = await statusOf(paths, batch);
    assert.equal(after.state, 'cancelled');
    assert.deepEqual(after.tasks, c);
  });
});
