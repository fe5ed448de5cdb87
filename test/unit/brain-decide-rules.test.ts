import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../agents/core/config.ts';
import { BatchRecord } from '../../agents/core/batch.ts';
import type { TaskFolder } from '../../agents/core/paths.ts';
import type { Task, WorkerResult } from '../../agents/core/task.ts';
import { type BrainAction, decideBatch, type TaskView } from '../../agents/brain/decide.ts';
import { makeTask } from '../helpers/mount.ts';

// One row per rule of decideBatch: each fails when its rule is removed.
const config = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 11435 }] });

function batch(ids: string[], over: Partial<BatchRecord> = {}): BatchRecord {
  return BatchRecord.parse({
    id: 'b1', plan: 'p', plan_dir: '/p', batch_path: '/p/batches/b1', state: 'running', values: {},
    submitted_at: 'x', started_at: 'x', finished_at: null, task_ids: ids, ...over,
  });
}

function ended(t: Task, outcome: WorkerResult['outcome'], failure: 'app' | 'infra' | null, attempts = 0): Task {
  const result: WorkerResult = {
    task_id: t.id, attempt: Math.max(1, attempts), outcome, failure_kind: failure, exit_code: null, signal: null,
    reason: 'r', started_at: 'x', finished_at: 'x', duration_ms: 0, stdout_path: null, stderr_path: null,
  };
  const recs = Array.from({ length: attempts }, (_, i) => ({
    attempt: i + 1, agent: 'gpu-0', claimed_at: 'x', finished_at: 'x', outcome, failure_kind: failure, reason: 'r', exit_code: 1,
  }));
  return { ...t, attempt: attempts, attempts: recs as Task['attempts'], result };
}

const a = makeTask({ name: 'a' });
const b = makeTask({ name: 'b', depends_on: [a.id] });
const big = makeTask({ name: 'big', task_class: 'script', vram_estimate_mb: 9000 });
const huge = makeTask({ name: 'huge', task_class: 'llm', type: 'generate', model: 'llama3:70b' });
const small = makeTask({ name: 'small', task_class: 'llm', type: 'generate', model: null });
const unknown = makeTask({ name: 'unknown', task_class: 'llm', type: 'generate', model: 'other:1b' });
const sizes: Record<string, number> = { 'llama3:70b': 42_000, m: 4700 };
const c1 = makeTask({ name: 'w.1' });
const c2 = makeTask({ name: 'w.2' });
const tpl = { ...makeTask({ name: 'w', foreach: { path: '/m.json', key: 'items' } }), expanded_into: [c1.id, c2.id] };
const summary = makeTask({ name: 'batch_summary', executor: 'brain', type: 'batch_summary' });
const dead = ended(a, 'failed', 'app', 3);

interface Row {
  name: string;
  batch: BatchRecord;
  tasks: Array<[TaskFolder, Task]>;
  approvals?: string[];
  budget?: number | null;
  want: string[];
}

