import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Heartbeat } from '../../agents/core/heartbeat.ts';
import { healthChange } from '../../agents/gpu/gpuWatch.ts';
import { RefusalNotes } from '../../agents/gpu/refusalNotes.ts';
import { modelsHeldByOthers, pickHeld } from '../../agents/gpu/runtimeWatch.ts';
import { sameModel } from '../../agents/llm/ollamaRuntime.ts';

const NOW = Date.parse('2026-01-01T00:10:00.000Z');

function beat(over: Partial<Heartbeat> = {}): Heartbeat {
  return Heartbeat.parse({
    gpu_id: 1, name: 'gpu-1', state: 'hot', model_loaded: true, last_updated: '2026-01-01T00:09:50.000Z', temperature_c: null, power_draw_w: null,
    vram_used_mb: null, vram_total_mb: null, vram_percent: null, gpu_util_percent: null, clock_mhz: null, throttle_status: 'None', claimed_vram_mb: 0,
    budget_available_mb: 0, active_workers: 0, active_tasks: [], stats: { tasks_completed: 0, tasks_failed: 0 }, seq: 1, pid: 9, started_at: 'x',
    health: 'healthy', health_reasons: [], accepts: [], ...over,
  });
}

test('models others hold: those of fresh, healthy, running agents that are hot or loading; an older heartbeat counts with its configured model', () => {
  const cases: Array<[string, Partial<Heartbeat>, string[]]> = [
    ['hot', { model: 'a:7b' }, ['a:7b']],
    ['loading', { model_loaded: false, state: 'loading', model: 'b:7b' }, ['b:7b']],
    ['no model name (an older agent)', {}, ['configured']],
    ['cold', { model_loaded: false, state: 'cold', model: null }, []],
    ['constrained', { health: 'constrained', model: 'a:7b' }, []],
    ['stopping', { stopping: true, model: 'a:7b' }, []],
    ['stale', { last_updated: '2026-01-01T00:08:00.000Z', model: 'a:7b' }, []],
  ];
  for (const [name, over, want] of cases) assert.deepEqual(modelsHeldByOthers([beat(over)], NOW, 60_000, () => 'configured'), want, name);
  assert.deepEqual(modelsHeldByOthers([], NOW, 60_000, () => 'x'), []);
});

test('the held model: the one loaded last, else the configured one, else the first resident', () => {
  const l = (name: string) => ({ name, size_vram_mb: 1, expires_at: null });
  assert.equal(pickHeld([l('a:latest'), l('b:7b')], ['b:7b', 'a'], sameModel)?.name, 'b:7b');
  assert.equal(pickHeld([l('a:latest'), l('b:7b')], ['c', 'a'], sameModel)?.name, 'a:latest');
  assert.equal(pickHeld([l('x:1')], ['a'], sameModel)?.name, 'x:1');
  assert.equal(pickHeld([], ['a'], sameModel), null);
});

test('health changes are logged on a new state or new kinds of reasons, not on new figures', () => {
  const cases: Array<[string, Parameters<typeof healthChange>, ReturnType<typeof healthChange>]> = [
    ['same', [{ health: 'healthy', reasons: [] }, { health: 'healthy', reasons: [] }], null],
    ['to constrained', [{ health: 'healthy', reasons: [] }, { health: 'constrained', reasons: ['temperature 86C >= 85C'] }], { what: 'CONSTRAINED', reason: 'temperature 86C >= 85C' }],
    ['hotter still', [{ health: 'constrained', reasons: ['temperature 86C >= 85C'] }, { health: 'constrained', reasons: ['temperature 88C >= 85C'] }], null],
    ['another reason', [{ health: 'constrained', reasons: ['temperature 86C >= 85C'] }, { health: 'constrained', reasons: ['temperature 86C >= 85C', 'power 141W >= 140W'] }], { what: 'CONSTRAINED', reason: 'temperature 86C >= 85C; power 141W >= 140W' }],
    ['back', [{ health: 'constrained', reasons: ['power 141W >= 140W'] }, { health: 'healthy', reasons: [] }], { what: 'HEALTHY', reason: 'all figures under their limits' }],
    ['driver', [{ health: 'healthy', reasons: [] }, { health: 'unhealthy', reasons: ['nvidia-smi failed'] }], { what: 'UNHEALTHY', reason: 'nvidia-smi failed' }],
  ];
  for (const [name, args, want] of cases) assert.deepEqual(healthChange(...args), want, name);
});

test('a seal refusal is logged once, and only when it lasts two seconds', () => {
  const notes = new RefusalNotes();
  const steps: Array<[string, number, boolean]> = [['a', 0, false], ['a', 1999, false], ['a', 2000, true], ['a', 5000, false], ['b', 5000, false], ['b', 7000, true]];
  for (const [id, at, want] of steps) assert.equal(notes.note(id, at), want, `${id} at ${at}`);
});
