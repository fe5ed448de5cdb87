// A windowed foreach's children that wait in private/ or queue/ are seen by name, not read.
// A child is its template but for its item (core/task.ts childOfTemplate): class, estimate,
// target, model and dependencies are the template's, so what status shows of a waiting child
// (its counts, why it waits) follows from its template's task and its own id. A window
// (foreach.window, 256) and the queue's share of it wait at any moment, and reading each of
// them was most of what status cost during a big foreach. Pure.
import type { BatchRecord } from '../core/batch.ts';

/** The task ids of the windowed foreach templates that the batch records name. */
export function windowTemplateIds(records: readonly BatchRecord[]): Set<string> {
  const out = new Set<string>();
  for (const rec of records) for (const id of Object.keys(rec.windows)) out.add(id);
  return out;
}

/** For the id of a child of one of `templates` (<template id>.<n>, n from 1): the template's id and the item's index; else null. */
export function windowChildOf(id: string, templates: ReadonlySet<string>): { template: string; index: number } | null {
  const dot = id.lastIndexOf('.');
  if (dot <= 0 || !templates.has(id.slice(0, dot))) return null;
  const n = id.slice(dot + 1);
  if (!/^[1-9][0-9]{0,8}$/.test(n)) return null;
  return { template: id.slice(0, dot), index: Number(n) - 1 };
}
