import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchRecord, type BatchRecordInput } from '../../agents/core/batch.ts';
import { Config, defaultGpus } from '../../agents/core/config.ts';
import { Heartbeat, type HeartbeatInput } from '../../agents/core/heartbeat.ts';
import type { Task } from '../../agents/core/task.ts';
import type { RigSnapshot } from '../../agents/status/snapshot.ts';
import { bar, fit, formatDuration } from '../../agents/status/format.ts';
import { toStatusJson } from '../../agents/status/json.ts';
import { renderStatus } from '../../agents/status/text.ts';
import { renderWatch } from '../../agents/status/watch.ts';
import { makeTask } from '../helpers/mount.ts';

const NOW = Date.parse('2026-01-01T12:00:00.000Z');
const iso = (secondsAgo: number) => new Date(NOW - secondsAgo * 1000).toISOString();

function hb(over: Partial<HeartbeatInput> = {}): Heartbeat {
  return Heartbeat.parse({
    gpu_id: 0, name: 'gpu-0', state: 'cold', model_loaded: false, last_updated: iso(2),
    temperature_c: 61, power_draw_w: 70, vram_used_mb: 4200, vram_total_mb: 6144, vram_percent: 68, gpu_util_percent: 85,
    clock_mhz: 1950, throttle_status: 'None', claimed_vram_mb: 1024, budget_available_mb: 2867, active_workers: 1,
    active_tasks: [], stats: { tasks_completed: 5, tasks_failed: 0 }, seq: 41, pid: 100, started_at: iso(600),
    health: 'healthy', health_reasons: [], accepts: ['meta', 'script', 'cpu', 'llm'], ...over,
  });
}

function batch(over: Partial<BatchRecordInput> = {}): BatchRecord {
  return BatchRecord.parse({
    id: 'b1', plan: 'videos', plan_dir: '/p', batch_path: '/p/batches/b1', state: 'running', values: {},
    submitted_at: iso(900), started_at: iso(890), finished_at: null, task_ids: [], ...over,
  });
}

const brainRunning = { locked: true, owner: { pid: 7, host: 'rig-a', since: iso(3600), seq: 700, token: 'tok' }, pid_alive: true };

function snapshot(): RigSnapshot {
  const config = Config.parse({ gpus: defaultGpus(2) });
  const scan = makeTask({ name: 'scan', task_class: 'script', vram_estimate_mb: 1024, claimed_by: 'gpu-0', claimed_at: iso(80) });
  const big = makeTask({ name: 'big', task_class: 'script', vram_estimate_mb: 3072, created_at: iso(100) });
  const after = makeTask({ name: 'after', depends_on: [scan.id], created_at: iso(100) });
  const done = makeTask({ name: 'done' });
  const tasks: Record<'private' | 'queue' | 'processing' | 'complete' | 'failed', Task[]> = {
    private: [after], queue: [big], processing: [scan], complete: [done], failed: [],
  };
  const gpu0 = hb({
    active_tasks: [{ worker_id: 'w0', task_id: scan.id, task_class: 'script', task_name: 'scan', vram_estimate_mb: 1024, peak_vram_mb: 800, pid: 5, started_at: iso(80) }],
  });
  const gpu1 = hb({
    gpu_id: 1, name: 'gpu-1', state: 'hot', model_loaded: true, temperature_c: 88, power_draw_w: 141, vram_used_mb: 5900,
    health: 'constrained', health_reasons: ['temperature 88C >= 85C', 'power 141W >= 140W'], accepts: ['meta', 'cpu'], budget_available_mb: 0,
  });
  return {
    shared: '/mnt/shared', now: NOW, config, config_problem: null, brain: null, brain_lease: brainRunning,
    batches: [
      batch({ task_ids: [scan.id, big.id, after.id, done.id] }),
      batch({ id: 'b0', state: 'complete', final_counts: { total: 3, waiting: 0, queued: 0, processing: 0, complete: 3, failed: 0, skipped: 0 } }),
    ],
    tasks,
    gpus: [
      { id: 0, name: 'gpu-0', heartbeat: gpu0, age_s: 2, pid_alive: null, alive: true },
      { id: 1, name: 'gpu-1', heartbeat: gpu1, age_s: 2, pid_alive: null, alive: true },
    ],
    decisions: ['2026-01-01T11:59:58.123Z brain  RELEASE task=b1__scan — no dependencies'],
    inbox_pending: 0,
    approvals: [],
    interventions: [],
    bad_files: [],
  };
}

