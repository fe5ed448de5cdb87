// `npm run build` bundles: the launcher starts the brain, the agents and the simulator's Ollama
// from them, and agents start workers from them, while they are fresh; a stale bundle is never
// run. Built into a temporary folder (FORGE_DIST_DIR), so other tests' processes are untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { bundleIsFresh, nodeArgsFor, projectRoot } from '../../agents/core/entry.ts';
import { readHeartbeat } from '../../agents/core/heartbeat.ts';
import { batchDir } from '../../agents/core/paths.ts';
import { freePortRange } from '../../tools/harness/ports.ts';
import { startRig, submitPlan, waitForAgents, waitForBatchEnd } from '../../tools/harness/runRig.ts';
import { tempMount } from '../helpers/mount.ts';
import { writePlan } from '../helpers/rig.ts';

// The task writes its parent's command line: the worker that started it.
const PLAN = `# Parent\n\n## Goal\nShow which worker ran the task.\n\n## Tasks\n\n### who\n- **task_class**: cpu\n- **command**: \`sh -c 'tr "\\\\0" " " < /proc/$PPID/cmdline > "$1/parent.txt"' sh {BATCH_PATH}\`\n`;

const cmdline = async (pid: number) => (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ');

test('with fresh bundles the rig runs the brain, agents and workers from them; a changed source sends that entry back to tsx', async () => {
  const dist = await mkdtemp(join(tmpdir(), 'forge-dist-'));
  const { paths, cleanup } = await tempMount();
  process.env.FORGE_DIST_DIR = dist;
  let rig;
  try {
    const built = await execa(process.execPath, ['--import', 'tsx', 'scripts/build.ts', '--outdir', dist], { cwd: projectRoot, reject: false });
    assert.equal(built.exitCode, 0, String(built.stderr));
    for (const e of ['worker/main', 'brain/main', 'gpu/main', 'sim/ollama-main'] as const) {
      assert.ok(bundleIsFresh(e), `${e} is fresh after the build`);
      assert.deepEqual(nodeArgsFor(e), [join(dist, 'agents', `${e}.js`)]);
    }
    rig = startRig(paths.root, 1, await freePortRange(1), { quiet: true });
    await waitForAgents(paths, [0], 60_000);
    const agent = (await readHeartbeat(paths, 0))!;
    assert.match(await cmdline(agent.pid), new RegExp(`${dist}/agents/gpu/main\\.js`));
    await writePlan(paths, 'parent', PLAN);
    const batch = await submitPlan(paths.root, join(paths.plans, 'parent'));
    assert.equal((await waitForBatchEnd(paths, batch, 60_000)).state, 'complete');
    assert.match(await readFile(join(batchDir(paths, 'parent', batch), 'parent.txt'), 'utf8'), new RegExp(`${dist}/agents/worker/main\\.js`));
    // A bundle older than one of its sources is stale: that entry runs from TypeScript again.
    await utimes(join(dist, 'agents', 'sim', 'ollama-main.js'), new Date(0), new Date(0));
    assert.equal(bundleIsFresh('sim/ollama-main'), false);
  } finally {
    delete process.env.FORGE_DIST_DIR;
    rig?.kill('SIGTERM');
    await rig;
    await cleanup();
    await rm(dist, { recursive: true, force: true });
  }
});
