// `doctor --repair` while a rig runs never touches a live claim: it judges an agent by its
// heartbeats (the pid on the host that wrote it, and the seq moving), not by config.json, and
// waits for fresh heartbeats before calling a claim lost. Here one agent runs with a config of
// its own (`--config`) that the mount's config.json does not list. Every task runs exactly
// once (a ledger of one file per run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { submitPlan, waitFor, waitForAgents, waitForBatchEnd } from '../../tools/harness/runRig.ts';
import { readHeartbeat } from '../../agents/core/heartbeat.ts';
import { tempMount } from '../helpers/mount.ts';
import { startAgent, startBrain, stopAll, writePlan, writeTestConfig } from '../helpers/rig.ts';

const ROOT = join(import.meta.dirname, '../..');
const N = 16;
const plan = `# Ledger\n\n## Goal\nEach run leaves one file.\n\n## Tasks\n\n${Array.from({ length: N }, (_, i) =>
  `### t${i}\n- **task_class**: cpu\n- **command**: \`sh -c 'mkdir -p "$1/runs" && touch "$1/runs/$2.$$" && sleep 1.5' sh {BATCH_PATH} t${i}\`\n`).join('\n')}`;

test('doctor --repair during a running batch repairs no live claim; every task runs once', { timeout: 180_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  const procs = [];
  try {
    await writeTestConfig(paths, 2);
    const own = join(paths.root, 'gpu1-config.json');
    await writeFile(own, await readFile(paths.config));
    const mountConfig = JSON.parse(await readFile(paths.config, 'utf8')) as { gpus: unknown[] };
    await writeFile(paths.config, JSON.stringify({ ...mountConfig, gpus: mountConfig.gpus.slice(0, 1) }));
    await writePlan(paths, 'ledger', plan);
    procs.push(startBrain(paths), startAgent(paths, 0), startAgent(paths, 1, own));
    await waitForAgents(paths, [0, 1], 30_000);
    const batch = await submitPlan(paths.root, 'ledger');
    await waitFor('tasks running on gpu-1', async () => ((await readHeartbeat(paths, 1))?.active_tasks.length ? true : null), 30_000);
    const doctors = [];
    for (let i = 0; i < 2; i++) {
      const r = await execa(process.execPath, [join(ROOT, 'bin/forge'), 'doctor', '--repair', '--json', '--shared', paths.root], { cwd: ROOT, reject: false, timeout: 120_000 });
      doctors.push(r);
      const out = JSON.parse(String(r.stdout)) as { findings: Array<{ kind: string; subject: string }> };
      assert.deepEqual(out.findings.filter((f) => f.kind === 'LOST_TASK'), [], `doctor found no lost claim: ${String(r.stdout).slice(0, 2000)}`);
    }
    const rec = await waitForBatchEnd(paths, batch, 120_000);
    assert.equal(rec.state, 'complete');
    const runs = await readdir(join(paths.plans, 'ledger', 'batches', batch, 'runs'));
    const per = new Map<string, number>();
    for (const f of runs) per.set(f.split('.')[0]!, (per.get(f.split('.')[0]!) ?? 0) + 1);
    assert.equal(per.size, N);
    for (const [name, n] of per) assert.equal(n, 1, `${name} ran ${n} times`);
  } finally {
    await stopAll(procs);
    await cleanup();
  }
});
