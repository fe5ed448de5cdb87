import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config, defaultGpus } from '../../agents/core/config.ts';
import { Heartbeat, type HeartbeatInput } from '../../agents/core/heartbeat.ts';
import type { TaskFolder } from '../../agents/core/paths.ts';
import type { Task, TaskInput } from '../../agents/core/task.ts';
import { NO_BRAIN } from '../../agents/status/liveness.ts';
import { explainFailure, explainWait, formatMb, type LocatedTask, type WaitContext } from '../../agents/status/waitReason.ts';
import { makeTask } from '../helpers/mount.ts';

const config = Config.parse({ gpus: defaultGpus(2) });

function hb(over: Partial<HeartbeatInput> = {}): Heartbeat {
  return Heartbeat.parse({
    gpu_id: 0, name: 'gpu-0', state: 'cold', model_loaded: false, last_updated: '2026-01-01T00:00:00.000Z',
    temperature_c: 60, power_draw_w: 80, vram_used_mb: 500, vram_total_mb: 6144, vram_percent: 8, gpu_util_percent: 0,
    clock_mhz: 1500, throttle_status: 'None', claimed_vram_mb: 0, budget_available_mb: 4915, active_workers: 0,
    active_tasks: [], stats: { tasks_completed: 0, tasks_failed: 0 }, seq: 1, pid: 100, started_at: '2026-01-01T00:00:00.000Z',
    health: 'healthy', health_reasons: [], accepts: ['meta', 'script', 'cpu', 'llm'], ...over,
  });
}

const hot = (over: Partial<HeartbeatInput> = {}) =>
  hb({ state: 'hot', model_loaded: true, accepts: ['meta', 'llm', 'cpu'], budget_available_mb: 0, ...over });
const constrained = (name: string, reasons: string[], over: Partial<HeartbeatInput> = {}) =>
  hb({ name, health: 'constrained', health_reasons: reasons, accepts: ['meta', 'cpu'], ...over });
const activeTask = (task_class: string) => ({
  worker_id: 'w', task_id: `b1__${task_class}`, task_class, task_name: task_class, vram_estimate_mb: 1024, peak_vram_mb: null, pid: 1,
  started_at: '2026-01-01T00:00:00.000Z',
});

function ctx(heartbeats: Heartbeat[], others: Array<[Task, TaskFolder]> = [], approvals: string[] = []): WaitContext {
  const tasksById = new Map<string, LocatedTask>(others.map(([task, folder]) => [task.id, { task, folder }]));
  return { shared: '/mnt/shared', tasksById, heartbeats, config, approvals: new Set(approvals) };
}

const t = (over: Partial<TaskInput> & { name?: string } = {}) => makeTask({ name: 'work', ...over });
const dep = (name: string) => makeTask({ name });

