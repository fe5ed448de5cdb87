// resource_limits.max_workers bounds how many workers one agent runs, even for tasks that cost
// nothing against its VRAM budget (scripts estimated at 0 MB). Real processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { batchDir } from '../../agents/core/paths.ts';
import { submitPlan, waitForAgents, waitForBatchEnd } from '../../tools/harness/runRig.ts';
import { tempMount } from '../helpers/mount.ts';
import { startAgent, startBrain, stopAll, writePlan, writeTestConfig } from '../helpers/rig.ts';

const TASKS = ['t1', 't2', 't3', 't4', 't5', 't6'];
const PLAN = `# Free scripts\n\n## Goal\nSix GPU scripts that claim no memory.\n\n## Tasks\n\n` +
  TASKS.map((n) => `### ${n}\n- **task_class**: script\n- **vram_estimate_mb**: 0\n- **command**: \`node scripts/hold.mjs {BATCH_PATH}\`\n`).join('\n');
// Appends +1 when it starts and -1 when it ends, with the time: the overlap is read back.
const HOLD = `import { appendFileSync } from 'node:fs';
const log = process.argv[2] + '/overlap.log';
appendFileSync(log, Date.now() + ' +1\\n');
await new Promise((r) => setTimeout(r, 800));
appendFileSync(log, Date.now() + ' -1\\n');
`;

test('an agent runs at most max_workers workers at once, even when the tasks cost nothing against its budget', async () => {
  const { paths, cleanup } = await tempMount();
  const procs = [];
  try {
    await writeTestConfig(paths, 1, { resource_limits: { max_workers: 2 } });
    await writePlan(paths, 'free', PLAN, { 'hold.mjs': HOLD });
    procs.push(startBrain(paths), startAgent(paths, 0));
    await waitForAgents(paths, [0], 30_000);
    const batch = await submitPlan(paths.root, 'free');
    assert.equal((await waitForBatchEnd(paths, batch, 90_000)).state, 'complete');
    const events = (await readFile(join(batchDir(paths, 'free', batch), 'overlap.log'), 'utf8'))
      .trim().split('\n').map((l) => l.split(' ').map(Number) as [number, number])
      // At the same millisecond an end counts before a start: only a real overlap is counted.
      .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    assert.equal(events.length, 2 * TASKS.length);
    let now = 0;
    let most = 0;
    for (const [, d] of events) most = Math.max(most, (now += d));
    assert.equal(most, 2, 'two at a time: the cap, not the budget, is what limits them');
  } finally {
    await stopAll(procs);
    await cleanup();
  }
});
