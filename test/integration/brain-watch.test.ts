// The brain's watch over agents and stuck tasks, on real files with an injected clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ManualClock, isoTime } from '../../agents/core/clock.ts';
import { Config } from '../../agents/core/config.ts';
import { BatchRecord } from '../../agents/core/batch.ts';
import { DecisionLog } from '../../agents/core/decisionLog.ts';
import { readHeartbeatFile, writeHeartbeat, type HeartbeatInput } from '../../agents/core/heartbeat.ts';
import { TaskStore } from '../../agents/core/store.ts';
import type { MountPaths } from '../../agents/core/paths.ts';
import { AgentWatcher } from '../../agents/brain/watchAgents.ts';
import { scanFolders } from '../../agents/brain/scan.ts';
import { BrainIndex } from '../../agents/brain/brainIndex.ts';
import { makeTask, tempMount } from '../helpers/mount.ts';

const config = Config.parse({
  gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 1 }, { id: 1, name: 'gpu-1', model: 'm', port: 2 }],
  timeouts: { heartbeat_stale_s: 120, stuck_task_s: 1200, abort_grace_s: 120 },
});

function beat(id: number, seq: number, clock: ManualClock): HeartbeatInput {
  return {
    gpu_id: id, name: `gpu-${id}`, state: 'cold', model_loaded: false, last_updated: isoTime(clock.now()),
    temperature_c: 40, power_draw_w: 50, vram_used_mb: 0, vram_total_mb: 6144, vram_percent: 0, gpu_util_percent: 0,
    clock_mhz: 1900, throttle_status: 'None', claimed_vram_mb: 0, budget_available_mb: 4915, active_workers: 0,
    active_tasks: [], stats: { tasks_completed: 0, tasks_failed: 0 }, seq, pid: 1000 + id, started_at: isoTime(0),
    health: 'healthy', health_reasons: [], accepts: ['cpu'],
  };
}

async function setup() {
  const { paths, cleanup } = await tempMount();
  const clock = new ManualClock();
  const store = new TaskStore(paths);
  const watcher = new AgentWatcher({ paths, config, clock, store, log: new DecisionLog(paths.decisionLog, () => clock.now()) });
  return { paths, cleanup, clock, store, watcher };
}

/** A mount, a clock and a store that notes the id of each processing/ file it reads. */
async function countingSetup() {
  const { paths, cleanup } = await tempMount();
  const clock = new ManualClock();
  const reads: string[] = [];
  const store = new (class extends TaskStore {
    override read(...args: Parameters<TaskStore['read']>): ReturnType<TaskStore['read']> {
      if (args[0] === 'processing') reads.push(args[1]);
      return super.read(...args);
    }
  })(paths);
  return { paths, cleanup, clock, reads, store, log: new DecisionLog(paths.decisionLog, () => clock.now()) };
}

/** Advances the brain's clock, beats for both agents (seq advancing) and runs one check. */
function liveTicker(paths: MountPaths, clock: ManualClock, watcher: AgentWatcher): (ms: number) => Promise<void> {
  let seq = 0;
  return async (ms) => {
    clock.advance(ms);
    await writeHeartbeat(paths, beat(0, seq, clock));
    await writeHeartbeat(paths, beat(1, seq++, clock));
    await watcher.check();
  };
}

test('an agent whose heartbeat seq stops advancing for heartbeat_stale_s (brain clock) is dead; its tasks return with the attempt recorded as lost/infra', async () => {
  const { paths, cleanup, clock, store, watcher } = await setup();
  try {
    const t = makeTask({ name: 'a', attempt: 1, claimed_by: 'gpu-0', claimed_at: isoTime(clock.now()) });
    await store.write('processing', t);
    let seq1 = 0;
    await writeHeartbeat(paths, beat(0, 5, clock));
    await writeHeartbeat(paths, beat(1, seq1++, clock));
    await watcher.check();
    // gpu-0's seq stays at 5; the file's timestamps do not matter, only seq on the brain's clock.
    for (let i = 0; i < 12; i++) {
      clock.advance(10_000);
      await writeHeartbeat(paths, { ...beat(0, 5, clock) });
      await writeHeartbeat(paths, beat(1, seq1++, clock));
      await watcher.check();
    }
    assert.equal(await store.locate(t.id), 'failed');
    const r = await store.read('failed', t.id);
    assert.ok(r.ok);
    assert.deepEqual(r.task.attempts.map((a) => [a.attempt, a.outcome, a.failure_kind]), [[1, 'lost', 'infra']]);
    assert.deepEqual([...watcher.deadAgents()], ['gpu-0']);
    const log = await readFile(paths.decisionLog, 'utf8');
    assert.match(log, /AGENT_DEAD — gpu-0: heartbeat seq 5 has not advanced for 120 s \(limit 120 s\); returning 1 task/);
    assert.doesNotMatch(log, /gpu-1: heartbeat/);
    // It comes back when its seq moves again.
    await writeHeartbeat(paths, beat(0, 6, clock));
    await watcher.check();
    assert.deepEqual([...watcher.deadAgents()], []);
    assert.match(await readFile(paths.decisionLog, 'utf8'), /AGENT_BACK — gpu-0/);
  } finally {
    await cleanup();
  }
});

