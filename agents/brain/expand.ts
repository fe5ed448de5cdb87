// A foreach task whose dependencies are complete becomes one task per manifest item: the
// children are sealed, written into private/, and added to the batch record; the template
// records them (expanded_into), and closes once they are all terminal (decide.ts).
import { expandForeach, readManifestItems } from '../plan/expand.ts';
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
