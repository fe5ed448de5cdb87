// The pure decisions behind forge cancel|retry|pause and priorities: the fair order, the
// brain's batch decisions under control/ and backoff, and the agents' claims.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideBatch, type TaskView } from '../../agents/brain/decide.ts';
import { decideRetry, retryDelayMs } from '../../agents/brain/retry.ts';
import { BatchRecord } from '../../agents/core/batch.ts';
import { Config } from '../../agents/core/config.ts';
import { type Controls, NO_CONTROLS } from '../../agents/core/controls.ts';
import { fairOrder, priorityOf } from '../../agents/core/fairOrder.ts';
import type { TaskFolder } from '../../agents/core/paths.ts';
import type { Task, WorkerResult } from '../../agents/core/task.ts';
import { type ClaimView, type QueuedTask, decideClaims } from '../../agents/gpu/decideClaims.ts';
import { makeTask } from '../helpers/mount.ts';

const config = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 11435 }], retries: { backoff_base_s: 10, backoff_cap_s: 300 } });

function batch(ids: string[], over: Partial<BatchRecord> = {}): BatchRecord {
  return BatchRecord.parse({
    id: 'b1', plan: 'p', plan_dir: '/p', batch_path: '/p/batches/b1', state: 'running', values: {},
    submitted_at: 'x', started_at: 'x', finished_at: null, task_ids: ids, ...over,
  });
}

function views(entries: Array<[TaskFolder, Task]>): Map<string, TaskView> {
  return new Map(entries.map(([folder, task]) => [task.id, { folder, task }]));
}

function controls(over: Partial<Record<keyof Controls, string[]>>): Controls {
  return { cancel: new Set(over.cancel ?? []), retry: new Set(over.retry ?? []), pause: new Set(over.pause ?? []) };
}

/** The task after `n` failures of its own (app), the last one its result. */
function failedTimes(t: Task, n: number, outcome: WorkerResult['outcome'] = 'failed'): Task {
  const attempts = Array.from({ length: n }, (_, i) => ({
    attempt: i + 1, agent: 'gpu-0', claimed_at: 'x', finished_at: 'x', outcome, failure_kind: 'app' as const, reason: 'exit 1', exit_code: 1,
  }));
  const result: WorkerResult = {
    task_id: t.id, attempt: n, outcome, failure_kind: outcome === 'cancelled' ? null : 'app', exit_code: 1, signal: null, reason: 'exit 1',
    started_at: 'x', finished_at: 'x', duration_ms: 1, stdout_path: null, stderr_path: null,
  };
  return { ...t, attempt: n, attempts, result };
}

const show = (acts: ReturnType<typeof decideBatch>) => acts.map((x) => `${x.kind}${'id' in x ? `:${x.id}` : ''}${x.kind === 'finish_batch' ? `:${x.state}` : ''}`);

// ---- fair order ----

test('fair order: higher priority first, then the batches take turns, the older batch first in each round', () => {
  const big = Array.from({ length: 6 }, (_, i) => ({ id: `20260101-000000-aaaaaa__t${i}`, priority: 3 }));
  const small = [{ id: '20260101-000100-bbbbbb__s0', priority: 3 }, { id: '20260101-000100-bbbbbb__s1', priority: 3 }];
  const urgent = [{ id: '20260101-000200-cccccc__u0', priority: 1 }];
  const order = fairOrder([...big, ...small, ...urgent]).map((o) => o.id.slice(16));
  assert.deepEqual(order, ['cccccc__u0', 'aaaaaa__t0', 'bbbbbb__s0', 'aaaaaa__t1', 'bbbbbb__s1', 'aaaaaa__t2', 'aaaaaa__t3', 'aaaaaa__t4', 'aaaaaa__t5']);
});

test('fair order: a small batch behind a huge one of the same priority is done within twice its size', () => {
  const big = Array.from({ length: 2000 }, (_, i) => ({ id: `20260101-000000-aaaaaa__t${String(i).padStart(4, '0')}`, priority: 3 }));
  const small = Array.from({ length: 10 }, (_, i) => ({ id: `20260101-000100-bbbbbb__s${i}`, priority: 3 }));
  const order = fairOrder([...big, ...small]);
  const lastSmall = Math.max(...small.map((s) => order.findIndex((o) => o.id === s.id)));
  assert.equal(lastSmall, 19);
});

test('priorities out of range or missing count as the default, 3; 0 is the realtime questions\' own', () => {
  assert.deepEqual([priorityOf(undefined), priorityOf(null), priorityOf(-1), priorityOf(6), priorityOf(2.5), priorityOf(1), priorityOf(5), priorityOf(0)], [3, 3, 3, 3, 3, 1, 5, 0]);
});

// ---- backoff ----

