import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../agents/core/config.ts';
import { BatchRecord } from '../../agents/core/batch.ts';
import type { Heartbeat } from '../../agents/core/heartbeat.ts';
import { decideHeat, type HeatInput } from '../../agents/brain/heat.ts';
import { applyEstimates, learnFrom, type Estimates } from '../../agents/brain/learn.ts';
import { decideBatch } from '../../agents/brain/decide.ts';
import { judgeScore } from '../../agents/brain/evaluate.ts';
import { parseRigTaskId } from '../../agents/brain/heatManager.ts';
import { makeTask } from '../helpers/mount.ts';

function hb(name: string, over: Partial<Heartbeat> = {}): Heartbeat {
  return {
    gpu_id: Number(name.slice(-1)), name, state: 'cold', model_loaded: false, last_updated: 'x', temperature_c: 50, power_draw_w: 60,
    vram_used_mb: 0, vram_total_mb: 6144, vram_percent: 0, gpu_util_percent: 0, clock_mhz: 1900, throttle_status: 'None',
    claimed_vram_mb: 0, budget_available_mb: 4915, active_workers: 0, active_tasks: [], stats: { tasks_completed: 0, tasks_failed: 0 },
    seq: 1, pid: 1, started_at: 'x', health: 'healthy', health_reasons: [], accepts: [], llm_circuit: 'closed', llm_reason: null,
    host: null, stopping: false, hostname: null, model: null, model_mb: 0, runtime: 'ollama', num_parallel: 1, swappable: true, load_ms: {}, running_llm: 0, ...over,
  };
}

const base: HeatInput = { beats: [], queuedLlm: 0, pendingLlm: 0, pendingScript: 0, inFlight: [], lastChange: new Map(), now: 100_000, dwellMs: 60_000 };

test('heat: llm work queued and no agent hot → load on the coolest idle healthy agent, once', () => {
  const beats = [hb('gpu-0', { temperature_c: 70 }), hb('gpu-1', { temperature_c: 55 }), hb('gpu-2', { health: 'constrained', temperature_c: 20 })];
  assert.deepEqual(decideHeat({ ...base, beats, queuedLlm: 2, pendingLlm: 2 }).map((a) => `${a.kind}:${a.agent}`), ['heat:gpu-1']);
  // A load already in flight, or an agent already hot: nothing more.
  assert.deepEqual(decideHeat({ ...base, beats, queuedLlm: 2, pendingLlm: 2, inFlight: [{ agent: 'gpu-1', type: 'load_llm' }] }), []);
  assert.deepEqual(decideHeat({ ...base, beats: [hb('gpu-0', { model_loaded: true, state: 'hot' })], queuedLlm: 2, pendingLlm: 2 }), []);
  // An agent whose LLM circuit is open is not picked.
  assert.deepEqual(decideHeat({ ...base, beats: [hb('gpu-0', { llm_circuit: 'open' })], queuedLlm: 1, pendingLlm: 1 }), []);
});

test('cool: only script work remains → unload, but not within the dwell time (no flapping)', () => {
  const hot = hb('gpu-0', { model_loaded: true, state: 'hot' });
  assert.deepEqual(decideHeat({ ...base, beats: [hot], pendingScript: 3 }).map((a) => a.kind), ['cool']);
  assert.deepEqual(decideHeat({ ...base, beats: [hot], pendingScript: 3, lastChange: new Map([['gpu-0', 90_000]]) }), []);
  assert.deepEqual(decideHeat({ ...base, beats: [hot], pendingScript: 3, pendingLlm: 1 }), [], 'llm work still to come');
  assert.deepEqual(decideHeat({ ...base, beats: [hot] }), [], 'nothing left at all: the model may stay');
});

test('an overheated hot agent unloads its model to recover, whatever the dwell', () => {
  const b = hb('gpu-0', { model_loaded: true, state: 'hot', health: 'constrained', health_reasons: ['temperature 88C >= 85C'] });
  const a = decideHeat({ ...base, beats: [b], pendingLlm: 5, queuedLlm: 5, lastChange: new Map([['gpu-0', 99_000]]) });
  assert.equal(a[0]?.kind, 'cool');
  assert.match(a[0]!.reason, /overheated \(temperature 88C >= 85C\)/);
});

test('learning: a measured peak becomes the next batch\'s estimate; the largest peak of a batch wins', () => {
  const e: Estimates = {};
  const item = (batch: string, peak: number) => makeTask({ batch, plan: 'video', name: 'transcribe.1', template: 'transcribe', task_class: 'script', vram_estimate_mb: 1024, result: { task_id: `${batch}__transcribe.1`, attempt: 1, outcome: 'success', failure_kind: null, exit_code: 0, signal: null, reason: null, started_at: 'x', finished_at: 'x', duration_ms: 1, stdout_path: null, stderr_path: null, peak_vram_mb: peak } });
  assert.deepEqual(learnFrom(e, item('b1', 600), 't'), { key: 'video/transcribe', peak: 600, before: null });
  assert.equal(learnFrom(e, item('b1', 500), 't'), null);
  assert.equal(learnFrom(e, item('b1', 700), 't')?.peak, 700);
  const next = [makeTask({ batch: 'b2', plan: 'video', name: 'transcribe', task_class: 'script', vram_estimate_mb: 1024 })];
  assert.deepEqual(applyEstimates(e, next), ['transcribe 1024→700 MB']);
  assert.equal(next[0]!.vram_estimate_mb, 700);
});

test('a script task that can never fit any GPU fails at once instead of waiting forever', () => {
  const config = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 1 }] });
  const t = makeTask({ task_class: 'script', vram_estimate_mb: 9000 });
  const batch = BatchRecord.parse({ id: 'b1', plan: 'p', plan_dir: '/', batch_path: '/', state: 'running', values: {}, submitted_at: 'x', started_at: 'x', finished_at: null, task_ids: [t.id] });
  const acts = decideBatch(batch, new Map([[t.id, { folder: 'private', task: t }]]), new Set(), config, 4915);
  assert.deepEqual(acts, [{ kind: 'unschedulable', id: t.id, reason: 'needs 9000 MB of VRAM but the largest GPU budget is 4915 MB; it can never run here' }]);
  assert.equal(decideBatch(batch, new Map([[t.id, { folder: 'private', task: t }]]), new Set(), config, null)[0]?.kind, 'release', 'unknown GPUs: not judged yet');
});

test('the brain model only judges: a score below the bar requeues while attempts remain', () => {
  const t = makeTask({ type: 'generate', task_class: 'llm', max_attempts: 3 });
  assert.deepEqual(judgeScore({ score: 2, reason: 'off topic' }, t, 3), { score: 2, reason: 'off topic', requeue: true });
  assert.deepEqual(judgeScore({ score: 4, reason: 'fine' }, t, 3), { score: 4, reason: 'fine', requeue: false });
  assert.equal(judgeScore({ score: 9 }, t, 3), null);
  assert.equal(judgeScore('five', t, 3), null);
});

test('rig meta task ids carry their type and agent', () => {
  assert.deepEqual(parseRigTaskId('rig__load_llm.gpu-1.1795682908227'), { type: 'load_llm', agent: 'gpu-1' });
  assert.equal(parseRigTaskId('b1__load_llm'), null);
});