test('the watch screen shows bars, the constrained GPU with its reasons, running work and decisions', () => {
  const screen = renderWatch(snapshot(), { width: 140, intervalMs: 1000 });
  assert.match(screen, /gpu-0 +cold +healthy +61C +mem \[███████░░░\] 4200\/6144 MB {2}pwr \[█████░░░░░\] 70\/140 W/);
  assert.match(screen, /gpu-1 +hot +CONSTRAINED/);
  assert.match(screen, /! temperature 88C >= 85C, power 141W >= 140W/);
  assert.match(screen, /▸ b1__scan \(script, est 1 GB, peak 800 MB\) for 1m20s/);
  assert.match(screen, /Queue {3}waiting 1 · queued 1 · running 1 · complete 1 · failed 0/);
  assert.match(screen, /b1 videos running +\[█████░░░░░░░░░░░░░░░\] 1\/4/);
  assert.match(screen, /1× no GPU with 3 GB free \(largest free: gpu-0 2.8 GB\)/);
  assert.match(screen, /^ 11:59:58 brain {2}RELEASE task=b1__scan/m);
  assert.match(screen.split('\n').at(-1) ?? '', /^2026-01-01 12:00:00Z · refresh 1000 ms/);
});

test('every line fits the width, however narrow, and the height keeps the footer', () => {
  for (const width of [200, 100, 60, 20, 5, 1]) {
    const lines = renderWatch(snapshot(), { width }).split('\n');
    for (const line of lines) assert.ok([...line].length <= width, `width ${width}: ${JSON.stringify(line)}`);
  }
  const short = renderWatch(snapshot(), { width: 100, height: 6 }).split('\n');
  assert.equal(short.length, 6);
  assert.match(short.at(-1) ?? '', /Ctrl-C to quit/);
  assert.match(short.at(-2) ?? '', /more lines/);
});

test('missing data never crashes: no config, no heartbeat, a stale one, null telemetry', () => {
  const snap = snapshot();
  const nulls = hb({ temperature_c: null, power_draw_w: null, vram_used_mb: null, vram_total_mb: null, last_updated: 'garbage' });
  snap.gpus = [
    { id: 0, name: 'gpu-0', heartbeat: nulls, age_s: null, pid_alive: null, alive: true },
    { id: 1, name: 'gpu-1', heartbeat: null, age_s: null, pid_alive: null, alive: false },
    { id: 2, name: 'gpu-2', heartbeat: hb({ name: 'gpu-2', seq: 7 }), age_s: 300, pid_alive: null, alive: false },
  ];
  const screen = renderWatch(snap, { width: 100 });
  assert.match(screen, /mem \[········\] \?\/\? MB/);
  assert.match(screen, /gpu-1 +down {2}no heartbeat/);
  assert.match(screen, /gpu-2 +down {2}heartbeat stale: last 5m00s ago, seq 7/);
  assert.match(renderStatus(snap), /gpu-2  down  heartbeat stale/);

  const bare: RigSnapshot = { ...snapshot(), config: null, config_problem: 'no config file', gpus: [], batches: [], decisions: [] };
  assert.match(renderWatch(bare, { width: 80 }), /\(none known: no config\)/);
  const text = renderStatus(bare);
  assert.match(text, /config: no config file/);
  assert.match(text, /b1__big +queued +script 3 GB +no GPU agent is running/);
  assert.match(text, /\(no batch record\)/);
  // Tasks without a batch record still count, under their batch id.
  assert.deepEqual(toStatusJson(bare).batches, [
    { id: 'b1', plan: 'p', state: 'running', tasks: { total: 4, waiting: 1, queued: 1, processing: 1, complete: 1, failed: 0, skipped: 0 } },
  ]);
});

test('status text lists every waiting task with its reason, capped at 50, and the batches', () => {
  const snap = snapshot();
  const extra = Array.from({ length: 60 }, (_, i) => makeTask({ name: `w${String(i).padStart(2, '0')}`, depends_on: ['b1__scan'], created_at: iso(50) }));
  snap.tasks.private.push(...extra);
  const text = renderStatus(snap);
  assert.match(text, /b1__big +queued +script 3 GB +no GPU with 3 GB free \(largest free: gpu-0 2.8 GB\)/);
  assert.match(text, /b1__after +waiting +cpu +dependency scan not done \(running\)/);
  assert.match(text, /Not running \(62\)/);
  assert.match(text, /\.\.\. and 12 more/);
  assert.match(text, /b1 {2}videos {2}running {2}\[███░░░░░░░\] 1\/4 done 25%/);
  assert.match(text, /b0 {2}videos {2}complete {2}\[██████████\] 3\/3 done 100%/);
  assert.match(text, /gpu-1 {2}hot {2}constrained: temperature 88C >= 85C, power 141W >= 140W {2}heartbeat 2s ago \(seq 41\)/);
  assert.match(text, /88C · mem 5900\/6144 MB · power 141\/140 W · util 85% · budget free 0 MB · 0 running/);
  assert.match(text, /running b1__scan \(script, est 1 GB, peak 800 MB\) for 1m20s/);
});