test('private tasks: why the brain still holds each one', () => {
  const cases: Array<[string, Task, WaitContext, string]> = [
    [
      'parked for approval, with the reason',
      t({ parked: 'approval', parked_reason: 'pip is on the approval list' }),
      ctx([]),
      'waiting for approval: touch /mnt/shared/approvals/b1__work (pip is on the approval list)',
    ],
    ['parked and approved', t({ parked: 'approval' }), ctx([], [], ['b1__work']), 'approved; the brain releases it on its next pass'],
    ['one dependency running', t({ depends_on: ['b1__scan'] }), ctx([], [[dep('scan'), 'processing']]), 'dependency scan not done (running)'],
    ['a dependency nobody has seen', t({ depends_on: ['b1__ghost'] }), ctx([]), 'dependency ghost not done (missing)'],
    ['behind a gate still running', t({ depends_on: ['b1__check'] }), ctx([], [[makeTask({ name: 'check', gate: true }), 'processing']]), 'waiting for the verdict of gate check (running)'],
    [
      'behind a gate that said no',
      t({ depends_on: ['b1__check'] }),
      ctx([], [[{ ...makeTask({ name: 'check', gate: true }), result: { task_id: 'b1__check', attempt: 1, outcome: 'success', failure_kind: null, exit_code: 0, signal: null, reason: null, started_at: 'x', finished_at: 'x', duration_ms: 1, stdout_path: null, stderr_path: null, gate: { proceed: false, reason: 'empty' } } }, 'complete']]),
      'skipped: gate check said no: empty; the brain moves it to complete/ (not a failure)',
    ],
    [
      'four dependencies: three named, the rest counted; complete ones left out',
      t({ depends_on: ['b1__a', 'b1__b', 'b1__c', 'b1__d', 'b1__e'] }),
      ctx([], [[dep('a'), 'queue'], [dep('b'), 'private'], [dep('c'), 'failed'], [dep('d'), 'queue'], [dep('e'), 'complete']]),
      'dependencies not done: a (queued), b (waiting), c (failed) and 1 more',
    ],
    [
      'foreach template whose producer has not finished',
      t({ depends_on: ['b1__scan'], foreach: { path: '/b/manifest.json', key: 'videos' } }),
      ctx([], [[dep('scan'), 'queue']]),
      'waiting for scan (queued) to write the manifest',
    ],
    [
      'foreach template whose producer finished',
      t({ depends_on: ['b1__scan'], foreach: { path: '/b/manifest.json', key: 'videos' } }),
      ctx([], [[dep('scan'), 'complete']]),
      'ready; the brain expands it from the manifest on its next pass',
    ],
    [
      'expanded template waits for its items',
      t({ foreach: { path: '/b/m.json', key: '' }, expanded_into: ['b1__x.1', 'b1__x.2', 'b1__x.3'] }),
      ctx([], [[dep('x.1'), 'complete'], [dep('x.2'), 'processing']]),
      'waiting for its 3 items to finish (1 done)',
    ],
    ['dependencies done', t({ depends_on: ['b1__scan'] }), ctx([], [[dep('scan'), 'complete']]), 'ready; the brain releases it on its next pass'],
    ['no dependencies', t(), ctx([]), 'ready; the brain releases it on its next pass'],
    [
      'marked not run, not yet moved',
      t({ result: { task_id: 'b1__work', attempt: 1, outcome: 'not_run', failure_kind: null, exit_code: null, signal: null, reason: 'dependency scan failed', started_at: 'x', finished_at: 'x', duration_ms: 0, stdout_path: null, stderr_path: null } }),
      ctx([]),
      'not run: dependency scan failed; the brain moves it to failed/',
    ],
  ];
  for (const [what, task, c, expected] of cases) assert.equal(explainWait(task, 'private', c), expected, what);
});

test('queued tasks: why no agent has claimed each one', () => {
  const script3g = t({ task_class: 'script', vram_estimate_mb: 3072 });
  const script1g = t({ task_class: 'script', vram_estimate_mb: 1024 });
  const llm = t({ task_class: 'llm', vram_estimate_mb: 0 });
  const cpu = t({ task_class: 'cpu' });
  const cases: Array<[string, Task, Heartbeat[], string]> = [
    ['no agent alive', cpu, [], 'no GPU agent is running'],
    ['the only agent is stopping', cpu, [hb({ state: 'stopping', stopping: true, accepts: [] })], 'no GPU agent is running (stopping: gpu-0)'],
    [
      'script, every agent constrained',
      script1g,
      [constrained('gpu-0', ['temperature 88C >= 85C']), constrained('gpu-1', ['VRAM 96% >= 95%', 'power 141W >= 140W'])],
      'all agents constrained: gpu-0 temperature 88C >= 85C, gpu-1 VRAM 96% >= 95% and power 141W >= 140W',
    ],
    [
      'llm, the only agent unhealthy',
      llm,
      [hb({ health: 'unhealthy', health_reasons: ['nvidia-smi failed'], accepts: ['meta', 'cpu'] })],
      'all agents constrained: gpu-0 unhealthy (nvidia-smi failed)',
    ],
    [
      'script too big for every budget (constrained agents do not count)',
      script3g,
      [hb({ budget_available_mb: 1024 }), hb({ name: 'gpu-1', budget_available_mb: 2048 }), constrained('gpu-2', ['temperature 90C >= 85C'], { budget_available_mb: 4096 })],
      'no GPU with 3 GB free (largest free: gpu-1 2 GB)',
    ],
    ['script, estimate shown in MB below 1 GB', t({ task_class: 'script', vram_estimate_mb: 900 }), [hb({ budget_available_mb: 512 })], 'no GPU with 900 MB free (largest free: gpu-0 512 MB)'],
    ['script, only hot agents have room', script1g, [hot({ budget_available_mb: 2048 })], 'waiting for a GPU to unload its model (gpu-0 hot; task needs 1 GB)'],
    ['script fits', script1g, [hb()], 'queued; next claim cycle'],
    [
      'llm, circuit open everywhere',
      llm,
      [hot({ llm_circuit: 'open', llm_reason: 'connection refused', accepts: ['meta', 'cpu'] }), hb({ name: 'gpu-1', llm_circuit: 'open', accepts: ['meta', 'script', 'cpu'] })],
      'LLM runtime down on every agent (connection refused)',
    ],
    [
      'llm, no hot agent and the cold one is busy with scripts',
      llm,
      [hb({ budget_available_mb: 2000, active_tasks: [activeTask('script')] })],
      'waiting for a GPU to load its model',
    ],
    ['llm, the hot agent runs another llm task', llm, [hot({ active_tasks: [activeTask('llm')] })], 'waiting for an LLM slot (gpu-0 busy)'],
    ['llm, a hot agent is free', llm, [hot()], 'queued; next claim cycle'],
    ['llm, an idle cold agent takes it', llm, [hb()], 'queued; next claim cycle'],
    [
      'cpu, every agent out of budget',
      cpu,
      [hb({ budget_available_mb: 100, active_tasks: [activeTask('cpu'), activeTask('cpu')] }), constrained('gpu-1', ['temperature 90C >= 85C'], { budget_available_mb: 0, active_tasks: [activeTask('cpu')] })],
      'all agents busy (gpu-0: 2 tasks, gpu-1: 1 task)',
    ],
    ['cpu on a constrained agent with room', cpu, [constrained('gpu-0', ['temperature 90C >= 85C'])], 'queued; next claim cycle'],
    [
      'a 0 MB script, every agent at max_workers',
      t({ task_class: 'script', vram_estimate_mb: 0 }),
      [hb({ active_workers: 16 }), hb({ gpu_id: 1, name: 'gpu-1', active_workers: 16 })],
      'every agent runs 16 workers (resource_limits.max_workers)',
    ],
    ['a 0 MB script, one agent below max_workers', t({ task_class: 'script', vram_estimate_mb: 0 }), [hb({ active_workers: 16 }), hb({ gpu_id: 1, name: 'gpu-1', active_workers: 3 })], 'queued; next claim cycle'],
    ['meta while every agent is at max_workers', t({ task_class: 'meta', target: 'gpu-0' }), [hb({ active_workers: 16 })], 'queued; next claim cycle'],
    ['meta addressed to an agent that is not running', t({ task_class: 'meta', target: 'gpu-3' }), [hb()], 'addressed to gpu-3, which is not running'],
    ['meta for a running agent', t({ task_class: 'meta', target: 'gpu-0' }), [hb()], 'queued; next claim cycle'],
  ];
  for (const [what, task, beats, expected] of cases) assert.equal(explainWait(task, 'queue', ctx(beats)), expected, what);
});

