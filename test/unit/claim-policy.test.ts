import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../agents/core/config.ts';
import { acceptedClasses, budgetAvailable, canClaim, evaluateHealth, recordClaim } from '../../agents/gpu/claimPolicy.ts';
import { makeTask } from '../helpers/mount.ts';

const config = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 11435 }] });
const limits = config.resource_limits;

test('health: the seed thresholds, each reason named; no telemetry is unhealthy', () => {
  assert.deepEqual(evaluateHealth({ temperature_c: 78, power_draw_w: 125, memory_used_mb: 4200, memory_total_mb: 6144 }, null, limits), { health: 'healthy', reasons: [] });
  const hot = evaluateHealth({ temperature_c: 86, power_draw_w: 141, memory_used_mb: 5900, memory_total_mb: 6144 }, null, limits);
  assert.equal(hot.health, 'constrained');
  assert.deepEqual(hot.reasons, ['temperature 86C >= 85C', 'VRAM 96% >= 95%', 'power 141W >= 140W']);
  assert.deepEqual(evaluateHealth(null, 'driver failed', limits), { health: 'unhealthy', reasons: ['driver failed'] });
});

test('the hot/cold x health matrix of the seed', () => {
  assert.deepEqual(acceptedClasses('healthy', true, true), ['meta', 'llm', 'cpu']);
  assert.deepEqual(acceptedClasses('healthy', false, true), ['meta', 'script', 'cpu', 'llm']);
  assert.deepEqual(acceptedClasses('constrained', true, true), ['meta', 'cpu']);
  assert.deepEqual(acceptedClasses('constrained', false, true), ['meta', 'cpu']);
  assert.deepEqual(acceptedClasses('unhealthy', false, true), ['meta', 'cpu']);
  assert.deepEqual(acceptedClasses('healthy', false, false), ['meta', 'script', 'cpu']);
});

test('budget: 80 % of the card, less reservations and memory that is not ours', () => {
  assert.equal(budgetAvailable({ totalMb: 6144, usedMb: 0, oursUsedMb: 0, modelMb: 0, claimedMb: 0 }, 80), 4915);
  assert.equal(budgetAvailable({ totalMb: 6144, usedMb: 1500, oursUsedMb: 500, modelMb: 0, claimedMb: 2048 }, 80), 4915 - 2048 - 1000);
});

test('canClaim: class, budget, num_parallel llm requests, low host memory, max_workers', () => {
  const ctx = { accepts: acceptedClasses('healthy', false, true), availableMb: 2000, budgetTotalMb: 4915, hot: false, runningLlm: 0, llmSlots: 1, runningWorkers: 0, hostMemAvailableMb: 8000, stopping: false };
  assert.deepEqual(canClaim(makeTask({ task_class: 'script', vram_estimate_mb: 1024 }), ctx, config), { ok: true, cost: 1024 });
  assert.deepEqual(canClaim(makeTask({ task_class: 'script', vram_estimate_mb: 3072 }), ctx, config), { ok: false, reason: 'needs 3072 MB, 2000 MB free in the budget' });
  assert.equal(canClaim(makeTask({ task_class: 'script' }), { ...ctx, accepts: acceptedClasses('constrained', false, true) }, config).ok, false);
  assert.deepEqual(canClaim(makeTask({ task_class: 'llm' }), { ...ctx, hot: true, accepts: acceptedClasses('healthy', true, true), runningLlm: 1 }, config), { ok: false, reason: '1 llm task(s) running (num_parallel 1)' });
  // num_parallel 3: a third request fits beside two, a fourth does not.
  assert.equal(canClaim(makeTask({ task_class: 'llm' }), { ...ctx, hot: true, accepts: acceptedClasses('healthy', true, true), runningLlm: 2, llmSlots: 3 }, config).ok, true);
  assert.deepEqual(canClaim(makeTask({ task_class: 'llm' }), { ...ctx, hot: true, accepts: acceptedClasses('healthy', true, true), runningLlm: 3, llmSlots: 3 }, config), { ok: false, reason: '3 llm task(s) running (num_parallel 3)' });
  assert.equal(canClaim(makeTask({ task_class: 'cpu' }), { ...ctx, hostMemAvailableMb: 100 }, config).ok, false);
  assert.deepEqual(canClaim(makeTask({ task_class: 'meta' }), { ...ctx, availableMb: 0 }, config), { ok: true, cost: 0 });
  // A script estimated at 0 MB costs nothing against the budget: max_workers still bounds it.
  const free = makeTask({ task_class: 'script', vram_estimate_mb: 0 });
  assert.deepEqual(canClaim(free, { ...ctx, runningWorkers: 15 }, config), { ok: true, cost: 0 });
  assert.deepEqual(canClaim(free, { ...ctx, runningWorkers: 16 }, config), { ok: false, reason: '16 workers running (resource_limits.max_workers 16)' });
  assert.equal(canClaim(makeTask({ task_class: 'meta' }), { ...ctx, runningWorkers: 16 }, config).ok, true, 'meta tasks run inside the agent');
});

test('recordClaim: the next attempt token for the claim the agent saw; null when another claim was recorded meanwhile', () => {
  const seen = makeTask({ attempt: 2, claimed_by: null, claimed_at: null, attempts: [
    { attempt: 1, agent: 'gpu-0', claimed_at: 'a', finished_at: 'b', outcome: 'failed', failure_kind: 'app', reason: 'exit 1', exit_code: 1 },
    { attempt: 2, agent: 'gpu-1', claimed_at: 'c', finished_at: 'd', outcome: 'lost', failure_kind: 'infra', reason: 'agent lost', exit_code: null },
  ] });
  const mine = recordClaim(seen, seen, 'gpu-0', '2026-01-01T00:00:00.000Z');
  assert.ok(mine);
  assert.deepEqual([mine.attempt, mine.claimed_by, mine.claimed_at, mine.result, mine.finished_at], [3, 'gpu-0', '2026-01-01T00:00:00.000Z', null, null]);
  // gpu-1 recorded its claim of the same file first: gpu-0 must not overwrite it.
  const theirs = recordClaim(seen, seen, 'gpu-1', '2026-01-01T00:00:01.000Z')!;
  assert.equal(recordClaim(theirs, seen, 'gpu-0', '2026-01-01T00:00:02.000Z'), null);
});
