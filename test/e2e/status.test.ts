// The real commands against a mount built by hand with the real store APIs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { writeJsonAtomic } from '../../agents/core/atomic.ts';
import { batchesDir, writeBatchRecord } from '../../agents/core/batch.ts';
import { defaultGpus, writeConfig } from '../../agents/core/config.ts';
import { formatDecision } from '../../agents/core/decisionLog.ts';
import { writeHeartbeat, type HeartbeatInput } from '../../agents/core/heartbeat.ts';
import { gpuDir, type MountPaths } from '../../agents/core/paths.ts';
import { TaskStore } from '../../agents/core/store.ts';
import { readSnapshot, readTailLines } from '../../agents/status/snapshot.ts';
import { makeTask, tempMount } from '../helpers/mount.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function run(script: string, args: string[]) {
  return execa('node', ['--import', 'tsx', join(ROOT, 'scripts', script), ...args], {
    cwd: ROOT, reject: false, env: { RIG_SHARED: '/nonexistent-rig-shared' }, timeout: 30_000,
  });
}

function heartbeat(gpu_id: number, over: Partial<HeartbeatInput> = {}): HeartbeatInput {
  const now = new Date().toISOString();
  return {
    gpu_id, name: `gpu-${gpu_id}`, state: 'cold', model_loaded: false, last_updated: now,
    temperature_c: 60, power_draw_w: 80, vram_used_mb: 1200, vram_total_mb: 6144, vram_percent: 20, gpu_util_percent: 30,
    clock_mhz: 1800, throttle_status: 'None', claimed_vram_mb: 1024, budget_available_mb: 2048, active_workers: 0,
    active_tasks: [], stats: { tasks_completed: 1, tasks_failed: 0 }, seq: 3, pid: 1234, started_at: now,
    health: 'healthy', health_reasons: [], accepts: ['meta', 'script', 'cpu', 'llm'], ...over,
  };
}

/** A running batch of six tasks spread over the folders, plus a finished batch. */
async function buildMount(paths: MountPaths): Promise<void> {
  await writeConfig(paths.config, { gpus: defaultGpus(2) });
  await Promise.all([batchesDir(paths), gpuDir(paths, 0), gpuDir(paths, 1)].map((d) => mkdir(d, { recursive: true })));
  const store = new TaskStore(paths);
  const scan = makeTask({ batch: 'b1', name: 'scan', task_class: 'script', vram_estimate_mb: 1024, claimed_by: 'gpu-0', claimed_at: new Date().toISOString() });
  const big = makeTask({ batch: 'b1', name: 'big', task_class: 'script', vram_estimate_mb: 3072 });
  const after = makeTask({ batch: 'b1', name: 'after', depends_on: [scan.id] });
  const gated = makeTask({ batch: 'b1', name: 'gated', parked: 'approval', parked_reason: 'pip needs approval' });
  const done = makeTask({ batch: 'b1', name: 'done' });
  const broke = makeTask({
    batch: 'b1', name: 'broke', attempt: 3,
    attempts: [1, 2, 3].map((n) => ({ attempt: n, agent: 'gpu-1', claimed_at: 'x', finished_at: 'x', outcome: 'failed' as const, failure_kind: 'app' as const, reason: 'exit 2', exit_code: 2 })),
    result: { task_id: 'b1__broke', attempt: 3, outcome: 'failed', failure_kind: 'app', exit_code: 2, signal: null, reason: 'exit 2', started_at: 'x', finished_at: 'x', duration_ms: 5, stdout_path: null, stderr_path: null },
  });
  await store.write('processing', scan);
  await store.write('queue', big);
  await store.write('private', after);
  await store.write('private', gated);
  await store.write('complete', done);
  await store.write('failed', broke);
  const ids = [scan, big, after, gated, done, broke].map((t) => t.id);
  const base = { plan: 'videos', plan_dir: '/p', batch_path: '/p/batches', values: {}, submitted_at: new Date().toISOString(), started_at: null, finished_at: null };
  await writeBatchRecord(paths, { ...base, id: 'b1', state: 'running', task_ids: ids });
  await writeBatchRecord(paths, {
    ...base, id: 'b0', state: 'complete', task_ids: ['b0__x', 'b0__y'],
    final_counts: { total: 2, waiting: 0, queued: 0, processing: 0, complete: 2, failed: 0, skipped: 0 },
  });
  await writeHeartbeat(paths, heartbeat(0, {
    active_tasks: [{ worker_id: 'w', task_id: scan.id, task_class: 'script', task_name: 'scan', vram_estimate_mb: 1024, peak_vram_mb: 700, pid: 9, started_at: new Date().toISOString() }],
  }));
  await writeHeartbeat(paths, heartbeat(1, {
    temperature_c: 90, health: 'constrained', health_reasons: ['temperature 90C >= 85C'], accepts: ['meta', 'cpu'], budget_available_mb: 4096,
  }));
  await appendFile(paths.decisionLog, formatDecision({ who: 'brain', what: 'RELEASE', task: big.id, reason: 'no dependencies' }, Date.now()) + '\n');
}

