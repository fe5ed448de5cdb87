// Across machines, on the fan-out bed (test/helpers/netfsFanout.ts): the 100-item fan-out with an
// agent killed mid-batch, and with the brain's host lost mid-batch and a brain started on B,
// completes with every item run; an item runs again only as a recorded retry (the plain run is
// test/crosshost/netfs.test.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readBrainState } from '../../agents/core/batch.ts';
import { readHeartbeat } from '../../agents/core/heartbeat.ts';
import { Task } from '../../agents/core/task.ts';
import { netfsMissing } from '../helpers/netfs.ts';
import { type Fanout, startFanout } from '../helpers/netfsFanout.ts';

const missing = netfsMissing();
let fan: Fanout;

before(async () => {
  if (!missing) fan = await startFanout();
});

after(async () => {
  await fan?.stop();
});

test('an agent killed mid-batch: the batch completes; an item runs again only as a recorded retry of a run the rig lost with the agent', { skip: missing ?? false }, async () => {
  let killedPid = 0;
  const { runs, batchId } = await fan.runBatch(async (batchId) => {
    await fan.itemsStarted(batchId, 20);
    const beat = await readHeartbeat(fan.server, 3);
    assert.ok(beat, 'gpu-3 has a heartbeat');
    killedPid = beat.pid;
    process.kill(killedPid, 'SIGKILL');
  });
  assert.ok(killedPid > 0);
  const again = [...runs].filter(([, r]) => r.length > 1);
  // Every extra run is one the rig knew of: the task's record holds an attempt for each run,
  // each but the last a failure of the rig's (lost or killed with the agent), never its own.
  for (const [item, r] of again) {
    const id = `${batchId}__item.${Number(item.slice(1))}`;
    const task = Task.parse(JSON.parse(await readFile(join(fan.server.tasks, 'archive', batchId, `${id}.json`), 'utf8')));
    const earlier = task.attempts.slice(0, -1);
    assert.ok(task.attempts.length >= r.length && earlier.every((a) => a.failure_kind === 'infra'),
      `${item} ran ${r.length} times; its attempts: ${JSON.stringify(task.attempts.map((a) => [a.agent, a.outcome, a.failure_kind]))}${await fan.story(batchId, [item])}`);
    assert.ok(r.some((x) => x.host === 'C'), `${item} ran again only because of the agent killed on C`);
  }
});

test('the brain\'s host lost mid-batch, a brain started on B takes over: the batch completes, every item once', { skip: missing ?? false }, async () => {
  const { twice, why } = await fan.runBatch(async (batchId) => {
    await fan.itemsStarted(batchId, 10);
    // Host A goes away: its launcher first (it would restart the brain), then the brain.
    const state = await readBrainState(fan.server);
    fan.rig.launchers[0]!.kill('SIGKILL');
    if (state?.brain_pid) process.kill(state.brain_pid, 'SIGKILL');
    fan.rig.rig('B', ['--role', 'brain']);
  });
  assert.deepEqual(twice, [], `no item ran twice${why}`);
  assert.match(await readFile(fan.server.decisionLog, 'utf8'), /brain\s+TAKEOVER — took over .* from pid \d+ on A, whose lease was unchanged for/, 'the new brain said whose lease it took over');
});
