// A restarted agent ends its previous life's task processes: those of the attempts its last
// heartbeat lists, and those of its claims in processing/ that the heartbeat (written at most
// once a second) had not listed yet. Real processes, found by their environment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { Config } from '../../agents/core/config.ts';
import { systemClock } from '../../agents/core/clock.ts';
import { writeHeartbeat } from '../../agents/core/heartbeat.ts';
import { TaskStore } from '../../agents/core/store.ts';
import { reclaimOrphans } from '../../agents/gpu/orphans.ts';
import { AGENT_ENV, ATTEMPT_ENV, TASK_ENV } from '../../agents/gpu/procGroup.ts';
import { buildHeartbeat } from '../../agents/gpu/heartbeatView.ts';
import { makeTask, tempMount } from '../helpers/mount.ts';

/** A pid that ran and is gone: the previous life's. */
async function deadPid(): Promise<number> {
  const p = spawn('true');
  await once(p, 'exit');
  return p.pid!;
}

test('a restarted agent kills the processes of a claim its last heartbeat did not list yet, and only of its own open claims', async () => {
  const { paths, cleanup } = await tempMount();
  // A name no other test uses: processes are matched by it.
  const name = `gpu-orphan-${process.pid}`;
  const config = Config.parse({ gpus: [{ id: 0, name, model: 'm', port: 11435 }] });
  const gpu = config.gpus[0]!;
  const procs: ReturnType<typeof spawn>[] = [];
  try {
    const store = new TaskStore(paths);
    // Its previous life: a heartbeat written before its last claim (no running task listed).
    const pid = await deadPid();
    await writeHeartbeat(paths, buildHeartbeat({
      name, stopping: false, health: 'healthy', hot: false, llmAvailable: true, modelMb: 0, gpuId: 0, pid, hostname: hostname(), startedAt: Date.now() - 60_000,
      seq: 41, loading: false, loadingModel: null, loadMs: {}, runtime: 'ollama', heldModel: null, numParallel: 1, gpu: null, running: [], healthReasons: [],
      circuit: { state: 'closed', reason: null }, host: null, stats: { tasks_completed: 0, tasks_failed: 0 },
    }, config, Date.now()));
    const claimedAt = new Date().toISOString();
    const ours = makeTask({ name: 'ours', attempt: 1, claimed_by: name, claimed_at: claimedAt });
    const theirs = makeTask({ name: 'theirs', attempt: 1, claimed_by: 'gpu-other', claimed_at: claimedAt });
    await store.write('processing', ours);
    await store.write('processing', theirs);
    const run = (taskId: string, attempt: number) => {
      const p = spawn('sleep', ['60'], { env: { ...process.env, [AGENT_ENV]: name, [TASK_ENV]: taskId, [ATTEMPT_ENV]: String(attempt) }, stdio: 'ignore' });
      procs.push(p);
      return p;
    };
    const orphan = run(ours.id, 1);
    const orphanGone = once(orphan, 'exit');
    // Its environment names our agent but an attempt we do not hold: not provably an orphan of this claim.
    const stranger = run(theirs.id, 1);
    const lines: string[] = [];
    const seq = await reclaimOrphans({ paths, config, gpu, store, clock: systemClock, log: async (what, task, reason) => (lines.push(`${what} ${task} ${reason}`), '') });
    assert.equal(seq, 42);
    const [, signal] = await orphanGone;
    assert.equal(signal, 'SIGKILL', 'the claim\'s process was killed');
    assert.equal(stranger.exitCode, null);
    assert.equal(stranger.signalCode, null, 'a process of an attempt not ours lives on');
    assert.deepEqual(await store.locate(ours.id), 'failed');
    assert.deepEqual(await store.locate(theirs.id), 'processing');
    assert.ok(lines.some((l) => l.startsWith(`ORPHAN ${ours.id}`)), lines.join('\n'));
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    await cleanup();
  }
});