test('status --json prints the contract object with counts and wait reasons', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    await buildMount(paths);
    const r = await run('status.ts', ['--json', '--shared', paths.root]);
    assert.equal(r.exitCode, 0, r.stderr);
    const json = JSON.parse(r.stdout);
    assert.deepEqual(json.batches, [
      { id: 'b0', plan: 'videos', state: 'complete', tasks: { total: 2, waiting: 0, queued: 0, processing: 0, complete: 2, failed: 0, skipped: 0 } },
      { id: 'b1', plan: 'videos', state: 'running', tasks: { total: 6, waiting: 2, queued: 1, processing: 1, complete: 1, failed: 1, skipped: 0 } },
    ]);
    assert.deepEqual(json.queue, { queued: 1, processing: 1, complete: 1, failed: 1, waiting: 2 });
    assert.equal(json.gpus.length, 2);
    assert.deepEqual(json.gpus.map((g: { name: string; seq: number; health: string }) => [g.name, g.seq, g.health]), [['gpu-0', 3, 'healthy'], ['gpu-1', 3, 'constrained']]);
    const reasons = Object.fromEntries(json.waiting.map((w: { task_id: string; reason: string }) => [w.task_id, w.reason]));
    assert.equal(reasons['b1__big'], 'no GPU with 3 GB free (largest free: gpu-0 2 GB)');
    assert.equal(reasons['b1__after'], 'dependency scan not done (running)');
    assert.equal(reasons['b1__gated'], `waiting for approval: touch ${join(paths.approvals, 'b1__gated')} (pip needs approval)`);
    assert.deepEqual(json.failed_for_good, [{ task_id: 'b1__broke', reason: 'failed 3 of 3 attempts: exit 2' }]);
    assert.deepEqual(json.agents.map((a: { name: string; alive: boolean }) => [a.name, a.alive]), [['gpu-0', true], ['gpu-1', true]]);
  } finally {
    await cleanup();
  }
});

/** A pid that names no process any more: a child that has exited. */
async function deadPid(): Promise<number> {
  const child = execa(process.execPath, ['-e', '']);
  await child;
  return child.pid!;
}

