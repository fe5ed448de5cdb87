// What `forge submit --dry-run` reports (agents/plan/dryRunReport.ts, dryRunText.ts), from
// tasks, config, heartbeats and profiles given directly: the order, the foreach counts, the
// prediction and what it assumed, model loads, and the executor policy's verdicts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../agents/core/config.ts';
import { Heartbeat } from '../../agents/core/heartbeat.ts';
import type { Task, TaskInput } from '../../agents/core/task.ts';
import { type Profiles, emptyProfiles } from '../../agents/brain/profiles.ts';
import { buildDryRunReport, orderTasks } from '../../agents/plan/dryRunReport.ts';
import { formatDryRun } from '../../agents/plan/dryRunText.ts';
import { makeTask } from '../helpers/mount.ts';

const config = Config.parse({ gpus: [0, 1].map((id) => ({ id, name: `gpu-${id}`, model: 'qwen2.5:7b', port: 11435 + id })), models: { 'qwen2.5:7b': { vram_mb: 4700 } } });
const beat = (id: number, over: Partial<Heartbeat> = {}): Heartbeat => Heartbeat.parse({
  gpu_id: id, name: `gpu-${id}`, state: 'cold', model_loaded: false, last_updated: 'x', temperature_c: null, power_draw_w: null,
  vram_used_mb: 0, vram_total_mb: 6144, vram_percent: 0, gpu_util_percent: 0, clock_mhz: null, throttle_status: 'None', claimed_vram_mb: 0,
  budget_available_mb: 4915, active_workers: 0, active_tasks: [], stats: { tasks_completed: 0, tasks_failed: 0 }, seq: 1, pid: 9, started_at: 'x',
  health: 'healthy', health_reasons: [], accepts: [], ...over,
});
const B = 'b9';
const task = (name: string, over: Partial<TaskInput> = {}): Task => makeTask({ batch: B, plan: 'video', name, batch_path: '/m/plans/video/batches/b9', ...over, depends_on: (over.depends_on ?? []).map((d) => `${B}__${d}`) });
const plan = (): Task[] => [
  // Written out of order: the report puts each task after its dependencies.
  task('aggregate', { depends_on: ['transcribe'] }),
  task('scan', { argv: ['node', 'scripts/scan.mjs'] }),
  task('transcribe', { task_class: 'script', vram_estimate_mb: 1024, depends_on: ['scan'], foreach: { path: '/m/plans/video/batches/b9/manifest.json', key: 'videos' } }),
  task('setup', { argv: ['pip', 'install', 'whisper'], command: 'pip install whisper' }),
  task('wipe', { argv: ['sudo', 'rm', 'x'], command: 'sudo rm x' }),
  task('ask', { type: 'generate', task_class: 'llm', argv: null, command: null, prompt: 'hi', depends_on: ['scan'] }),
  task('batch_summary', { type: 'batch_summary', executor: 'brain', argv: null, command: null, depends_on: ['aggregate', 'scan', 'transcribe', 'setup', 'wipe', 'ask'] }),
];
const learned = (): Profiles => {
  const p = emptyProfiles();
  const e = (over: Partial<Profiles['templates'][string]>) => ({ batch: 'b1', at: 'x', task_class: 'cpu' as const, executor: 'worker' as const, runs: 1, durations_ms: [], median_ms: 0, max_ms: 0, start_lag_ms: 0, peak_vram_mb: null, items: null, close_ms: null, ...over });
  p.templates['video/scan'] = e({ median_ms: 500, start_lag_ms: 20 });
  p.templates['video/transcribe'] = e({ task_class: 'script', runs: 4, median_ms: 2000, start_lag_ms: 300, peak_vram_mb: 600, items: 4, close_ms: 50 });
  p.templates['video/aggregate'] = e({ median_ms: 400, start_lag_ms: 100 });
  p.templates['video/batch_summary'] = e({ executor: 'brain', start_lag_ms: 30 });
  p.templates['video/ask'] = e({ task_class: 'llm', median_ms: 1000 });
  p.templates['video/setup'] = e({ median_ms: 100 });
  p.templates['video/wipe'] = e({ median_ms: 100 });
  p.models['qwen2.5:7b'] = { load_ms: 3000, at: 'x' };
  return p;
};

test('dry run report: tasks in dependency order, each with its dependencies by name', () => {
  const r = buildDryRunReport({ tasks: plan(), config, heartbeats: [beat(0), beat(1)], profiles: learned() });
  assert.deepEqual(r.tasks.map((t) => [t.name, t.depends_on]), [
    ['scan', []], ['transcribe', ['scan']], ['aggregate', ['transcribe']], ['setup', []], ['wipe', []], ['ask', ['scan']],
    ['batch_summary', ['aggregate', 'scan', 'transcribe', 'setup', 'wipe', 'ask']],
  ]);
  assert.throws(() => orderTasks([task('a', { depends_on: ['b'] }), task('b', { depends_on: ['a'] })]), /bug: the tasks b9__a, b9__b depend on one another/);
});

