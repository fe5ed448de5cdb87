// Signals, approvals, the one-brain lock and the launcher's supervision, with real processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { readHeartbeat } from '../../agents/core/heartbeat.ts';
import { TaskStore } from '../../agents/core/store.ts';
import { freePortRange } from '../../tools/harness/ports.ts';
import { startRig, submitPlan, waitFor, waitForAgents, waitForBatchEnd } from '../../tools/harness/runRig.ts';
import { decisionText, tempMount } from '../helpers/mount.ts';
import { startAgent, startBrain, stopAll, writePlan, writeTestConfig } from '../helpers/rig.ts';

const ONE = (cmd: string) => `# One\n\n## Goal\nOne task.\n\n## Tasks\n\n### only\n- **task_class**: cpu\n- **command**: \`${cmd}\`\n`;

test('a second brain on the same mount is refused', async () => {
  const { paths, cleanup } = await tempMount();
  const first = startBrain(paths);
  try {
    await writeTestConfig(paths, 1);
    await waitFor('brain lock', async () => (await readdir(paths.brain)).includes('brain.lock'), 20_000);
    const second = await startBrain(paths);
    assert.equal(second.exitCode, 3);
    assert.match(String(second.stderr), /another brain holds .*brain\.lock \(pid \d+ on .*\); only one brain may run per mount/);
  } finally {
    await stopAll([first]);
    await cleanup();
  }
});

test('an abort signal file alone (as the brain writes for a stuck task): the worker is stopped, the task is recorded as an infra failure and retried; the signal file is removed', async () => {
  const { paths, cleanup } = await tempMount();
  const procs = [];
  try {
    await writeTestConfig(paths, 1);
    // First attempt hangs; the retry finishes at once.
    await writePlan(paths, 'hang', ONE('node scripts/hang.mjs'), {
      'hang.mjs': `if (process.env.FORGE_ATTEMPT === '1') await new Promise((r) => setTimeout(r, 60000));\n`,
    });
    procs.push(startBrain(paths), startAgent(paths, 0));
    await waitForAgents(paths, [0], 30_000);
    const batch = await submitPlan(paths.root, 'hang');
    const id = `${batch}__only`;
    await waitFor('task running', async () => (await readHeartbeat(paths, 0))?.active_tasks.some((t) => t.task_id === id && t.pid), 30_000);
    // By hand, without forge signal (which also cancels the task: test/e2e/operator-controls.test.ts).
    await writeFile(join(paths.signals, 'gpu-0.abort'), `${id}\n`);
    const rec = await waitForBatchEnd(paths, batch, 60_000);
    assert.equal(rec.state, 'complete');
    const t = JSON.parse(await readFile(join(paths.tasks, 'archive', batch, `${id}.json`), 'utf8'));
    assert.equal(t.attempts[0].outcome, 'killed');
    assert.equal(t.attempts[0].failure_kind, 'infra');
    assert.equal(t.attempts[1].outcome, 'success');
    assert.deepEqual(await readdir(paths.signals), []);
    assert.match(await decisionText(paths), /gpu-0 +ABORT task=\S+__only/);
  } finally {
    await stopAll(procs);
    await cleanup();
  }
});

test('stop signal: the agent finishes its work, exits 0 and says it is stopping', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    await writeTestConfig(paths, 1);
    const agent = startAgent(paths, 0);
    await waitForAgents(paths, [0], 30_000);
    await writeFile(join(paths.signals, 'gpu-0.stop'), '');
    const r = await agent;
    assert.equal(r.exitCode, 0);
    assert.equal((await readHeartbeat(paths, 0))?.state, 'stopping');
    assert.deepEqual(await readdir(paths.signals), []);
  } finally {
    await cleanup();
  }
});

test('NEEDS_APPROVAL parks the task until a person approves it with a file', async () => {
  const { paths, cleanup } = await tempMount();
  const procs = [];
  try {
    await writeTestConfig(paths, 1, { executor: { approval_commands: ['node'] } });
    await writePlan(paths, 'ask', ONE('node -e "process.exit(0)"'));
    procs.push(startBrain(paths), startAgent(paths, 0));
    await waitForAgents(paths, [0], 30_000);
    const batch = await submitPlan(paths.root, 'ask');
    const id = `${batch}__only`;
    const store = new TaskStore(paths);
    const parked = await waitFor('task parked', async () => {
      const r = await store.read('private', id);
      return r.ok && r.task.parked === 'approval' ? r.task : null;
    }, 30_000);
    assert.match(parked.parked_reason ?? '', /node/);
    const status = await execa(process.execPath, ['bin/forge', 'status', '--json', '--shared', paths.root]);
    assert.match(status.stdout, /waiting for approval/);
    await writeFile(join(paths.approvals, id), '');
    const rec = await waitForBatchEnd(paths, batch, 30_000);
    assert.equal(rec.state, 'complete');
    assert.match(await decisionText(paths), /APPROVED task=\S+__only/);
  } finally {
    await stopAll(procs);
    await cleanup();
  }
});

test('the launcher restarts a process that dies and stops everything on SIGTERM', async () => {
  const { paths, cleanup } = await tempMount();
  const port = await freePortRange(1);
  const rig = startRig(paths.root, 1, port, { quiet: true });
  try {
    await waitForAgents(paths, [0], 60_000);
    const first = (await readHeartbeat(paths, 0))!.pid;
    process.kill(first, 'SIGKILL');
    const second = await waitFor('agent restarted', async () => {
      const hb = await readHeartbeat(paths, 0);
      return hb && hb.pid !== first ? hb.pid : null;
    }, 30_000);
    assert.match(await decisionText(paths), /rig +RESTART — gpu-0 died \(signal SIGKILL\); restart 1 of 3/);
    rig.kill('SIGTERM');
    const r = await rig;
    assert.equal(r.exitCode, 0);
    assert.throws(() => process.kill(second, 0), 'the agent is gone after the launcher stopped');
    assert.match(await decisionText(paths), /rig +STOPPED/);
  } finally {
    rig.kill('SIGKILL');
    await cleanup();
  }
});
