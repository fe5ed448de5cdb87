// A foreach task whose dependencies are complete becomes one task per manifest item: the
// children are sealed, written into private/, and added to the batch record; the template
// records them (expanded_into), and closes once they are all terminal (decide.ts).
// A manifest of more items than config foreach.window is windowed instead: its children are
// made a window at a time as earlier ones finish (createChildren), kept out of task_ids and
// expanded_into, and archived as they finish, so nothing the brain holds or rewrites grows
// with the number of items.
import type { Task } from '../core/task.ts';
import { expandForeach, readManifestItems } from '../plan/expand.ts';
import { CHILDREN_PER_PASS } from './decide.ts';
import type { BrainIndex } from './brainIndex.ts';

/** Task files a fan-out writes at once. */
const WRITE_AHEAD = 16;

export async function expandTemplate(ix: BrainIndex, batchId: string, id: string): Promise<void> {
  const template = ix.view(id).task;
  const spec = template.foreach!;
  const fail = async (reason: string) => {
    const t = await ix.store.write('private', {
      ...template, result: ix.brainResult(template, 'not_run', reason), finished_at: ix.now(),
    });
    if (await ix.moveTask(id, 'private', 'failed', t)) {
      await ix.decide({ what: 'FOREACH_FAILED', task: id, reason });
    }
  };
  const items = await readManifestItems(spec.path, spec.key, template.batch_path);
  if (!items.ok) return fail(`foreach could not expand: ${items.error}`);
  if (items.items.length > ix.config.foreach.window) return expandWindowed(ix, batchId, template, items.items, fail);
  const { tasks: children, problems } = expandForeach(template, items.items, ix.clock.now());
  if (problems.length) return fail(`foreach could not expand: ${problems.join('; ')}`);
  await ix.seal(batchId, template.batch_path, children);
  const existing = await ix.allTaskIds();
  // Written WRITE_AHEAD at a time: on a network mount each file is a few round trips, and
  // nobody else reads private/ (so these writes skip the fsync too: store.write).
  const todo = children.filter((c) => !existing.has(c.id));
  for (let i = 0; i < todo.length; i += WRITE_AHEAD) {
    for (const written of await Promise.all(todo.slice(i, i + WRITE_AHEAD).map((c) => ix.store.write('private', c)))) {
      ix.tasks.set(written.id, { folder: 'private', task: written });
    }
  }
  const rec = ix.batchOf(batchId);
  const ids = children.map((c) => c.id);
  await ix.updateBatch(batchId, { task_ids: [...new Set([...rec.task_ids, ...ids])] });
  const t = await ix.store.write('private', { ...template, expanded_into: ids });
  ix.tasks.set(id, { folder: 'private', task: t });
  await ix.decide({ what: 'EXPAND', task: id, reason: `${ids.length} items from ${spec.path}${spec.key ? ':' + spec.key : ''}` });
}

/** Items checked at once when a windowed foreach starts (their tasks are made and dropped). */
const CHECK_CHUNK = 1000;

/**
 * Every item is checked first, as a small foreach's are (a bad item fails the template and no
 * child is made); then the template records the window's cursor at 0 and the first window is made.
 */
async function expandWindowed(ix: BrainIndex, batchId: string, template: Task, items: unknown[], fail: (reason: string) => Promise<void>): Promise<void> {
  const problems: string[] = [];
  for (let i = 0; i < items.length && problems.length < 20; i += CHECK_CHUNK) {
    problems.push(...expandForeach(template, items.slice(i, i + CHECK_CHUNK), ix.clock.now(), i).problems);
  }
  if (problems.length) return fail(`foreach could not expand: ${problems.slice(0, 20).join('; ')}`);
  const t = await ix.store.write('private', { ...template, expanded_into: [], window: { items: items.length, created: 0 } });
  ix.tasks.set(t.id, { folder: 'private', task: t });
  ix.manifests.set(t.id, items);
  ix.windowCounts.set(t.id, { complete: 0, failed: 0 });
  const spec = template.foreach!;
  await ix.decide({ what: 'EXPAND', task: t.id, reason: `${items.length} items from ${spec.path}${spec.key ? ':' + spec.key : ''}, made ${ix.config.foreach.window} at a time` });
  // A first part of the window at once, for a quick first claim; decideWindow makes the rest as passes go.
  await createChildren(ix, batchId, t.id, 0, Math.min(ix.config.foreach.window, items.length, CHILDREN_PER_PASS));
}

/**
 * The next `count` children of a windowed foreach, from item `from`: sealed, written into
 * private/, and only then the template's cursor moved past them. A brain that dies in between
 * makes the same children again (ids and contents follow from the template and the index), and
 * none of them is released before the cursor passes it (decide.ts), so no item runs twice or is skipped.
 */
export async function createChildren(ix: BrainIndex, batchId: string, id: string, from: number, count: number): Promise<void> {
  const template = ix.view(id).task;
  const win = template.window;
  if (!win || win.created !== from) return; // decided on a view this pass already moved past
  let items = ix.manifests.get(id);
  if (!items) {
    const read = await readManifestItems(template.foreach!.path, template.foreach!.key, template.batch_path);
    // Read whole and checked when the foreach started; a manifest changed since is not followed.
    if (!read.ok || read.items.length !== win.items) {
      const reason = `foreach manifest changed or unreadable since it was expanded (${read.ok ? `${read.items.length} items, was ${win.items}` : read.error})`;
      const t = await ix.store.write('private', { ...template, result: ix.brainResult(template, 'not_run', reason), finished_at: ix.now() });
      if (await ix.moveTask(id, 'private', 'failed', t)) await ix.decide({ what: 'FOREACH_FAILED', task: id, reason });
      return;
    }
    items = read.items;
    ix.manifests.set(id, items);
  }
  const { tasks: children, problems } = expandForeach(template, items.slice(from, from + count), ix.clock.now(), from);
  if (problems.length) throw new Error(`foreach ${id}: ${problems[0]}`);
  await ix.seal(batchId, template.batch_path, children);
  const written: Task[] = [];
  for (let i = 0; i < children.length; i += WRITE_AHEAD) {
    written.push(...(await Promise.all(children.slice(i, i + WRITE_AHEAD).map((c) => ix.store.write('private', c)))));
  }
  const t = await ix.store.write('private', { ...template, window: { items: win.items, created: from + children.length } });
  ix.tasks.set(id, { folder: 'private', task: t });
  for (const c of written) ix.tasks.set(c.id, { folder: 'private', task: c });
}
