// Hosts must mount the share at one path: task files hold absolute paths under the brain's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeBrainState, readBrainState } from '../../agents/core/batch.ts';
import { Brain } from '../../agents/brain/brain.ts';
import { loadConfig } from '../../agents/core/config.ts';
import { tempMount } from '../helpers/mount.ts';
import { startAgent, writeTestConfig } from '../helpers/rig.ts';

test('the brain says where it has the mount; an agent that has it elsewhere refuses to start (exit 3) and says what to do', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    await writeTestConfig(paths, 1);
    const config = await loadConfig(paths.config);
    const brain = new Brain({ paths, config, clock: { now: () => Date.now() }, say: () => {} });
    await brain.recover();
    assert.equal((await readBrainState(paths))?.shared_root, paths.root, 'written at start');

    await writeBrainState(paths, { active_batches: [], updated_at: new Date().toISOString(), brain_pid: 1, shared_root: '/mnt/forge' });
    const agent = await startAgent(paths, 0);
    assert.equal(agent.exitCode, 3, String(agent.stderr));
    assert.match(String(agent.stderr), /the brain uses this mount as \/mnt\/forge, this process as .*mount the share at the same path on every host/);
  } finally {
    await cleanup();
  }
});
