import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../agents/core/config.ts';
import { Heartbeat } from '../../agents/core/heartbeat.ts';
import { type BeatState, type RunningBeat, beatStateWord, buildHeartbeat } from '../../agents/gpu/heartbeatView.ts';
import type { GpuReading } from '../../agents/gpu/telemetry.ts';

const config = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 11435 }] });
const NOW = Date.parse('2026-01-01T00:10:00.000Z');

const gpu: GpuReading = {
  index: 0, uuid: 'GPU-x', name: 'H100', temperature_c: 61, power_draw_w: 250.4, power_limit_w: 700, memory_used_mb: 3000, memory_total_mb: 10_000,
  memory_free_mb: 7000, utilization_percent: 40, clock_sm_mhz: 1500, clock_max_sm_mhz: 1980, throttle_mask: 4, throttle_reasons: ['sw_power_cap'], pstate: 'P0',
};

const worker: RunningBeat = {
  task: { id: 'b1__task_number_one', name: 'task_number_one', task_class: 'script', vram_estimate_mb: 1000, attempt: 2 },
  kind: 'worker', cost: 1000, peakMb: 1200, nowMb: 1200, pid: 4100, taskPgid: 4101, startedAt: Date.parse('2026-01-01T00:09:00.000Z'),
};

function state(over: Partial<BeatState> = {}): BeatState {
  return {
    name: 'gpu-0', stopping: false, health: 'healthy', hot: false, llmAvailable: true, modelMb: 0, gpuId: 0, pid: 4000, hostname: 'h1',
    startedAt: Date.parse('2026-01-01T00:00:00.000Z'), seq: 7, loading: false, loadingModel: null, loadMs: {}, runtime: 'ollama', heldModel: null, numParallel: 1, gpu, running: [worker], healthReasons: [],
    circuit: { state: 'closed', reason: null }, host: { cpu_load_percent: 12, mem_available_mb: 9000 }, stats: { tasks_completed: 3, tasks_failed: 1 },
    ...over,
  };
}

test('the state word: stopping, then loading, then hot or cold', () => {
  const cases: Array<[Partial<BeatState>, string]> = [
    [{}, 'cold'],
    [{ hot: true }, 'hot'],
    [{ hot: true, loading: true }, 'loading'],
    [{ hot: true, loading: true, stopping: true }, 'stopping'],
  ];
  for (const [over, want] of cases) assert.equal(beatStateWord(state(over)), want, JSON.stringify(over));
  assert.equal(buildHeartbeat(state(), config, NOW, 'stopping').state, 'stopping', 'the last beat of a shutdown');
});

test('the heartbeat: the reading, the budget, the workers and what the agent takes, in the schema', () => {
  const hb = Heartbeat.parse(buildHeartbeat(state(), config, NOW));
  assert.deepEqual(
    [hb.last_updated, hb.seq, hb.pid, hb.started_at, hb.hostname, hb.gpu_id, hb.name, hb.model_loaded],
    ['2026-01-01T00:10:00.000Z', 7, 4000, '2026-01-01T00:00:00.000Z', 'h1', 0, 'gpu-0', false],
  );
  assert.deepEqual(
    [hb.temperature_c, hb.power_draw_w, hb.vram_used_mb, hb.vram_total_mb, hb.vram_percent, hb.gpu_util_percent, hb.clock_mhz, hb.throttle_status],
    [61, 250.4, 3000, 10_000, 30, 40, 1500, 'sw_power_cap'],
  );
  // 8000 MB budget, 1200 MB reserved (the peak), 1800 MB used by others.
  assert.deepEqual([hb.claimed_vram_mb, hb.budget_available_mb], [1200, 8000 - 1200 - 1800]);
  assert.deepEqual(hb.active_tasks, [{
    worker_id: 'gpu-0-w0-mber_one', task_id: 'b1__task_number_one', task_class: 'script', task_name: 'task_number_one', vram_estimate_mb: 1000,
    peak_vram_mb: 1200, pid: 4100, task_pgid: 4101, started_at: '2026-01-01T00:09:00.000Z', attempt: 2,
  }]);
  assert.equal(hb.active_workers, 1);
  assert.deepEqual(hb.accepts, ['meta', 'script', 'cpu', 'llm']);
  assert.deepEqual([hb.health, hb.llm_circuit, hb.llm_reason, hb.stopping], ['healthy', 'closed', null, false]);
  assert.deepEqual(hb.stats, { tasks_completed: 3, tasks_failed: 1 });
});