test('a stuck task gets abort, then kill after abort_grace_s, then a manual-intervention record', async () => {
  const { paths, cleanup, clock, store, watcher } = await setup();
  try {
    const t = makeTask({ name: 'hang', attempt: 1, claimed_by: 'gpu-1', timeout_s: 60 });
    await store.write('processing', t);
    const tick = liveTicker(paths, clock, watcher);
    await tick(0);
    await tick(1_199_000);
    assert.deepEqual(await readdir(paths.signals), []);
    await tick(1_000);
    assert.deepEqual(await readdir(paths.signals), ['gpu-1.abort']);
    assert.equal((await readFile(join(paths.signals, 'gpu-1.abort'), 'utf8')).trim(), t.id);
    // The agent reads and removes the signal, but the task stays: kill after the grace.
    const { unlink } = await import('node:fs/promises');
    await unlink(join(paths.signals, 'gpu-1.abort'));
    await tick(119_000);
    assert.deepEqual(await readdir(paths.signals), []);
    await tick(1_000);
    assert.deepEqual(await readdir(paths.signals), ['gpu-1.kill']);
    await unlink(join(paths.signals, 'gpu-1.kill'));
    await tick(120_000);
    const rec = JSON.parse(await readFile(join(paths.brain, 'interventions', `${t.id}.json`), 'utf8'));
    assert.equal(rec.agent, 'gpu-1');
    assert.match(rec.reason, /needs a person/);
    const log = await readFile(paths.decisionLog, 'utf8');
    assert.match(log, /STUCK_ABORT task=\S+ — in processing for 1200 s \(limit 1200 s\); abort signal to gpu-1/);
    assert.match(log, /STUCK_KILL task=\S+ — still running 120 s after the abort signal; kill signal to gpu-1/);
    assert.match(log, /MANUAL task=/);
    // Once the task leaves processing, the escalation and the record are cleared.
    await store.move(t.id, 'processing', 'failed');
    await tick(1000);
    assert.deepEqual(await readdir(join(paths.brain, 'interventions')), []);
  } finally {
    await cleanup();
  }
});

test('a model load is not stuck before model_load_s, and a task is not stuck before its own timeout plus grace', async () => {
  const { stuckAfterMs } = await import('../../agents/brain/monitor.ts');
  const c = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 1 }], timeouts: { stuck_task_s: 60, model_load_s: 300, abort_grace_s: 10 } });
  assert.equal(stuckAfterMs(makeTask({ type: 'load_llm', task_class: 'meta', timeout_s: 30 }), c), 300_000);
  assert.equal(stuckAfterMs(makeTask({ timeout_s: 3600 }), c), 3_610_000);
  assert.equal(stuckAfterMs(makeTask({ timeout_s: 5 }), c), 60_000);
});

test('a task renamed into processing/ without a claim of its own goes back to queue/ after heartbeat_stale_s, timed from when it was first seen unclaimed', async () => {
  const { paths, cleanup, clock, store, watcher } = await setup();
  try {
    const tick = liveTicker(paths, clock, watcher);
    // Claimed for attempt 1 by gpu-0 and seen so by the brain.
    const t = makeTask({ name: 'c', attempt: 1, claimed_by: 'gpu-0', claimed_at: isoTime(clock.now()) });
    await store.write('processing', t);
    await tick(0);
    // Between two checks: attempt 1 ends (recorded), the task goes back to queue/, and gpu-1
    // wins its rename but dies before writing its claim. The file in processing/ is then
    // attempt 1 again, already recorded as over: no claim of its own.
    const ended = { ...t, claimed_by: null, attempts: [{ attempt: 1, agent: 'gpu-0', claimed_at: t.claimed_at!, finished_at: isoTime(clock.now()), outcome: 'lost' as const, failure_kind: 'infra' as const, reason: 'agent lost', exit_code: null }] };
    await store.write('processing', ended);
    // Long after the first sighting of attempt 1, but the first check that sees it unclaimed.
    await tick(200_000);
    assert.equal(await store.locate(t.id), 'processing', 'a claim milliseconds old is not released');
    await tick(119_000);
    assert.equal(await store.locate(t.id), 'processing');
    await tick(1_000);
    assert.equal(await store.locate(t.id), 'queue');
    assert.match(await readFile(paths.decisionLog, 'utf8'), /UNCLAIMED task=b1__c — in processing\/ for 120 s without a claim of its own/);
    // A claim that is written in time is never released.
    const claimed = makeTask({ name: 'd', attempt: 0 });
    await store.write('processing', claimed);
    await tick(60_000);
    await store.write('processing', { ...claimed, attempt: 1, claimed_by: 'gpu-1', claimed_at: isoTime(clock.now()) });
    await tick(300_000);
    assert.equal(await store.locate(claimed.id), 'processing');
  } finally {
    await cleanup();
  }
});