test('status --json carries the contract object; finished batches count from their record', () => {
  const json = toStatusJson(snapshot());
  assert.deepEqual(Object.keys(json).slice(0, 3), ['batches', 'gpus', 'queue']);
  assert.deepEqual(json.batches, [
    { id: 'b0', plan: 'videos', state: 'complete', tasks: { total: 3, waiting: 0, queued: 0, processing: 0, complete: 3, failed: 0, skipped: 0 } },
    { id: 'b1', plan: 'videos', state: 'running', tasks: { total: 4, waiting: 1, queued: 1, processing: 1, complete: 1, failed: 0, skipped: 0 } },
  ]);
  assert.deepEqual(json.queue, { queued: 1, processing: 1, complete: 1, failed: 0, waiting: 1 });
  assert.deepEqual(json.gpus.map((g) => [g.name, g.health]), [['gpu-0', 'healthy'], ['gpu-1', 'constrained']]);
  assert.deepEqual(json.waiting, [
    { task_id: 'b1__big', where: 'queue', reason: 'no GPU with 3 GB free (largest free: gpu-0 2.8 GB)' },
    { task_id: 'b1__after', where: 'private', reason: 'dependency scan not done (running)' },
  ]);
});

test('small formatters', () => {
  assert.equal(bar(0.5, 4), '[██░░]');
  assert.equal(bar(2, 3), '[███]');
  assert.equal(bar(null, 3), '[···]');
  assert.equal(fit('abcdef', 4), 'abc…');
  assert.equal(fit('abc', 4), 'abc');
  assert.deepEqual([5, 65, 3725, 90000, null].map(formatDuration), ['5s', '1m05s', '1h02m', '1d01h', '?']);
});

test('the brain down and an agent whose process is gone: status says so, and no reason promises what the brain will do', () => {
  const snap = snapshot();
  snap.brain_lease = { ...brainRunning, pid_alive: false };
  snap.gpus[1] = { ...snap.gpus[1]!, pid_alive: false, alive: false };
  const failedOnce = makeTask({ name: 'flaky', attempt: 1, attempts: [{ attempt: 1, agent: 'gpu-0', claimed_at: 'x', finished_at: 'x', outcome: 'failed', failure_kind: 'app', reason: 'exit 1', exit_code: 1 }], result: { task_id: 'b1__flaky', attempt: 1, outcome: 'failed', failure_kind: 'app', exit_code: 1, signal: null, reason: 'exit 1', started_at: 'x', finished_at: 'x', duration_ms: 1, stdout_path: null, stderr_path: null } });
  snap.tasks.failed.push(failedOnce);
  snap.tasks.private.push(makeTask({ name: 'ready', created_at: iso(10) }));
  const text = renderStatus(snap);
  assert.match(text, /^brain: down: pid 7 on this host \(rig-a\) is gone, its lock left behind; start the rig$/m);
  assert.match(text, /gpu-1 {2}down {2}process gone: pid 100 on this host; last heartbeat 2s ago, seq 41/);
  assert.match(text, /b1__ready +waiting +cpu +ready; no brain is running: start the rig$/m);
  assert.match(text, /b1__flaky +failed +cpu +failed: exit 1; no brain is running: start the rig \(its retry is attempt 2 of 3\)$/m);
  assert.doesNotMatch(text, /the brain (releases|retries|reclaims|moves|parks|expands)/);
  assert.match(renderWatch(snap, { width: 200 }), /^brain: down: pid 7/m);
  const json = toStatusJson(snap);
  assert.equal(json.brain_lease.state, 'down');
  assert.equal(json.brain_lease.pid, 7);
  assert.deepEqual(json.agents.map((a) => [a.name, a.alive, a.pid_alive, a.down_reason]), [
    ['gpu-0', true, null, null],
    ['gpu-1', false, false, 'process gone: pid 100 on this host; last heartbeat 2s ago, seq 41'],
  ]);
  assert.ok(json.waiting.some((w) => w.reason === 'ready; no brain is running: start the rig'), JSON.stringify(json.waiting));

  // A running brain: the same tasks keep the brain's promise; its line names it.
  const up = snapshot();
  up.tasks.private.push(makeTask({ name: 'ready', created_at: iso(10) }));
  const upText = renderStatus(up);
  assert.match(upText, /^brain: running, pid 7 on this host \(rig-a\) since 2026-01-01T11:00:00\.000Z$/m);
  assert.match(upText, /b1__ready +waiting +cpu +ready; the brain releases it on its next pass$/m);
  assert.equal(toStatusJson(up).brain_lease.state, 'running');
});
