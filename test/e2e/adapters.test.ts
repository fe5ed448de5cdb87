// Adapter versions on a simulated rig, driven by the real commands: current.json names v1 and
// a generate task is answered by v1; `forge adapters promote` makes v2 current and the next
// task is answered by v2 (the hot agent switched between tasks); `forge adapters rollback`
// and the next is answered by v1 again. The simulated Ollama's answers carry the adapter's digest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultGpus } from '../../agents/core/config.ts';
import { batchDir } from '../../agents/core/paths.ts';
import { startSimOllama } from '../../agents/sim/ollamaServer.ts';
import { freePortRange } from '../../tools/harness/ports.ts';
import { submitPlan, waitForAgents, waitForBatchEnd } from '../../tools/harness/runRig.ts';
import { writeAdapterVersion } from '../helpers/adapters.ts';
import { decisionText, tempMount } from '../helpers/mount.ts';
import { forge, startAgent, startBrain, stopAll, writePlan, writeTestConfig } from '../helpers/rig.ts';

const PLAN = '# Ask\n\n## Tasks\n\n### ask\n- **type**: generate\n- **prompt**: Say hello.\n';

test('agents answer with the adapter version the mount names: v1, then v2 after a promotion, then v1 after a rollback', async () => {
  const { paths, cleanup } = await tempMount();
  const procs = [];
  const base = await freePortRange(1);
  const sim = await startSimOllama({ port: base, gpuIndex: 0, simDir: paths.sim, models: ['qwen2.5:7b'] });
  try {
    await writeTestConfig(paths, 1, { gpus: defaultGpus(1, base), heat_dwell_s: 0 });
    const d1 = await writeAdapterVersion(paths, 'qwen2.5:7b', 'support', 'v1', { score: 0.5 });
    const d2 = await writeAdapterVersion(paths, 'qwen2.5:7b', 'support', 'v2', { score: 0.8 });
    const adapters = (...args: string[]) => forge('adapters', ...args, '--shared', paths.root);
    const promoted = await adapters('promote', 'qwen2.5:7b', 'support', 'v1');
    assert.equal(promoted.code, 0, promoted.stderr);
    assert.equal(promoted.stdout, 'qwen2.5:7b: support v1 is current (was no adapter)');
    await writePlan(paths, 'ask', PLAN);
    procs.push(startBrain(paths), startAgent(paths, 0));
    await waitForAgents(paths, [0], 30_000);

    const answer = async () => {
      const batch = await submitPlan(paths.root, 'ask');
      const rec = await waitForBatchEnd(paths, batch, 60_000);
      assert.equal(rec.state, 'complete', `batch ${batch}: failed ${rec.failed_tasks.join(', ')}`);
      return (JSON.parse(await readFile(join(batchDir(paths, 'ask', batch), 'outputs', 'ask.json'), 'utf8')) as { text: string }).text;
    };
    const byVersion = (text: string) => (text.includes(`+adapter ${d1.slice(0, 12)}`) ? 'v1' : text.includes(`+adapter ${d2.slice(0, 12)}`) ? 'v2' : `neither: ${text}`);

    const first = await answer();
    assert.match(first, /^sim\(qwen2\.5:7b-support-v1 \+adapter /);
    assert.equal(byVersion(first), 'v1');

    const p2 = await adapters('promote', 'qwen2.5:7b', 'support', 'v2');
    assert.equal(p2.stdout, 'qwen2.5:7b: support v2 is current (was support v1)');
    assert.equal(byVersion(await answer()), 'v2');

    const listed = JSON.parse((await adapters('--json')).stdout) as { bases: Array<{ base: string; current: { version: string; previous: unknown[] }; adapters: Array<{ name: string; versions: Array<{ version: string; current: boolean; score: number }> }> }> };
    assert.deepEqual(listed.bases.map((b) => [b.base, b.current.version, b.current.previous.length, b.adapters.map((a) => [a.name, a.versions.map((v) => [v.version, v.current, v.score])])]),
      [['qwen2.5:7b', 'v2', 1, [['support', [['v1', false, 0.5], ['v2', true, 0.8]]]]]]);

    const back = await adapters('rollback', 'qwen2.5:7b');
    assert.equal(back.stdout, 'qwen2.5:7b: support v2 rolled back to support v1');
    assert.equal(byVersion(await answer()), 'v1');

    const log = await decisionText(paths);
    assert.match(log, /ADAPTER .*qwen2\.5:7b: adapters\/current\.json names qwen2\.5:7b with support v2; switching from qwen2\.5:7b with support v1/);
    assert.match(log, /PROMOTE .*qwen2\.5:7b: support v2 is current \(was support v1\)/);
    assert.match(log, /ROLLBACK .*qwen2\.5:7b: support v2 rolled back to support v1/);
    assert.deepEqual(sim.loaded(), ['qwen2.5:7b-support-v1'], 'one version resident at a time');

    const wrong = await adapters('promote', 'qwen2.5:7b', 'support', 'v9');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^forge adapters promote: qwen2\.5:7b: no version v9 of adapter support \(/);
  } finally {
    await stopAll(procs);
    await sim.close();
    await cleanup();
  }
});
