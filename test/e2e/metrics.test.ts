// Metrics end to end: a real brain and two agents on simulated GPUs run a plan; the textfiles
// they write, and what `forge metrics` prints and serves, pass `promtool check metrics`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { submitPlan, waitFor, waitForAgents, waitForBatchEnd } from '../../tools/harness/runRig.ts';
import { tempMount } from '../helpers/mount.ts';
import { startAgent, startBrain, stopAll, writeTestConfig } from '../helpers/rig.ts';

const ROOT = join(import.meta.dirname, '../..');
const FORGE = join(ROOT, 'bin/forge');
const havePromtool = (await execa('promtool', ['--version'], { reject: false })).exitCode === 0;

/** promtool's verdict on a text: exit 0 and nothing printed, or what it said. */
async function promtoolCheck(text: string): Promise<{ code: number | undefined; said: string }> {
  const r = await execa('promtool', ['check', 'metrics'], { input: text, reject: false });
  return { code: r.exitCode, said: `${r.stdout}${r.stderr}`.trim() };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

test('brain and agent textfiles, and forge metrics, pass promtool check metrics', { skip: havePromtool ? false : 'promtool not installed (Debian package prometheus)' }, async () => {
  const { paths, cleanup } = await tempMount();
  const procs = [];
  try {
    await writeTestConfig(paths, 2);
    procs.push(startBrain(paths), startAgent(paths, 0), startAgent(paths, 1));
    await waitForAgents(paths, [0, 1], 30_000);
    const batch = await submitPlan(paths.root, join(ROOT, 'plans/video'), { COUNT: 4, WORK_MS: 20 });
    assert.equal((await waitForBatchEnd(paths, batch, 90_000)).state, 'complete');
    const file = (n: string) => join(paths.metrics, n);
    // The brain writes every few seconds; wait for a file that counts the batch's runs.
    const brain = await waitFor('brain.prom with the runs counted', async () => {
      const t = await readFile(file('brain.prom'), 'utf8').catch(() => '');
      return /^forge_task_run_seconds_count [1-9]/m.test(t) && t;
    }, 20_000, 250);
    const claimsIn = (t: string) => Number(/^forge_agent_claims_total\{[^}]*\} (\d+)$/m.exec(t)?.[1] ?? 0);
    // The agents write theirs each external cycle: wait for both, counting every claim (scan, 4 items, aggregate).
    const agents = await waitFor('both agents\' metrics with all 6 claims', async () => {
      const ts = await Promise.all(['agent-gpu-0.prom', 'agent-gpu-1.prom'].map((n) => readFile(file(n), 'utf8').catch(() => '')));
      return ts.every((t) => /^forge_gpu_temperature_celsius\{/m.test(t)) && claimsIn(ts[0]!) + claimsIn(ts[1]!) === 6 && ts;
    }, 20_000, 250);
    for (const [name, text] of [['brain.prom', brain], ['agent-gpu-0.prom', agents[0]!], ['agent-gpu-1.prom', agents[1]!]] as const) {
      assert.deepEqual(await promtoolCheck(text), { code: 0, said: '' }, name);
    }
    assert.match(agents.join(''), /^forge_agent_tasks_finished_total\{agent="gpu-\d",gpu="\d",outcome="success"\} [1-9]/m);
    assert.match(brain, /^forge_brain_actions_total\{action="retry"\} 0$/m);

    const printed = await execa(FORGE, ['metrics', '--shared', paths.root], { cwd: ROOT, reject: false });
    assert.equal(printed.exitCode, 0, printed.stderr);
    assert.deepEqual(await promtoolCheck(printed.stdout + '\n'), { code: 0, said: '' }, 'forge metrics');
    assert.match(printed.stdout, /^forge_metrics_file_age_seconds\{file="agent-gpu-1.prom"\} /m);

    const port = await freePort();
    const server = execa(FORGE, ['metrics', '--listen', String(port), '--shared', paths.root], { cwd: ROOT, reject: false });
    try {
      const res = await waitFor('the metrics server', () => fetch(`http://127.0.0.1:${port}/metrics`).catch(() => null), 20_000, 200);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
      assert.deepEqual(await promtoolCheck(await res.text()), { code: 0, said: '' }, 'served');
      const busy = await execa(FORGE, ['metrics', '--listen', String(port), '--shared', paths.root], { cwd: ROOT, reject: false });
      assert.equal(busy.exitCode, 1);
      assert.equal(busy.stderr, `forge metrics: cannot listen on 127.0.0.1:${port}: it is in use by another process; choose another --listen PORT`);
    } finally {
      server.kill('SIGTERM');
      const done = await server;
      assert.equal(done.exitCode, 0, done.stderr);
    }
  } finally {
    await stopAll(procs);
    await cleanup();
  }
});
