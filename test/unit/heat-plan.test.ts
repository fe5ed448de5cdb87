import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Heartbeat } from '../../agents/core/heartbeat.ts';
import { type HeatInput, type ModelDemand, decideHeat, loadEstimateMs, oneMorePays } from '../../agents/brain/heat.ts';

function hb(name: string, over: Partial<Heartbeat> = {}): Heartbeat {
  return {
    gpu_id: Number(name.slice(-1)), name, state: 'cold', model_loaded: false, last_updated: 'x', temperature_c: 50, power_draw_w: 60,
    vram_used_mb: 0, vram_total_mb: 10_000, vram_percent: 0, gpu_util_percent: 0, clock_mhz: 1900, throttle_status: 'None',
    claimed_vram_mb: 0, budget_available_mb: 8000, active_workers: 0, active_tasks: [], stats: { tasks_completed: 0, tasks_failed: 0 },
    seq: 1, pid: 1, started_at: 'x', health: 'healthy', health_reasons: [], accepts: [], llm_circuit: 'closed', llm_reason: null,
    host: null, stopping: false, hostname: null, model: null, model_mb: 0, runtime: 'ollama', num_parallel: 1, swappable: true, load_ms: {}, running_llm: 0,
    ...over,
  };
}
const hot = (name: string, model: string, over: Partial<Heartbeat> = {}) => hb(name, { model_loaded: true, state: 'hot', model, model_mb: 4700, load_ms: { [model]: 300 }, ...over });
const demand = (model: string, queued: number, over: Partial<ModelDemand> = {}): ModelDemand => ({ model, queued, pending: queued, taskMs: null, sizeMb: null, ...over });

const base: HeatInput = {
  beats: [], demand: [], pendingScript: 0, inFlight: [], lastChange: new Map(), lastWanted: new Map(), now: 1_000_000, dwellMs: 60_000,
  idleMs: 300_000, defaultLoadMs: 30_000, budgetPercent: 80, configuredModel: () => 'm',
};
const acts = (h: Partial<HeatInput>) => decideHeat({ ...base, ...h }).actions.map((a) => `${a.kind}:${a.agent}${a.model ? `:${a.model}` : ''}`);

test('heat: llm work queued and no agent holds its model → the coolest idle healthy card, once', () => {
  const beats = [hb('gpu-0', { temperature_c: 70 }), hb('gpu-1', { temperature_c: 55 }), hb('gpu-2', { health: 'constrained', temperature_c: 20 })];
  // Two tasks, no measurement yet (a task taken to last a 30 s load): a second card does not pay.
  assert.deepEqual(acts({ beats, demand: [demand('m', 2)] }), ['heat:gpu-1:m']);
  assert.deepEqual(acts({ beats, demand: [demand('m', 2)], inFlight: [{ agent: 'gpu-1', type: 'load_llm', model: 'm' }] }), []);
  assert.deepEqual(acts({ beats: [hb('gpu-0', { llm_circuit: 'open' })], demand: [demand('m', 1)] }), []);
  const plan = decideHeat({ ...base, beats: [hb('gpu-0', { llm_circuit: 'open' })], demand: [demand('m', 1)] });
  assert.match(plan.waits[0]!.reason, /gpu-0 runtime circuit open/, 'the wait says why');
});

test('heat: 30 queued tasks on 3 cold cards → all three heated, each with its reason', () => {
  const beats = [hb('gpu-0'), hb('gpu-1'), hb('gpu-2')];
  const plan = decideHeat({ ...base, beats, demand: [demand('m', 30)] });
  assert.deepEqual(plan.actions.map((a) => `${a.kind}:${a.agent}`), ['heat:gpu-0', 'heat:gpu-1', 'heat:gpu-2']);
  assert.match(plan.actions[0]!.reason, /30 queued and no agent holds it/);
  assert.match(plan.actions[1]!.reason, /one more card saves ~\d/);
  // One already hot with measured times: the others are heated too while it pays.
  assert.deepEqual(acts({ beats: [hot('gpu-0', 'm'), hb('gpu-1'), hb('gpu-2')], demand: [demand('m', 30, { taskMs: 1000 })] }), ['heat:gpu-1:m', 'heat:gpu-2:m']);
  // Three tasks of 100 ms against a 300 ms load: one card is enough.
  assert.deepEqual(acts({ beats: [hot('gpu-0', 'm'), hb('gpu-1'), hb('gpu-2')], demand: [demand('m', 3, { taskMs: 100 })] }), []);
  // A card with request slots counts as that many: 8 slots serve 30 short tasks already.
  assert.deepEqual(acts({ beats: [hot('gpu-0', 'm', { num_parallel: 8 }), hb('gpu-1')], demand: [demand('m', 30, { taskMs: 50 })] }), []);
});

