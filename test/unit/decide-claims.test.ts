import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../agents/core/config.ts';
import type { Task } from '../../agents/core/task.ts';
import {
  type ClaimView, type QueuedTask, type RunningView, availableMb, budgetTotal, claimedMb, decideClaims, needsFreshReading,
} from '../../agents/gpu/decideClaims.ts';
import { makeTask } from '../helpers/mount.ts';

const config = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 11435 }] });
const withLimits = (limits: Partial<Config['resource_limits']>, over: Partial<Config> = {}): Config =>
  ({ ...config, ...over, resource_limits: { ...config.resource_limits, ...limits } });

/** A healthy cold agent on an empty 10 000 MB card (budget 8 000 MB at 80 %). */
function view(over: Partial<ClaimView> = {}): ClaimView {
  return {
    name: 'gpu-0', stopping: false, health: 'healthy', hot: false, llmAvailable: true, heldModel: null, othersHold: [], numParallel: 1, modelMb: 0,
    gpu: { memory_total_mb: 10_000, memory_used_mb: 0 }, gpuReadAt: 0, hostMemAvailableMb: 8000, running: [], ...over,
  };
}

function q(name: string, over: Partial<Task> = {}, seal: QueuedTask['seal'] = { ok: true }): QueuedTask {
  const task = makeTask({ name, task_class: 'script', vram_estimate_mb: 0, ...over });
  return { id: task.id, task, seal };
}

const run = (task_class: Task['task_class'], cost: number, over: Partial<RunningView> = {}): RunningView =>
  ({ task: { task_class }, kind: task_class === 'meta' ? 'meta' : 'worker', cost, peakMb: null, nowMb: 0, ...over });

interface Case {
  name: string;
  view?: Partial<ClaimView>;
  config?: Config;
  queued: QueuedTask[];
  claims: string[];
  skipped?: Array<[string, string, string]>;
}

function check(cases: Case[]): void {
  for (const c of cases) {
    const plan = decideClaims(view(c.view), c.queued, c.config ?? config);
    assert.deepEqual(plan.claims.map((x) => x.task.name), c.claims, `${c.name}: claims`);
    if (c.skipped) {
      const byName = new Map(c.queued.map((x) => [x.id, x.task.name]));
      assert.deepEqual(plan.skipped.map((s) => [byName.get(s.id), s.rule, s.reason]), c.skipped, `${c.name}: skipped`);
    }
  }
}

test('claim order: by file name, whatever order the listing came in', () => {
  check([
    { name: 'unsorted', queued: [q('c'), q('a'), q('b')], claims: ['a', 'b', 'c'] },
    { name: 'the cap keeps the first names', config: withLimits({ max_workers: 2 }), queued: [q('z'), q('y'), q('x')], claims: ['x', 'y'] },
  ]);
});

test('target: a task targeted at another agent is left to it', () => {
  check([
    {
      name: 'mixed targets',
      queued: [q('a', { target: 'gpu-1' }), q('b', { target: 'gpu-0' }), q('c')],
      claims: ['b', 'c'],
      skipped: [['a', 'target', 'targeted at gpu-1']],
    },
  ]);
});

test('seal: a task that is not what the brain released is refused, with the seal\'s reason', () => {
  check([
    {
      name: 'one forged',
      queued: [q('a', {}, { ok: false, reason: 'not released by the brain: batch b1 has no seal' }), q('b')],
      claims: ['b'],
      skipped: [['a', 'seal', 'not released by the brain: batch b1 has no seal']],
    },
  ]);
});

test('llm affinity: a hot agent takes only its model\'s work; a cold one leaves it to one that holds the model', () => {
  const llm = (name = 'l', model: string | null = null) => q(name, { task_class: 'llm', vram_estimate_mb: 0, model });
  const coldOk = { ...config, cold_agents_take_llm: true };
  const hot = (m: string) => ({ hot: true, heldModel: m, modelMb: 5000 });
  check([
    { name: 'cold, another holds it', config: coldOk, view: { othersHold: ['m'] }, queued: [llm()], claims: [], skipped: [['l', 'affinity', 'another agent holds m']] },
    { name: 'cold, another holds another model', config: coldOk, view: { othersHold: ['x'] }, queued: [llm()], claims: ['l'] },
    { name: 'cold, cold agents may not', view: {}, queued: [llm()], claims: [], skipped: [['l', 'affinity', 'needs m; cold, and cold_agents_take_llm is off']] },
    { name: 'cold, nobody hot, cold agents may', config: coldOk, queued: [llm()], claims: ['l'] },
    { name: 'hot with the default model (m is m:latest)', view: { ...hot('m:latest'), othersHold: ['m'] }, queued: [llm()], claims: ['l'] },
    {
      name: 'hot: another model\'s task is left, its own taken', view: hot('a:7b'), queued: [llm('x', 'b:7b'), llm('y', 'a:7b')], claims: ['y'],
      skipped: [['x', 'affinity', 'needs b:7b; this agent holds a:7b']],
    },
    { name: 'num_parallel 1: one at a time', view: hot('m'), queued: [llm(), llm('m2')], claims: ['l'], skipped: [['m2', 'limits', '1 llm task(s) running (num_parallel 1)']] },
    {
      name: 'num_parallel 2: two at a time', view: { ...hot('m'), numParallel: 2 }, queued: [llm(), llm('m2'), llm('m3')], claims: ['l', 'm2'],
      skipped: [['m3', 'limits', '2 llm task(s) running (num_parallel 2)']],
    },
  ]);
});

