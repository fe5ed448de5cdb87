import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../agents/core/config.ts';
import { BatchRecord } from '../../agents/core/batch.ts';
import type { TaskFolder } from '../../agents/core/paths.ts';
import type { Task, WorkerResult } from '../../agents/core/task.ts';
import { decideBatch, type TaskView } from '../../agents/brain/decide.ts';
import { decideRetry } from '../../agents/brain/retry.ts';
import { makeTask } from '../helpers/mount.ts';

const config = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 11435 }] });

function batch(ids: string[], over: Partial<BatchRecord> = {}): BatchRecord {
  return BatchRecord.parse({
    id: 'b1', plan: 'p', plan_dir: '/p', batch_path: '/p/batches/b1', state: 'running', values: {},
    submitted_at: 'x', started_at: 'x', finished_at: null, task_ids: ids, ...over,
  });
}

function failedWith(t: Task, kinds: Array<'app' | 'infra'>, outcome: WorkerResult['outcome'] = 'failed'): Task {
  const attempts = kinds.map((k, i) => ({
    attempt: i + 1, agent: 'gpu-0', claimed_at: 'x', finished_at: 'x', outcome: k === 'app' ? outcome : 'lost',
    failure_kind: k, reason: 'r', exit_code: 1,
  }));
  const last = kinds[kinds.length - 1] ?? 'app';
  const result: WorkerResult = {
    task_id: t.id, attempt: kinds.length, outcome: last === 'app' ? outcome : 'lost', failure_kind: last, exit_code: 1,
    signal: null, reason: 'exit 1', started_at: 'x', finished_at: 'x', duration_ms: 1, stdout_path: null, stderr_path: null,
  };
  return { ...t, attempt: kinds.length, attempts: attempts as Task['attempts'], result };
}

function views(entries: Array<[TaskFolder, Task]>): Map<string, TaskView> {
  return new Map(entries.map(([folder, task]) => [task.id, { folder, task }]));
}

const a = makeTask({ name: 'a' });
const b = makeTask({ name: 'b', depends_on: ['b1__a'] });
const c = makeTask({ name: 'c' });
const summary = makeTask({ name: 'batch_summary', executor: 'brain', type: 'batch_summary', depends_on: ['b1__a', 'b1__b', 'b1__c'] });
const ids = [a.id, b.id, c.id, summary.id];

test('releases tasks whose dependencies are complete and holds the others', () => {
  const acts = decideBatch(batch(ids), views([['private', a], ['private', b], ['private', c], ['private', summary]]), new Set(), config);
  assert.deepEqual(acts.map((x) => `${x.kind}:${'id' in x ? x.id : ''}`), ['release:b1__a', 'release:b1__c']);
  const acts2 = decideBatch(batch(ids), views([['complete', a], ['private', b], ['queue', c], ['private', summary]]), new Set(), config);
  assert.deepEqual(acts2.map((x) => `${x.kind}:${'id' in x ? x.id : ''}`), ['release:b1__b']);
});

test('a failed task is retried while attempts remain, with "attempt N of M"', () => {
  const acts = decideBatch(batch(ids), views([['failed', failedWith(a, ['app'])], ['private', b], ['complete', c], ['private', summary]]), new Set(), config);
  const retry = acts.find((x) => x.kind === 'retry');
  assert.ok(retry && retry.kind === 'retry');
  assert.deepEqual(retry.attempt, { n: 2, of: 3 });
});

test('after max_attempts app failures: give up, dependants not run, siblings go on, summary and finish', () => {
  const dead = failedWith(a, ['app', 'app', 'app']);
  const acts = decideBatch(batch(ids), views([['failed', dead], ['private', b], ['queue', c], ['private', summary]]), new Set(), config);
  assert.deepEqual(acts.map((x) => x.kind), ['give_up', 'not_run']);
  const notRun = acts[1]!;
  assert.equal(notRun.kind === 'not_run' && notRun.reason, 'dependency a failed');

  const bNotRun = { ...b, result: { ...dead.result!, task_id: b.id, outcome: 'not_run' as const, failure_kind: null, reason: 'dependency a failed' } };
  const later = decideBatch(
    batch(ids, { failed_tasks: [a.id] }),
    views([['failed', dead], ['failed', bNotRun], ['complete', c], ['private', summary]]), new Set(), config,
  );
  assert.deepEqual(later.map((x) => x.kind), ['summarize']);
  const done = decideBatch(
    batch(ids, { failed_tasks: [a.id] }),
    views([['failed', dead], ['failed', bNotRun], ['complete', c], ['complete', summary]]), new Set(), config,
  );
  assert.deepEqual(done.map((x) => x.kind), ['finish_batch']);
  assert.equal(done[0]!.kind === 'finish_batch' && done[0]!.state, 'failed');
});

