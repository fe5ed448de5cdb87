// A heartbeat is a file anyone can write: it may name any pid. An agent kills only processes
// whose environment proves they ran one of its own attempts on this host; a forged heartbeat
// naming a foreign process (or pid 0 or 1, which kill(2) reads as "my group" and "init") kills
// nothing. A second agent of a name that is alive on this host is refused, exit 3, and the
// first agent and its workers go on untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { readHeartbeat, writeHeartbeat } from '../../agents/core/heartbeat.ts';
import { waitFor, waitForAgents } from '../../tools/harness/runRig.ts';
import { judgePreviousLife } from '../../agents/gpu/previousLife.ts';
import { decisionText, tempMount } from '../helpers/mount.ts';
import { startAgent, stopAll, writeTestConfig } from '../helpers/rig.ts';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

function forged(pid: number, tasks: Array<{ pid: number | null; task_pgid: number | null }>, host: string | null) {
  return {
    gpu_id: 0, name: 'gpu-0', state: 'cold' as const, model_loaded: false, last_updated: new Date().toISOString(), temperature_c: null, power_draw_w: null,
    vram_used_mb: null, vram_total_mb: null, vram_percent: null, gpu_util_percent: null, clock_mhz: null, throttle_status: 'None',
    claimed_vram_mb: 0, budget_available_mb: 0, active_workers: tasks.length, stats: { tasks_completed: 0, tasks_failed: 0 },
    active_tasks: tasks.map((t, i) => ({ worker_id: `w${i}`, task_id: `b1__t${i}`, task_class: 'cpu', task_name: `t${i}`, vram_estimate_mb: 0, peak_vram_mb: null, started_at: new Date().toISOString(), attempt: 1, ...t })),
    seq: 5, pid, started_at: new Date().toISOString(), health: 'healthy' as const, health_reasons: [], accepts: [], hostname: host,
  };
}

test('judgePreviousLife: our own, a dead life here, a live agent here, another host', () => {
  const hb = forged(4242, [], 'h1') as unknown as Parameters<typeof judgePreviousLife>[0] & object;
  const facts = { myPid: 99, myHost: 'h1', prevIsLiveAgent: false };
  assert.deepEqual(judgePreviousLife(null, facts), { kind: 'none' });
  assert.deepEqual(judgePreviousLife({ ...hb, pid: 99 }, facts), { kind: 'none' });
  assert.deepEqual(judgePreviousLife(hb, facts), { kind: 'ended', attempts: [], pid: 4242 });
  assert.deepEqual(judgePreviousLife(hb, { ...facts, prevIsLiveAgent: true }), { kind: 'alive_here', pid: 4242 });
  assert.deepEqual(judgePreviousLife({ ...hb, pid: 1 }, { ...facts, prevIsLiveAgent: true }), { kind: 'ended', attempts: [], pid: 1 });
  assert.deepEqual(judgePreviousLife(hb, { ...facts, myHost: 'h2' }), { kind: 'elsewhere', host: 'h1', seq: 5 });
});

test('a forged heartbeat naming a foreign process group, pid 0 and pid 1 kills nothing', { timeout: 90_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  const victim = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
  const procs = [];
  try {
    await writeTestConfig(paths, 1);
    await writeHeartbeat(paths, forged(victim.pid!, [
      { pid: victim.pid!, task_pgid: victim.pid! },
      { pid: 0, task_pgid: 1 },
      { pid: 1, task_pgid: 0 },
    ], hostname()));
    procs.push(startAgent(paths, 0));
    assert.equal((await readHeartbeat(paths, 0))?.pid, victim.pid, 'the forged heartbeat is in place');
    await waitFor('the new agent\'s heartbeat', async () => {
      const hb = await readHeartbeat(paths, 0);
      return hb && hb.pid !== victim.pid ? true : null;
    }, 30_000);
    assert.ok(alive(victim.pid!), 'the foreign process group named in the heartbeat is alive');
    assert.equal(procs[0]!.exitCode, null, 'the agent runs');
  } finally {
    process.kill(-victim.pid!, 'SIGKILL');
    await stopAll(procs);
    await cleanup();
  }
});

test('a second agent of a live agent\'s name on this host is refused with exit 3; the first runs on', { timeout: 90_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  const procs = [];
  try {
    await writeTestConfig(paths, 1);
    procs.push(startAgent(paths, 0));
    await waitForAgents(paths, [0], 30_000);
    const first = (await readHeartbeat(paths, 0))!;
    const second = await startAgent(paths, 0);
    assert.equal(second.exitCode, 3, String(second.stderr));
    assert.match(String(second.stderr), /refused to start: agent gpu-0 already runs on this host \(pid \d+/);
    const later = await waitFor('the first agent\'s next beat', async () => {
      const hb = await readHeartbeat(paths, 0);
      return hb && hb.seq > first.seq + 1 ? hb : null;
    }, 20_000);
    assert.equal(later.pid, first.pid, 'the heartbeat is still the first agent\'s');
    assert.ok(alive(first.pid));
    assert.doesNotMatch(await decisionText(paths), /ORPHAN/);
  } finally {
    await stopAll(procs);
    await cleanup();
  }
});