test('VRAM budget: each planned claim counts against the next; memory that is not ours shrinks it', () => {
  const s = (name: string, mb: number) => q(name, { vram_estimate_mb: mb });
  check([
    { name: 'three of 3000 in 8000', queued: [s('a', 3000), s('b', 3000), s('c', 3000)], claims: ['a', 'b'], skipped: [['c', 'limits', 'needs 3000 MB, 2000 MB free in the budget']] },
    { name: 'a smaller one still fits after a big one is left', queued: [s('a', 6000), s('b', 3000), s('c', 2000)], claims: ['a', 'c'] },
    { name: 'foreign memory', view: { gpu: { memory_total_mb: 10_000, memory_used_mb: 5000 } }, queued: [s('a', 3000), s('b', 3000)], claims: ['a'] },
    { name: 'a running worker at its measured peak', view: { running: [run('script', 1000, { peakMb: 6000, nowMb: 6000 })], gpu: { memory_total_mb: 10_000, memory_used_mb: 6000 } }, queued: [s('a', 2000), s('b', 1000)], claims: ['a'] },
    { name: 'no telemetry: only cpu work, in four virtual slots', view: { gpu: null }, queued: [q('a', { task_class: 'cpu' }), q('b', { task_class: 'cpu' }), q('c', { task_class: 'cpu' }), q('d', { task_class: 'cpu' }), q('e', { task_class: 'cpu' })], claims: ['a', 'b', 'c', 'd'] },
  ]);
  assert.equal(budgetTotal(view(), config), 8000);
  assert.equal(budgetTotal(view({ gpu: null }), config), 4 * 1024);
  assert.equal(claimedMb([run('script', 1000, { peakMb: 1500 }), run('cpu', 1024)]), 2524);
  assert.equal(availableMb(view({ hot: true, modelMb: 4000, gpu: { memory_total_mb: 10_000, memory_used_mb: 4000 } }), config), 8000, 'the resident model is ours, not foreign');
});

test('max_workers: scripts that cost nothing are still capped; meta tasks run inside the agent and are not', () => {
  const cap2 = withLimits({ max_workers: 2 });
  check([
    {
      name: 'five free scripts, cap 2', config: cap2, queued: ['a', 'b', 'c', 'd', 'e'].map((n) => q(n)), claims: ['a', 'b'],
      skipped: ['c', 'd', 'e'].map((n) => [n, 'limits', '2 workers running (resource_limits.max_workers 2)'] as [string, string, string]),
    },
    { name: 'one already running', config: cap2, view: { running: [run('script', 0)] }, queued: [q('a'), q('b')], claims: ['a'] },
    { name: 'meta beside a full cap', config: cap2, view: { running: [run('script', 0), run('script', 0)] }, queued: [q('a'), q('m', { task_class: 'meta', executor: 'agent' })], claims: ['m'] },
  ]);
});

test('health: a constrained or unhealthy card takes only meta and cpu; a stopping agent takes nothing', () => {
  const mixed = () => [q('c', { task_class: 'cpu' }), q('m', { task_class: 'meta', executor: 'agent' }), q('s', { vram_estimate_mb: 100 })];
  check([
    { name: 'healthy', queued: mixed(), claims: ['c', 'm', 's'] },
    { name: 'constrained', view: { health: 'constrained' }, queued: mixed(), claims: ['c', 'm'], skipped: [['s', 'limits', 'does not take script tasks now']] },
    { name: 'unhealthy', view: { health: 'unhealthy', gpu: null }, queued: mixed(), claims: ['c', 'm'] },
    { name: 'stopping', view: { stopping: true }, queued: mixed(), claims: [], skipped: [['c', 'takes_nothing', 'agent is stopping'], ['m', 'takes_nothing', 'agent is stopping'], ['s', 'takes_nothing', 'agent is stopping']] },
    { name: 'host out of memory: no cpu work', view: { hostMemAvailableMb: 100 }, queued: mixed(), claims: ['m', 's'], skipped: [['c', 'limits', 'host memory low (100 MB available)']] },
  ]);
});

test('a fresh GPU reading before deciding on work after an idle spell', () => {
  const cases: Array<[number, number, boolean]> = [
    // [queued, ms since the reading, fresh reading first?] with internal_s 5
    [3, 10_001, true],
    [3, 10_000, false],
    [0, 60_000, false],
  ];
  for (const [queued, age, want] of cases) assert.equal(needsFreshReading({ gpuReadAt: 1_000_000 }, queued, config, 1_000_000 + age), want, `${queued} queued, ${age} ms`);
});