test('a heartbeat that cannot be read for now (ESTALE, EIO, gone from view) is no verdict: the last beat stands in; one unreadable for heartbeat_stale_s is dead', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const clock = new ManualClock();
    const store = new TaskStore(paths);
    // gpu-0's reads fail with EIO (after their retries) while `failing` is set; gpu-1 reads well.
    let failing = false;
    const asked: Array<{ id: number; giveUpMs?: number; missingToo?: boolean }> = [];
    const watcher = new AgentWatcher({
      paths, config, clock, store, log: new DecisionLog(paths.decisionLog, () => clock.now()),
      readHeartbeat: async (p, id, retry = {}) => {
        if (id === 0) asked.push({ id, giveUpMs: retry.giveUpMs, missingToo: retry.missingToo });
        return id === 0 && failing ? { ok: false, missing: false, transient: true, problem: 'cannot be read (EIO) (failed 6 reads over 2.0 s; gave up)' } : readHeartbeatFile(p, id, retry);
      },
    });
    const t = makeTask({ name: 'a', attempt: 1, claimed_by: 'gpu-0', claimed_at: isoTime(clock.now()) });
    await store.write('processing', t);
    let seq = 0;
    const tick = async (ms: number) => {
      clock.advance(ms);
      await writeHeartbeat(paths, beat(0, seq, clock));
      await writeHeartbeat(paths, beat(1, seq++, clock));
      await watcher.check();
    };
    await tick(0);
    await tick(10_000);
    assert.deepEqual(watcher.aliveBeats().map((b) => b.name), ['gpu-0', 'gpu-1']);
    failing = true;
    asked.length = 0;
    await tick(10_000);
    await tick(10_000);
    assert.deepEqual(watcher.aliveBeats().map((b) => b.name), ['gpu-0', 'gpu-1'], 'gpu-0 is still there, with its last beat');
    assert.deepEqual(asked, [{ id: 0, giveUpMs: undefined, missingToo: true }, { id: 0, giveUpMs: 0, missingToo: undefined }], 'read again for a while at the first failure, once at the next pass');
    assert.doesNotMatch(await readFile(paths.decisionLog, 'utf8').catch(() => ''), /BAD_FILE|AGENT_DEAD/);
    assert.equal(await store.locate(t.id), 'processing');
    // It reads again: nothing happened.
    failing = false;
    await tick(10_000);
    assert.deepEqual([...watcher.deadAgents()], []);
    // Unreadable for heartbeat_stale_s: as silent as a frozen agent, and judged so.
    failing = true;
    for (let i = 0; i < 13; i++) await tick(10_000);
    assert.deepEqual([...watcher.deadAgents()], ['gpu-0']);
    assert.deepEqual(watcher.aliveBeats().map((b) => b.name), ['gpu-1']);
    assert.match(await readFile(paths.decisionLog, 'utf8'), /AGENT_DEAD — gpu-0: heartbeat seq \d+ has not advanced for 1[23]0 s/);
    assert.equal(await store.locate(t.id), 'failed');
  } finally {
    await cleanup();
  }
});