test('heat: two models share the cards round-robin; a model nobody needs is swapped out, one with work is not', () => {
  const beats = [hb('gpu-0'), hb('gpu-1'), hb('gpu-2'), hb('gpu-3')];
  assert.deepEqual(acts({ beats, demand: [demand('a', 20), demand('b', 10)] }), ['heat:gpu-0:a', 'heat:gpu-1:b', 'heat:gpu-2:a', 'heat:gpu-3:b']);
  // gpu-0 holds c, which no task needs: it is swapped to b. gpu-1 holds a, which has work: it keeps it.
  const plan = decideHeat({ ...base, beats: [hot('gpu-0', 'c'), hot('gpu-1', 'a')], demand: [demand('a', 5, { taskMs: 100 }), demand('b', 5)] });
  assert.deepEqual(plan.actions.map((a) => `${a.kind}:${a.agent}:${a.model}`), ['heat:gpu-0:b']);
  assert.match(plan.actions[0]!.reason, /swapping out c/);
  // A server that serves one model (openai) is never asked to load another.
  assert.deepEqual(acts({ beats: [hot('gpu-0', 'c', { swappable: false, runtime: 'openai' })], demand: [demand('b', 5)] }), []);
});

test('heat: a model that fits no budget is not loaded; the wait names the card and the sizes', () => {
  const plan = decideHeat({ ...base, beats: [hb('gpu-0')], demand: [demand('big', 3, { sizeMb: 9000 })] });
  assert.deepEqual(plan.actions, []);
  assert.match(plan.waits[0]!.reason, /gpu-0 9000 MB does not fit its 8000 MB budget/);
});

test('cool: only script work remains → unload; idle past heat_idle_s → unload; never within the dwell time', () => {
  const h = hot('gpu-0', 'm');
  assert.deepEqual(acts({ beats: [h], pendingScript: 3 }), ['cool:gpu-0:m']);
  assert.deepEqual(acts({ beats: [h], pendingScript: 3, lastChange: new Map([['gpu-0', 990_000]]) }), []);
  assert.deepEqual(acts({ beats: [h], pendingScript: 3, demand: [{ ...demand('m', 0), pending: 1 }] }), [], 'llm work still to come');
  assert.deepEqual(acts({ beats: [h], lastWanted: new Map([['gpu-0', 900_000]]) }), [], 'idle 100 s of 300');
  const idle = decideHeat({ ...base, beats: [h], lastWanted: new Map([['gpu-0', 600_000]]) }).actions;
  assert.deepEqual(idle.map((a) => a.kind), ['cool']);
  assert.match(idle[0]!.reason, /idle 400s: no llm task needs m/);
  assert.deepEqual(acts({ beats: [hot('gpu-0', 'm', { swappable: false })], pendingScript: 3 }), [], 'a one-model server is not unloaded');
});

test('an overheated hot agent unloads its model to recover, whatever the dwell', () => {
  const b = hot('gpu-0', 'm', { health: 'constrained', health_reasons: ['temperature 88C >= 85C'] });
  const a = decideHeat({ ...base, beats: [b], demand: [demand('m', 5)], lastChange: new Map([['gpu-0', 999_000]]) }).actions;
  assert.equal(a[0]?.kind, 'cool');
  assert.match(a[0]!.reason, /overheated \(temperature 88C >= 85C\)/);
});

test('a load is estimated from what the agents measured, and one more card pays only when it saves more than the loads ahead of it', () => {
  assert.equal(loadEstimateMs([hot('gpu-0', 'a', { load_ms: { a: 900, b: 4000 } })], 'a', 30_000), 900);
  assert.equal(loadEstimateMs([hot('gpu-0', 'a', { load_ms: { b: 4000 } })], 'a', 30_000), 4000, 'another model\'s load, when this one was never measured');
  assert.equal(loadEstimateMs([], 'a', 30_000), 30_000);
  assert.equal(oneMorePays(demand('m', 10, { taskMs: 1000 }), 1, 1, 1000, 0).pays, true);
  assert.equal(oneMorePays(demand('m', 10, { taskMs: 1000 }), 1, 1, 1000, 5).pays, false, 'five loads queued at the gate first');
  assert.equal(oneMorePays(demand('m', 2, { taskMs: 1000 }), 1, 1, 1000, 0).pays, false, 'saves 1 s against a 1 s load');
});