test('a brain and an agent of this host whose processes are gone: status says the brain is down and the agent down at once, and no reason promises what the brain will do', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    await buildMount(paths);
    const pid = await deadPid();
    // What a SIGKILLed brain leaves: its lock folder and its owner file, naming this host.
    await mkdir(`${paths.brainLock}.lock`, { recursive: true });
    await writeJsonAtomic(`${paths.brainLock}.owner`, { pid, host: hostname(), since: new Date().toISOString(), seq: 40, token: 'x' });
    await writeHeartbeat(paths, heartbeat(1, { hostname: hostname(), pid }));
    const text = await run('status.ts', ['--shared', paths.root]);
    assert.equal(text.exitCode, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^brain: down: pid ${pid} on this host \\(${hostname()}\\) is gone, its lock left behind; start the rig$`, 'm'));
    assert.match(text.stdout, new RegExp(`gpu-1 {2}down {2}process gone: pid ${pid} on this host`));
    assert.doesNotMatch(text.stdout, /the brain (releases|retries|reclaims|moves|parks|expands)/);
    const r = await run('status.ts', ['--json', '--shared', paths.root]);
    assert.equal(r.exitCode, 0, r.stderr);
    const json = JSON.parse(r.stdout);
    assert.deepEqual([json.brain_lease.state, json.brain_lease.pid], ['down', pid]);
    assert.deepEqual(json.agents.map((a: { name: string; alive: boolean; pid_alive: boolean | null }) => [a.name, a.alive, a.pid_alive]), [['gpu-0', true, null], ['gpu-1', false, false]]);

    // The same owner naming this test's own (live) process: the brain runs, and reasons say what it will do.
    await writeJsonAtomic(`${paths.brainLock}.owner`, { pid: process.pid, host: hostname(), since: new Date().toISOString(), seq: 41, token: 'x' });
    const up = JSON.parse((await run('status.ts', ['--json', '--shared', paths.root])).stdout);
    assert.equal(up.brain_lease.state, 'running');
    // No lock folder: whoever the owner file names, no brain holds the lock.
    await rm(`${paths.brainLock}.lock`, { recursive: true });
    const gone = await run('status.ts', ['--shared', paths.root]);
    assert.match(gone.stdout, new RegExp(`^brain: not running \\(the last one was pid ${process.pid} on ${hostname()}\\); start the rig$`, 'm'));
  } finally {
    await cleanup();
  }
});

test('status text, and status without a config still shows the tasks', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    await buildMount(paths);
    const text = await run('status.ts', ['--shared', paths.root]);
    assert.equal(text.exitCode, 0, text.stderr);
    assert.match(text.stdout, /gpu-1 {2}cold {2}constrained: temperature 90C >= 85C/);
    assert.match(text.stdout, /b1__big +queued +script 3 GB +no GPU with 3 GB free/);
    assert.match(text.stdout, /Failed for good \(1\)\n {2}b1__broke {2}failed 3 of 3 attempts: exit 2/);

    await rm(paths.config);
    const bare = await run('status.ts', ['--json', '--shared', paths.root]);
    assert.equal(bare.exitCode, 0, bare.stderr);
    const json = JSON.parse(bare.stdout);
    assert.deepEqual(json.gpus, []);
    assert.equal(json.queue.queued, 1);
    assert.match(json.config_problem, /no config file/);
    assert.equal(json.waiting.find((w: { task_id: string }) => w.task_id === 'b1__big').reason, 'no GPU agent is running');
  } finally {
    await cleanup();
  }
});

test('watch --once renders one frame without screen control', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    await buildMount(paths);
    const r = await run('watch.ts', ['--once', '--shared', paths.root]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /\x1b/);
    assert.match(r.stdout, /gpu-0 +cold +healthy +60C +mem \[[█░]+\] 1200\/6144 MB/);
    assert.match(r.stdout, /gpu-1 +cold +CONSTRAINED/);
    assert.match(r.stdout, /▸ b1__scan \(script, est 1 GB, peak 700 MB\)/);
    assert.match(r.stdout, /brain  RELEASE task=b1__big — no dependencies/);
    for (const line of r.stdout.trimEnd().split('\n')) assert.ok([...line].length <= 100, line);

    const bad = await run('watch.ts', ['--once', '--interval-ms', '5000', '--shared', paths.root]);
    assert.equal(bad.exitCode, 2);
    assert.match(bad.stderr, /--interval-ms: expected a whole number of milliseconds from 100 to 2000, got "5000"/);
  } finally {
    await cleanup();
  }
});

test('signal writes the signal file; bad input exits 2 with a usage message', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    await buildMount(paths);
    const abort = await run('signal.ts', ['gpu-0', 'abort', 'b1__scan', '--shared', paths.root]);
    assert.equal(abort.exitCode, 0, abort.stderr);
    const file = join(paths.signals, 'gpu-0.abort');
    assert.equal(abort.stdout.trim(), file);
    assert.equal((await readFile(file, 'utf8')).trim(), 'b1__scan');
    // A person's abort cancels the task (never retried), and says how to undo that.
    assert.equal(abort.stderr.trim(), 'task b1__scan is cancelled (control/cancel/b1__scan): it will not be retried; forge retry b1__scan gives it fresh attempts');
    assert.deepEqual(await readdir(join(paths.root, 'control', 'cancel')), ['b1__scan']);

    const stop = await run('signal.ts', ['gpu-1', 'stop', '--shared', paths.root]);
    assert.equal(stop.exitCode, 0, stop.stderr);
    assert.equal(await readFile(join(paths.signals, 'gpu-1.stop'), 'utf8'), '');

    const bad: Array<[string[], RegExp]> = [
      [['gpu-7', 'stop'], /unknown agent "gpu-7": the configured agents are gpu-0, gpu-1/],
      [['gpu-0', 'abort'], /abort needs the id of the task to abort/],
      [['gpu-0', 'stop', 'b1__scan'], /stop takes no task id/],
      [['gpu-0', 'pause'], /unknown signal "pause": use one of stop, abort, kill/],
      [[], /missing TARGET and signal/],
    ];
    const results = await Promise.all(bad.map(([args]) => run('signal.ts', [...args, '--shared', paths.root])));
    for (const [i, r] of results.entries()) {
      const [args, message] = bad[i]!;
      assert.equal(r.exitCode, 2, args.join(' '));
      assert.match(r.stderr, message);
      assert.match(r.stderr, /usage: forge signal/);
    }
    assert.equal((await readFile(join(paths.signals, 'gpu-0.abort'), 'utf8')).trim(), 'b1__scan');
  } finally {
    await cleanup();
  }
});

test('readSnapshot: the decision log tail, tasks seen once, and stale heartbeats marked dead', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    await buildMount(paths);
    // A log far bigger than one read chunk: only its end is read.
    const lines = Array.from({ length: 5000 }, (_, i) => `2026-01-01T00:00:00.000Z brain  RELEASE task=b1__t${i} — line ${i}`);
    await appendFile(paths.decisionLog, lines.join('\n') + '\n');
    assert.deepEqual(await readTailLines(paths.decisionLog, 3), lines.slice(-3));
    assert.deepEqual(await readTailLines(join(paths.logs, 'absent.log'), 3), []);

    const later = Date.now() + 10 * 60_000; // ten minutes on: past heartbeat_stale_s (120 s)
    const snap = await readSnapshot(paths.root, later, { decisionLines: 2 });
    assert.deepEqual(snap.decisions, lines.slice(-2));
    assert.deepEqual(snap.gpus.map((g) => [g.name, g.alive]), [['gpu-0', false], ['gpu-1', false]]);
    const ids = Object.values(snap.tasks).flat().map((t) => t.id).sort();
    assert.deepEqual(ids, ['b1__after', 'b1__big', 'b1__broke', 'b1__done', 'b1__gated', 'b1__scan']);
  } finally {
    await cleanup();
  }
});