test('a heartbeat whose stat shows no new version is not read again, but is read at least every min(external_s, heartbeat_stale_s / 4): a stale stat never makes a live agent dead', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const clock = new ManualClock();
    const store = new TaskStore(paths);
    const reads: number[] = [];
    // A stat answering from a network mount's cache: the version never moves, whatever is written.
    const watcher = new AgentWatcher({
      paths, config, clock, store, log: new DecisionLog(paths.decisionLog, () => clock.now()),
      versionOf: async () => 'cached',
      readHeartbeat: (p, id, retry) => (reads.push(id), readHeartbeatFile(p, id, retry)),
    });
    const t = makeTask({ name: 'a', attempt: 1, claimed_by: 'gpu-0', claimed_at: isoTime(clock.now()) });
    await store.write('processing', t);
    let seq = 0;
    await writeHeartbeat(paths, beat(0, seq, clock));
    await writeHeartbeat(paths, beat(1, seq, clock));
    await watcher.check();
    assert.deepEqual(reads, [0, 1]);
    // Beats advance every 10 s for 250 s; a full read comes every 30 s (the default external_s; stale 120 s).
    for (let i = 0; i < 25; i++) {
      clock.advance(10_000);
      seq++;
      await writeHeartbeat(paths, beat(0, seq, clock));
      await writeHeartbeat(paths, beat(1, seq, clock));
      await watcher.check();
    }
    assert.equal(reads.length, 2 + 2 * 8, 'read at the first check, then every third one');
    assert.deepEqual([...watcher.deadAgents()], []);
    assert.equal(await store.locate(t.id), 'processing');
    assert.equal(watcher.aliveBeats().find((b) => b.name === 'gpu-0')?.seq, 24, 'the beat of the last full read');
    // A real stat sees each new version at once.
    const exact = new AgentWatcher({ paths, config, clock, store, log: new DecisionLog(paths.decisionLog, () => clock.now()), readHeartbeat: (p, id, retry) => (reads.push(id), readHeartbeatFile(p, id, retry)) });
    reads.length = 0;
    await exact.check();
    await exact.check();
    assert.deepEqual(reads, [0, 1], 'unchanged: not read again');
    await writeHeartbeat(paths, beat(1, ++seq, clock));
    await exact.check();
    assert.deepEqual(reads, [0, 1, 1], 'only the one written since');
    assert.equal(exact.aliveBeats().find((b) => b.name === 'gpu-1')?.seq, seq);
  } finally {
    await cleanup();
  }
});

test('processing/ files are read again only when their stat moved (a claim or a result is a rename), and in full at least as often as a heartbeat', async () => {
  const { paths, cleanup, clock, reads, store, log } = await countingSetup();
  try {
    const watcher = new AgentWatcher({ paths, config, clock, store, log });
    const tick = liveTicker(paths, clock, watcher);
    const a = makeTask({ name: 'a', attempt: 1, claimed_by: 'gpu-0', claimed_at: isoTime(clock.now()) });
    const b = makeTask({ name: 'b', attempt: 1, claimed_by: 'gpu-1', claimed_at: isoTime(clock.now()) });
    await store.write('processing', a);
    await store.write('processing', b);
    await tick(0);
    assert.deepEqual(reads.sort(), [a.id, b.id]);
    for (let i = 0; i < 5; i++) await tick(1000);
    assert.equal(reads.length, 2, 'unchanged files: one lstat each per check, no read');
    // b is written again (a new inode): read at the next check, a is not.
    await store.write('processing', { ...b, attempt: 2 });
    await tick(1000);
    assert.deepEqual(reads.slice(2), [b.id]);
    // A stat that never moves (a network mount's attribute cache): each file is still read in
    // full every min(external_s, heartbeat_stale_s / 4) = 30 s.
    const cached = new AgentWatcher({ paths, config, clock, store, log, versionOf: async () => 'cached' });
    reads.length = 0;
    await cached.check();
    for (let i = 0; i < 30; i++) {
      clock.advance(1000);
      await cached.check();
    }
    assert.equal(reads.length, 4, `read at the first check and again 30 s later: ${reads.join(', ')}`);
  } finally {
    await cleanup();
  }
});

test('the brain\'s scan and its watch share their reads of processing/: a running task is read once', async () => {
  const { paths, cleanup, clock, reads, store, log } = await countingSetup();
  try {
    const watcher = new AgentWatcher({ paths, config, clock, store, log });
    const ix = new BrainIndex({ paths, config, clock, store, log });
    const t = makeTask({ name: 'a', attempt: 1, claimed_by: 'gpu-0', claimed_at: isoTime(clock.now()) });
    ix.batches.set('b1', BatchRecord.parse({ id: 'b1', plan: 'p', plan_dir: '/', batch_path: '/', state: 'running', values: {}, submitted_at: 'x', started_at: 'x', finished_at: null, task_ids: [t.id] }));
    await store.write('processing', t);
    const seen = await scanFolders(ix, new Map(), async () => {}, undefined, watcher.processingReads);
    assert.equal(seen.get(t.id), 'processing');
    assert.equal(ix.tasks.get(t.id)?.task.claimed_by, 'gpu-0');
    await liveTicker(paths, clock, watcher)(1000);
    assert.deepEqual(reads, [t.id], 'read by the scan; the watch found the same version');
  } finally {
    await cleanup();
  }
});