test('backoff: a task failing 3 times has its retries spaced by at least base, then 2x base (jitter adds at most a quarter)', () => {
  const t = makeTask({ name: 'a', max_attempts: 4 });
  for (const [n, base] of [[1, 10_000], [2, 20_000], [3, 40_000]] as const) {
    const failed = failedTimes(t, n);
    const wait = retryDelayMs(failed, config);
    assert.ok(wait >= base && wait <= base * 1.25, `retry ${n}: waits ${wait} ms, expected ${base} to ${base * 1.25}`);
    const ids = [t.id];
    // Just before the wait is over: a BACKOFF (no retry); once it is over: the retry.
    const early = decideBatch(batch(ids), views([['failed', failed]]), new Set(), config, null, () => null, { failedForMs: () => wait - 1 });
    assert.deepEqual(show(early), [`backoff:${t.id}`]);
    const due = decideBatch(batch(ids), views([['failed', failed]]), new Set(), config, null, () => null, { failedForMs: () => wait });
    assert.deepEqual(show(due), [`retry:${t.id}`]);
  }
});

test('backoff: capped at backoff_cap_s; a plan task\'s retry_delay_s replaces the base; the same decision every time', () => {
  const t = makeTask({ name: 'a', max_attempts: 20 });
  const w = retryDelayMs(failedTimes(t, 12), config);
  assert.ok(w >= 300_000 && w <= 375_000, `capped: ${w}`);
  const own = retryDelayMs(failedTimes({ ...t, retry_delay_s: 2 }, 1), config);
  assert.ok(own >= 2000 && own <= 2500, `retry_delay_s 2: ${own}`);
  assert.equal(retryDelayMs(failedTimes(t, 2), config), retryDelayMs(failedTimes(t, 2), config));
  // Two tasks that failed together do not come back at the same moment.
  const other = makeTask({ name: 'b', max_attempts: 20 });
  assert.notEqual(retryDelayMs(failedTimes(t, 2), config), retryDelayMs(failedTimes(other, 2), config));
});

test('a cancelled task is never retried; a retry by hand gives fresh attempts (attempts_from)', () => {
  const t = makeTask({ name: 'a', max_attempts: 3 });
  assert.equal(decideRetry(failedTimes(t, 1, 'cancelled'), config).retry, false);
  const spent = failedTimes(t, 3);
  assert.equal(decideRetry(spent, config).retry, false);
  const fresh = { ...spent, attempts_from: 3 };
  const v = decideRetry({ ...fresh, result: { ...spent.result!, outcome: 'failed' } }, config);
  assert.equal(v.retry, true);
});

// ---- cancel and pause in the brain ----

const a = makeTask({ name: 'a' });
const b = makeTask({ name: 'b', depends_on: ['b1__a'] });
const c = makeTask({ name: 'c' });
const d = makeTask({ name: 'd' });
const summary = makeTask({ name: 'batch_summary', executor: 'brain', type: 'batch_summary', depends_on: ['b1__a', 'b1__b', 'b1__c', 'b1__d'] });
const ids = [a.id, b.id, c.id, d.id, summary.id];

test('cancel of a batch: waiting, queued and retrying tasks end cancelled; a running one is left to its agent', () => {
  const tasks = views([['processing', a], ['private', b], ['queue', c], ['failed', failedTimes(d, 1)], ['private', summary]]);
  const acts = decideBatch(batch(ids), tasks, new Set(), config, null, () => null, { controls: controls({ cancel: ['b1'] }) });
  assert.deepEqual(show(acts), ['cancel_batch', 'cancel_task:b1__b', 'cancel_task:b1__c', 'cancel_task:b1__d']);
  // Recorded once: a later pass (cancelled_at set, the file still there) does not say it again.
  const later = decideBatch(batch(ids, { cancelled_at: 'x' }), tasks, new Set(), config, null, () => null, { controls: controls({ cancel: ['b1'] }) });
  assert.deepEqual(show(later).slice(0, 1), ['cancel_task:b1__b']);
});

test('a cancelled batch runs its summary once everything has ended, then ends cancelled (even with the file gone)', () => {
  const ended = (t: Task) => failedTimes(t, 1, 'cancelled');
  const tasks = views([['failed', ended(a)], ['failed', ended(b)], ['failed', ended(c)], ['failed', ended(d)], ['private', summary]]);
  assert.deepEqual(show(decideBatch(batch(ids, { cancelled_at: 'x' }), tasks, new Set(), config)), ['summarize:b1__batch_summary']);
  tasks.set(summary.id, { folder: 'complete', task: summary });
  assert.deepEqual(show(decideBatch(batch(ids, { cancelled_at: 'x' }), tasks, new Set(), config)), ['finish_batch:cancelled']);
});

test('cancel of one task: its dependants are not run, the rest of the batch goes on', () => {
  const tasks = views([['private', a], ['private', b], ['private', c], ['complete', d], ['private', summary]]);
  const acts = decideBatch(batch(ids), tasks, new Set(), config, null, () => null, { controls: controls({ cancel: ['b1__a'] }) });
  assert.deepEqual(show(acts), ['cancel_task:b1__a', 'release:b1__c']);
  tasks.set(a.id, { folder: 'failed', task: failedTimes(a, 1, 'cancelled') });
  const next = decideBatch(batch(ids), tasks, new Set(), config, null, () => null, { controls: controls({ cancel: ['b1__a'] }) });
  assert.deepEqual(show(next), ['not_run:b1__b', 'release:b1__c']);
});

