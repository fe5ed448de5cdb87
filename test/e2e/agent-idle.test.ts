// An idle agent reads its GPU once per external cycle, without the compute-apps query; work
// brings back the fast reading, with processes, at once. Counted through a logging wrapper
// around the simulated nvidia-smi.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { simNvidiaSmiPath } from '../../agents/sim/simState.ts';
import { submitPlan, waitFor, waitForAgents, waitForBatchEnd } from '../../tools/harness/runRig.ts';
import { tempMount } from '../helpers/mount.ts';
import { startAgent, startBrain, stopAll, writePlan, writeTestConfig } from '../helpers/rig.ts';

const PLAN = `# Sleep\n\n## Goal\nHold a worker for a while.\n\n## Tasks\n\n### nap\n- **task_class**: cpu\n- **command**: \`node -e "setTimeout(() => {}, 1500)"\`\n`;

async function calls(log: string): Promise<{ gpu: number; apps: number }> {
  const lines = (await readFile(log, 'utf8').catch(() => '')).split('\n');
  return { gpu: lines.filter((l) => l.includes('--query-gpu')).length, apps: lines.filter((l) => l.includes('--query-compute-apps')).length };
}

test('an idle agent reads its GPU once per external cycle and skips the process list; queued work brings both back', async () => {
  const { paths, cleanup } = await tempMount();
  const procs = [];
  try {
    const log = join(paths.root, 'smi-calls.log');
    const wrapper = join(paths.root, 'nvidia-smi');
    await writeFile(wrapper, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec '${simNvidiaSmiPath()}' "$@"\n`);
    await chmod(wrapper, 0o755);
    // 0.25 s internal cycle: 12 cycles in the 3 s below; the external cycle is 2 s.
    await writeTestConfig(paths, 1, { nvidia_smi: wrapper, cycles: { internal_s: 0.25, external_s: 2 } });
    await writePlan(paths, 'sleep', PLAN);
    procs.push(startAgent(paths, 0));
    await waitForAgents(paths, [0], 30_000);
    const start = await calls(log);
    await new Promise((r) => setTimeout(r, 3000));
    const idle = await calls(log);
    assert.ok(idle.gpu - start.gpu <= 2, `idle for 3 s: ${idle.gpu - start.gpu} GPU readings (at most one per 2 s external cycle)`);
    assert.equal(idle.apps, 0, 'no compute-apps query while no worker runs');
    procs.push(startBrain(paths));
    const batch = await submitPlan(paths.root, 'sleep');
    await waitFor('the worker measured', async () => ((await calls(log)).apps > 0 ? true : null), 30_000);
    assert.equal((await waitForBatchEnd(paths, batch, 60_000)).state, 'complete');
  } finally {
    await stopAll(procs);
    await cleanup();
  }
});