test('formatMb shows MB below a gigabyte and GB with at most one decimal', () => {
  const cases: Array<[number, string]> = [[0, '0 MB'], [512, '512 MB'], [1023, '1023 MB'], [1024, '1 GB'], [3072, '3 GB'], [2867, '2.8 GB'], [4915, '4.8 GB']];
  for (const [mb, text] of cases) assert.equal(formatMb(mb), text, String(mb));
});

test('failed tasks: the brain retry verdict decides whether they are failed for good', () => {
  const attempt = (n: number, outcome: 'failed' | 'lost' | 'blocked', kind: 'app' | 'infra') => ({
    attempt: n, agent: 'gpu-0', claimed_at: 'x', finished_at: 'x', outcome, failure_kind: kind, reason: 'exit 1', exit_code: 1,
  });
  const result = (outcome: 'failed' | 'lost' | 'blocked' | 'needs_approval', kind: 'app' | 'infra' | null, reason: string) => ({
    task_id: 'b1__work', attempt: 1, outcome, failure_kind: kind, exit_code: 1, signal: null, reason, started_at: 'x', finished_at: 'x',
    duration_ms: 1, stdout_path: null, stderr_path: null,
  });
  const once = t({ attempt: 1, attempts: [attempt(1, 'failed', 'app')], result: result('failed', 'app', 'exit 1') });
  assert.deepEqual(explainFailure(once, null, config), { for_good: false, reason: 'failed: exit 1; the brain retries it (attempt 2 of 3)' });

  const thrice = t({ attempt: 3, attempts: [1, 2, 3].map((n) => attempt(n, 'failed', 'app')), result: result('failed', 'app', 'exit 1') });
  assert.deepEqual(explainFailure(thrice, null, config), { for_good: true, reason: 'failed 3 of 3 attempts: exit 1' });

  const blocked = t({ attempts: [attempt(1, 'blocked', 'app')], result: result('blocked', 'app', 'sudo is blocked') });
  assert.equal(explainFailure(blocked, null, null).for_good, true);

  const approval = t({ result: result('needs_approval', null, 'pip needs approval') });
  assert.deepEqual(explainFailure(approval, null, config), { for_good: false, reason: 'needs approval (pip needs approval); the brain parks it on its next pass' });
});