const rows: Row[] = [
  { name: 'a pending batch starts', batch: batch([a.id], { state: 'pending' }), tasks: [['queue', a]], want: ['start_batch'] },
  { name: 'a finished batch: nothing', batch: batch([a.id], { state: 'complete' }), tasks: [['private', a]], want: [] },
  { name: 'a cancelled batch: nothing', batch: batch([a.id], { state: 'cancelled' }), tasks: [['private', a]], want: [] },
  { name: 'give up once', batch: batch([a.id, b.id]), tasks: [['failed', dead], ['queue', b]], want: ['give_up:b1__a'] },
  { name: 'a give-up already announced is not again', batch: batch([a.id, b.id], { failed_tasks: [a.id] }), tasks: [['failed', dead], ['queue', b]], want: [] },
  { name: 'a not_run in failed/ is never given up', batch: batch([a.id, b.id]), tasks: [['failed', ended(a, 'not_run', null)], ['queue', b]], want: [] },
  { name: 'a not_run record still in private/ is moved', batch: batch([a.id, b.id]), tasks: [['private', ended(a, 'not_run', null)], ['queue', b]], want: ['not_run:b1__a'] },
  { name: 'a parked task waits without approval', batch: batch([a.id]), tasks: [['private', { ...a, parked: 'approval' }]], want: [] },
  { name: 'an approval releases a parked task', batch: batch([a.id]), tasks: [['private', { ...a, parked: 'approval' }]], approvals: [a.id], want: ['unpark:b1__a'] },
  { name: 'a dependency pending: wait', batch: batch([a.id, b.id]), tasks: [['processing', a], ['private', b]], want: [] },
  { name: 'a dependency missing from view: wait', batch: batch([a.id, b.id]), tasks: [['private', b]], want: [] },
  { name: 'too big for every GPU', batch: batch([big.id]), tasks: [['private', big]], budget: 8000, want: ['unschedulable:b1__big'] },
  { name: 'no budget known yet: released', batch: batch([big.id]), tasks: [['private', big]], budget: null, want: ['release:b1__big'] },
  { name: 'fits the budget: released', batch: batch([big.id]), tasks: [['private', big]], budget: 10_000, want: ['release:b1__big'] },
  { name: 'an llm task whose model fits no budget', batch: batch([huge.id]), tasks: [['private', huge]], budget: 8000, want: ['unschedulable:b1__huge'] },
  { name: 'an llm task whose model fits', batch: batch([small.id]), tasks: [['private', small]], budget: 8000, want: ['release:b1__small'] },
  { name: 'an llm task of an unknown size: released', batch: batch([unknown.id]), tasks: [['private', unknown]], budget: 8000, want: ['release:b1__unknown'] },
  { name: 'a cpu task is never unschedulable', batch: batch([a.id]), tasks: [['private', { ...a, vram_estimate_mb: 9000 }]], budget: 8000, want: ['release:b1__a'] },
  {
    name: 'a foreach with a failed item closes failed', batch: batch([tpl.id, c1.id, c2.id]),
    tasks: [['private', tpl], ['complete', c1], ['failed', ended(c2, 'failed', 'app', 3)]], want: ['close_template:b1__w:failed', 'give_up:b1__w.2'],
  },
  {
    name: 'a foreach with every item complete closes ok', batch: batch([tpl.id, c1.id, c2.id]),
    tasks: [['private', tpl], ['complete', c1], ['complete', c2]], want: ['close_template:b1__w:ok'],
  },
  { name: 'the summary waits for the others', batch: batch([a.id, summary.id]), tasks: [['queue', a], ['private', summary]], want: [] },
  { name: 'the summary runs once the others are terminal', batch: batch([a.id, summary.id]), tasks: [['complete', a], ['private', summary]], want: ['summarize:b1__batch_summary'] },
  { name: 'all complete: finish complete', batch: batch([a.id]), tasks: [['complete', a]], want: ['finish_batch:complete'] },
  { name: 'a final failure: finish failed', batch: batch([a.id], { failed_tasks: [a.id] }), tasks: [['failed', dead]], want: ['finish_batch:failed'] },
  { name: 'no tasks: never finished', batch: batch([]), tasks: [], want: [] },
];

function show(x: BrainAction): string {
  if (x.kind === 'finish_batch') return `${x.kind}:${x.state}`;
  if (x.kind === 'close_template') return `${x.kind}:${x.id}:${x.ok ? 'ok' : 'failed'}`;
  return 'id' in x ? `${x.kind}:${x.id}` : x.kind;
}

test('decideBatch: one rule per row', () => {
  for (const r of rows) {
    const views = new Map<string, TaskView>(r.tasks.map(([folder, task]) => [task.id, { folder, task }]));
    const got = decideBatch(r.batch, views, new Set(r.approvals ?? []), config, r.budget ?? null, (m) => sizes[m] ?? null).map(show);
    assert.deepEqual(got, r.want, r.name);
  }
});