test('the heartbeat without telemetry, with an open circuit, stopping', () => {
  const hb = buildHeartbeat(state({ gpu: null, running: [], health: 'unhealthy', healthReasons: ['nvidia-smi failed'], llmAvailable: false, circuit: { state: 'open', reason: 'down' }, stopping: true }), config, NOW);
  assert.deepEqual([hb.vram_used_mb, hb.vram_total_mb, hb.vram_percent, hb.throttle_status], [null, null, null, 'None']);
  assert.deepEqual([hb.claimed_vram_mb, hb.budget_available_mb], [0, 4 * 1024], 'no telemetry: the four virtual cpu slots');
  assert.deepEqual(hb.accepts, [], 'a stopping agent takes nothing');
  assert.deepEqual([hb.state, hb.health, hb.health_reasons, hb.llm_circuit, hb.llm_reason], ['stopping', 'unhealthy', ['nvidia-smi failed'], 'open', 'down']);
  assert.deepEqual(buildHeartbeat(state({ health: 'constrained' }), config, NOW).accepts, ['meta', 'cpu']);
  assert.deepEqual(buildHeartbeat(state({ hot: true, llmAvailable: false }), config, NOW).accepts, ['meta', 'cpu'], 'no llm while the circuit is open');
});

test('the heartbeat writer folds requests that come while one waits into one write, keeps the last one\'s state, and spaces writes', async () => {
  const { HeartbeatWriter } = await import('../../agents/gpu/heartbeatWriter.ts');
  const { readHeartbeat } = await import('../../agents/core/heartbeat.ts');
  const { tempMount } = await import('../helpers/mount.ts');
  const { paths, cleanup } = await tempMount();
  try {
    const w = new HeartbeatWriter(paths, async () => {}, { minGapMs: 100 });
    let builds = 0;
    const beat = (s?: 'stopping') => (seq: number) => (builds++, buildHeartbeat(state({ seq }), config, NOW, s));
    const t0 = performance.now();
    await w.write(beat());
    // Three requests right after the first write: one write, 100 ms after the first, with the last request's state.
    await Promise.all([w.write(beat()), w.write(beat()), w.write(beat('stopping'))]);
    const took = performance.now() - t0;
    assert.equal(builds, 2, 'the three requests shared one write');
    assert.ok(took >= 95, `the second write waited for the gap (${took.toFixed(0)} ms)`);
    const hb = await readHeartbeat(paths, 0);
    assert.equal(hb?.state, 'stopping', 'a stopping beat that joined a waiting write is still written as stopping');
    assert.equal(hb?.seq, 1);
  } finally {
    await cleanup();
  }
});

test('an urgent heartbeat is written at once: it cuts short the gap of a write that waits, and carries its state', async () => {
  const { HeartbeatWriter } = await import('../../agents/gpu/heartbeatWriter.ts');
  const { readHeartbeat } = await import('../../agents/core/heartbeat.ts');
  const { tempMount } = await import('../helpers/mount.ts');
  const { paths, cleanup } = await tempMount();
  try {
    // A gap no test waits for: only the urgent request can end the wait.
    const w = new HeartbeatWriter(paths, async () => {}, { minGapMs: 600_000 });
    const beat = (s?: 'stopping') => (seq: number) => buildHeartbeat(state({ seq }), config, NOW, s);
    await w.write(beat());
    const waiting = w.write(beat());
    const urgent = w.write(beat('stopping'), true);
    assert.equal(urgent, waiting, 'the urgent request joins the write that waits');
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise((r) => (timer = setTimeout(() => r('stuck'), 20_000)));
    assert.notEqual(await Promise.race([urgent.then(() => 'written'), stuck]), 'stuck');
    clearTimeout(timer);
    const hb = await readHeartbeat(paths, 0);
    assert.deepEqual([hb?.seq, hb?.state], [1, 'stopping']);
    // A plain request after it waits its gap again; an urgent one does not.
    const after = w.write(beat());
    await w.write(beat(), true);
    await after;
    assert.equal((await readHeartbeat(paths, 0))?.seq, 2);
  } finally {
    await cleanup();
  }
});