test('with no brain running, no reason promises what the brain will do', () => {
  const down = (c: WaitContext): WaitContext => ({ ...c, brainDown: true });
  const notRun = { task_id: 'b1__work', attempt: 1, outcome: 'not_run' as const, failure_kind: null, exit_code: null, signal: null, reason: 'dependency scan failed', started_at: 'x', finished_at: 'x', duration_ms: 0, stdout_path: null, stderr_path: null };
  const cases: Array<[string, Task, WaitContext, string]> = [
    ['approved', t({ parked: 'approval' }), down(ctx([], [], ['b1__work'])), `approved; ${NO_BRAIN}`],
    ['ready', t(), down(ctx([])), 'ready; no brain is running: start the rig'],
    ['foreach ready to expand', t({ depends_on: ['b1__scan'], foreach: { path: '/b/m.json', key: 'v' } }), down(ctx([], [[dep('scan'), 'complete']])), `ready; ${NO_BRAIN}`],
    ['not run, not yet moved', t({ result: notRun }), down(ctx([])), `not run: dependency scan failed; ${NO_BRAIN}`],
    // Reasons about dependencies and approvals do not depend on the brain.
    ['a dependency running', t({ depends_on: ['b1__scan'] }), down(ctx([], [[dep('scan'), 'processing']])), 'dependency scan not done (running)'],
    ['waiting for approval', t({ parked: 'approval' }), down(ctx([])), 'waiting for approval: touch /mnt/shared/approvals/b1__work'],
  ];
  for (const [what, task, c, expected] of cases) assert.equal(explainWait(task, 'private', c), expected, what);
  // A queued task waits on agents, not on the brain.
  assert.equal(explainWait(t(), 'queue', down(ctx([hb()]))), 'queued; next claim cycle');

  const attempt = { attempt: 1, agent: 'gpu-0', claimed_at: 'x', finished_at: 'x', outcome: 'failed' as const, failure_kind: 'app' as const, reason: 'exit 1', exit_code: 1 };
  const once = t({ attempt: 1, attempts: [attempt], result: { ...notRun, outcome: 'failed', failure_kind: 'app', exit_code: 1, reason: 'exit 1' } });
  assert.deepEqual(explainFailure(once, null, config, true), { for_good: false, reason: `failed: exit 1; ${NO_BRAIN} (its retry is attempt 2 of 3)` });
  const approval = t({ result: { ...notRun, outcome: 'needs_approval', reason: 'pip needs approval' } });
  assert.deepEqual(explainFailure(approval, null, config, true), { for_good: false, reason: `needs approval (pip needs approval); ${NO_BRAIN}` });
});

test('controls: a cancelled task, a paused batch and a paused rig say so before anything else', () => {
  const paused = (names: string[], cancelled: string[] = []): WaitContext => ({ ...ctx([hb({})]), paused: new Set(names), cancelled: new Set(cancelled) });
  assert.equal(explainWait(t(), 'queue', paused([], ['b1'])), 'cancelled; the brain ends it on its next pass');
  assert.equal(explainWait(t(), 'private', paused([], ['b1__work'])), 'cancelled; the brain ends it on its next pass');
  assert.equal(explainWait(t(), 'queue', paused(['b1'])), 'batch b1 is paused: nothing of it is claimed until forge resume b1');
  assert.equal(explainWait(t(), 'private', paused(['b1'])), 'batch b1 is paused: nothing of it is released until forge resume b1');
  assert.equal(explainWait(t(), 'queue', paused(['rig'])), 'the rig is paused: no agent claims anything new until forge resume rig');
  assert.notEqual(explainWait(t(), 'queue', paused(['b2'])), 'batch b2 is paused: nothing of it is claimed until forge resume b2');
});

test('a ready task held back because its batch already has release.max_queued tasks in queue/ says so', () => {
  const small = Config.parse({ gpus: defaultGpus(2), release: { max_queued: 2 } });
  const queued = [dep('q1'), dep('q2')].map((x) => [x, 'queue'] as [Task, TaskFolder]);
  const c = { ...ctx([hb()], queued), config: small };
  assert.equal(explainWait(t(), 'private', c), 'ready; held back: 2 tasks of its batch wait in queue/ (release.max_queued 2); the brain releases it as those are claimed');
  const one = { ...ctx([hb()], queued.slice(0, 1)), config: small };
  assert.equal(explainWait(t(), 'private', one), 'ready; the brain releases it on its next pass');
});