test('dry run report: learned figures give the wall time and peaks; the foreach is counted from the learned items', () => {
  const tasks = plan().filter((t) => ['scan', 'transcribe', 'aggregate'].includes(t.name));
  tasks.push(task('batch_summary', { type: 'batch_summary', executor: 'brain', argv: null, command: null, depends_on: ['scan', 'transcribe', 'aggregate'] }));
  const r = buildDryRunReport({ tasks, config, heartbeats: [beat(0), beat(1)], profiles: learned() });
  // scan 20+500, items 300+2000 (4 items over two cards, side by side), close 50, aggregate 100+400, summary 30.
  assert.equal(r.prediction.wall_ms, 520 + 2300 + 50 + 500 + 30);
  assert.deepEqual(r.prediction.gpus, [{ name: 'gpu-0', peak_vram_mb: 1200, budget_mb: 4915, tasks: 4 }, { name: 'gpu-1', peak_vram_mb: 1200, budget_mb: 4915, tasks: 2 }]);
  assert.deepEqual(r.tasks[1]!.foreach, { manifest: '{BATCH_PATH}/manifest.json:videos', items: 4, counted_as: 4, note: '4 items, as in batch b1' });
  assert.deepEqual(r.prediction.no_history, []);
  assert.deepEqual(r.model_loads, []);
});

test('dry run report: with nothing learned, unknown figures are named and what they were counted as is said', () => {
  const r = buildDryRunReport({ tasks: plan(), config, heartbeats: [beat(0)], profiles: emptyProfiles() });
  assert.deepEqual(r.tasks[1]!.foreach, { manifest: '{BATCH_PATH}/manifest.json:videos', items: null, counted_as: 1, note: 'unknown until scan runs; counted as 1 item' });
  assert.deepEqual(r.prediction.no_history, ['scan', 'transcribe', 'aggregate', 'setup', 'wipe', 'ask']);
  assert.ok(r.prediction.notes.includes('gpu-1: no heartbeat on the mount, so its VRAM is not known; counted with no VRAM limit (start the rig for a better prediction)'));
  assert.ok(r.prediction.notes.includes('transcribe: no measured VRAM; counted at its estimate, 1024 MB'));
  assert.ok(r.prediction.notes.some((n) => n.startsWith('no history for scan, transcribe, aggregate, setup, wipe, ask: counted as 0 s each')));
  // The llm task's model is not held anywhere: one card loads it, for the default time.
  assert.deepEqual(r.model_loads, [{ gpu: 'gpu-1', model: 'qwen2.5:7b', load_ms: 60_000, load_from: 'never measured, so the default' }]);
  const text = formatDryRun(r);
  assert.match(text, /^dry run of plan video: nothing was submitted and nothing was written$/m);
  assert.match(text, /^ {2}2\. transcribe \(script, no history\), after scan$/m);
  assert.match(text, /^ {5}foreach \{BATCH_PATH\}\/manifest\.json:videos: unknown until scan runs; counted as 1 item$/m);
  assert.match(text, /^ {2}gpu-1 would load qwen2\.5:7b \(~60 s, never measured, so the default\)$/m);
});

test('dry run report: a model already hot on an agent is not loaded again; its measured load time is used where one is', () => {
  const hot = beat(1, { state: 'hot', model_loaded: true, model: 'qwen2.5:7b', model_mb: 4900 });
  const r = buildDryRunReport({ tasks: plan(), config, heartbeats: [beat(0), hot], profiles: learned() });
  assert.deepEqual(r.model_loads, []);
  assert.equal(r.prediction.gpus[1]!.peak_vram_mb, 4900);
  const cold = buildDryRunReport({ tasks: plan(), config, heartbeats: [beat(0, { load_ms: { 'qwen2.5:7b': 2500 } }), beat(1)], profiles: learned() });
  assert.deepEqual(cold.model_loads.map((l) => [l.model, l.load_ms, l.load_from]), [['qwen2.5:7b', 2500, 'measured by gpu-0']]);
});

test('dry run report: the executor policy\'s verdicts: what waits for approval and what would be refused', () => {
  const r = buildDryRunReport({ tasks: plan(), config, heartbeats: [beat(0), beat(1)], profiles: learned() });
  assert.deepEqual(r.needs_approval.map((a) => a.task), ['setup']);
  assert.match(r.needs_approval[0]!.reason, /pip/);
  assert.deepEqual(r.blocked.map((b) => b.task), ['wipe']);
  assert.match(r.blocked[0]!.reason, /sudo/);
  assert.equal(r.tasks.find((t) => t.name === 'scan')!.policy?.verdict, 'ALLOWED');
  const text = formatDryRun(r);
  assert.match(text, /^would wait for approval \(a file in <shared>\/approvals\/<task id>\):\n {2}setup: .*pip/m);
  assert.match(text, /^would be refused by the executor policy:\n {2}wipe: .*sudo/m);
});