test('infra failures do not spend the task\'s own attempts, up to their own cap', () => {
  const v = decideRetry(failedWith(a, ['app', 'app', 'infra']), config);
  assert.equal(v.retry, true);
  assert.deepEqual(v.attempt, { n: 3, of: 3 });
  const capped = decideRetry(failedWith(a, Array(6).fill('infra')), config);
  assert.equal(capped.retry, false);
  assert.match(capped.reason, /gave up after 6 infra failures/);
});

test('blocked by policy is never retried; out-of-memory retries with a raised estimate', () => {
  assert.equal(decideRetry(failedWith(a, ['app'], 'blocked'), config).retry, false);
  const oom = failedWith({ ...a, task_class: 'script', vram_estimate_mb: 1000 }, ['infra']);
  oom.result = { ...oom.result!, outcome: 'oom' };
  const v = decideRetry(oom, config);
  assert.equal(v.retry, true);
  assert.equal(v.raiseVramTo, 1500);
});

test('needs_approval parks the task; an approval file releases it', () => {
  const t = failedWith(a, []);
  t.result = { ...(failedWith(a, ['app']).result!), outcome: 'needs_approval', failure_kind: null, reason: 'pip needs approval' };
  const acts = decideBatch(batch([a.id]), views([['failed', t]]), new Set(), config);
  assert.deepEqual(acts.map((x) => x.kind), ['park']);
  const parked = { ...a, parked: 'approval' as const };
  assert.deepEqual(decideBatch(batch([a.id]), views([['private', parked]]), new Set(), config), []);
  assert.deepEqual(decideBatch(batch([a.id]), views([['private', parked]]), new Set([a.id]), config).map((x) => x.kind), ['unpark']);
});

test('foreach: expand when the producer completed; close the template when every child completed', () => {
  const scan = makeTask({ name: 'scan' });
  const tpl = makeTask({ name: 'work', depends_on: [scan.id], foreach: { path: '/m.json', key: 'videos' } });
  const agg = makeTask({ name: 'agg', depends_on: [tpl.id] });
  const bIds = [scan.id, tpl.id, agg.id];
  assert.deepEqual(decideBatch(batch(bIds), views([['queue', scan], ['private', tpl], ['private', agg]]), new Set(), config), []);
  assert.deepEqual(
    decideBatch(batch(bIds), views([['complete', scan], ['private', tpl], ['private', agg]]), new Set(), config).map((x) => x.kind),
    ['expand'],
  );
  const c1 = makeTask({ name: 'work.1' });
  const c2 = makeTask({ name: 'work.2' });
  const expanded = { ...tpl, expanded_into: [c1.id, c2.id] };
  const all = [...bIds, c1.id, c2.id];
  assert.deepEqual(
    decideBatch(batch(all), views([['complete', scan], ['private', expanded], ['private', agg], ['complete', c1], ['processing', c2]]), new Set(), config),
    [],
  );
  const closing = decideBatch(batch(all), views([['complete', scan], ['private', expanded], ['private', agg], ['complete', c1], ['complete', c2]]), new Set(), config);
  assert.deepEqual(closing.map((x) => x.kind), ['close_template']);
});

test('at most release.max_queued tasks of a batch wait in queue/: the rest are held, in id order, until those are claimed', () => {
  const small = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 11435 }], release: { max_queued: 2 } });
  const tasks = ['t1', 't2', 't3', 't4', 't5'].map((name) => makeTask({ name }));
  const tids = tasks.map((t) => t.id);
  const first = decideBatch(batch(tids), views(tasks.map((t) => ['private', t] as [TaskFolder, Task])), new Set(), small);
  assert.deepEqual(first.map((x) => `${x.kind}:${'id' in x ? x.id : 'count' in x ? x.count : ''}`), ['release:b1__t1', 'release:b1__t2', 'hold:3']);
  // t1 still queued, t2 claimed: room for one more.
  const second = decideBatch(batch(tids), views([['queue', tasks[0]!], ['processing', tasks[1]!], ...tasks.slice(2).map((t) => ['private', t] as [TaskFolder, Task])]), new Set(), small);
  assert.deepEqual(second.map((x) => `${x.kind}:${'id' in x ? x.id : 'count' in x ? x.count : ''}`), ['release:b1__t3', 'hold:2']);
  // Nothing held: no hold action.
  const last = decideBatch(batch(tids), views([['complete', tasks[0]!], ['complete', tasks[1]!], ['complete', tasks[2]!], ['processing', tasks[3]!], ['private', tasks[4]!]]), new Set(), small);
  assert.deepEqual(last.map((x) => x.kind), ['release']);
});