test('a paused batch releases and retries nothing; resumed, it goes on', () => {
  const tasks = views([['private', a], ['private', c], ['failed', failedTimes(d, 1)], ['private', b], ['private', summary]]);
  assert.deepEqual(show(decideBatch(batch(ids), tasks, new Set(), config, null, () => null, { controls: controls({ pause: ['b1'] }) })), []);
  assert.deepEqual(show(decideBatch(batch(ids), tasks, new Set(), config, null, () => null, { controls: NO_CONTROLS })), ['release:b1__a', 'release:b1__c', 'retry:b1__d']);
});

// ---- the agents' claims ----

function view(over: Partial<ClaimView> = {}): ClaimView {
  return {
    name: 'gpu-0', stopping: false, health: 'healthy', hot: false, llmAvailable: true, heldModel: null, othersHold: [], numParallel: 1, modelMb: 0,
    gpu: { memory_total_mb: 10_000, memory_used_mb: 0 }, gpuReadAt: 0, hostMemAvailableMb: 8000, running: [], ...over,
  };
}
const queued = (batchId: string, name: string, priority = 3): QueuedTask => {
  const task = makeTask({ batch: batchId, name, priority });
  return { id: task.id, task, seal: { ok: true } };
};
const cheap = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 11435 }], resource_limits: { cpu_task_cost_mb: 1, max_workers: 64 } });

test('claims: a paused rig or agent claims nothing, saying why; cancelled and paused batches are passed over', () => {
  const qs = [queued('x1', 'a'), queued('x2', 'b'), queued('x3', 'c')];
  for (const pause of ['rig', 'gpu-0']) {
    const plan = decideClaims(view({ controls: controls({ pause: [pause] }) }), qs, cheap);
    assert.deepEqual(plan.claims, []);
    assert.ok(plan.skipped.every((s) => s.rule === 'paused' && s.reason.includes(`forge resume ${pause}`)), JSON.stringify(plan.skipped[0]));
  }
  assert.equal(decideClaims(view({ controls: controls({ pause: ['gpu-1'] }) }), qs, cheap).claims.length, 3, 'another agent paused');
  const plan = decideClaims(view({ controls: controls({ cancel: ['x1'], pause: ['x2'] }) }), qs, cheap);
  assert.deepEqual(plan.claims.map((c) => c.id), ['x3__c']);
  assert.deepEqual(plan.skipped.map((s) => [s.id, s.rule]), [['x1__a', 'cancelled'], ['x2__b', 'paused']]);
});

test('claims follow the fair order: priority 1 first, then one task of each batch in turn', () => {
  const qs = [queued('x1', 'a'), queued('x1', 'b'), queued('x1', 'c'), queued('x2', 'a'), queued('x3', 'a', 1)];
  assert.deepEqual(decideClaims(view(), qs, cheap).claims.map((c) => c.id), ['x3__a', 'x1__a', 'x2__a', 'x1__b', 'x1__c']);
});

test('claims: a batch\'s turns come after the tasks it already has running, so the next claim after a win goes to the other batch', () => {
  const qs = [queued('x1', 'a'), queued('x1', 'b'), queued('x1', 'c'), queued('x2', 'a'), queued('x2', 'b')];
  // Nothing running: the older batch first.
  assert.equal(decideClaims(view(), qs, cheap).claims[0]?.id, 'x1__a');
  // x1 holds one worker already (the claim just won): x2's first task is next, then they alternate.
  assert.deepEqual(decideClaims(view({ inFlight: new Map([['x1', 1]]) }), qs, cheap).claims.map((c) => c.id), ['x2__a', 'x1__a', 'x2__b', 'x1__b', 'x1__c']);
  // A batch holding many workers waits behind one that holds none, whatever their ages.
  assert.deepEqual(decideClaims(view({ inFlight: new Map([['x1', 40]]) }), qs, cheap).claims.slice(0, 2).map((c) => c.id), ['x2__a', 'x2__b']);
});

test('metrics count a backoff wait once, though the brain decides it again at every pass until it ends', async () => {
  const { BrainCounters } = await import('../../agents/brain/metrics.ts');
  const c = new BrainCounters();
  const wait = { kind: 'backoff' as const, id: 'b1__a', attempt: { n: 2, of: 3 }, waitMs: 10_000, leftMs: 5000, reason: 'failed' };
  c.countActions([wait]);
  c.countActions([{ ...wait, leftMs: 2000 }]);
  c.countActions([{ kind: 'retry', id: 'b1__a', attempt: { n: 2, of: 3 }, reason: 'failed', raiseVramTo: null }]);
  c.countActions([{ ...wait, attempt: { n: 3, of: 3 } }]);
  assert.deepEqual([c.actions.get('backoff'), c.actions.get('retry')], [2, 1]);
});
