// Adapter versions on a simulated rig, driven by the real commands: current.json names v1 and
// a generate task is answered by v1; `forge adapters promote` makes v2 current and the next
// task is answered by v2 (the hot agent switched between tasks); `forge adapters rollback`
// and the next is answered by v1 again. The simulated Ollama's answers carry the adapter's digest.
// Then the nightly chain (plans/nightly-adapter) trains v3 from those answers' samples,
// evaluates it against v1 and promotes it, since it scores higher; run again, its v4 is no
// better, its gate says no and the promotion is skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultGpus } from '../../agents/core/config.ts';
import { batchDir } from '../../agents/core/paths.ts';
import { startSimOllama } from '../../agents/sim/ollamaServer.ts';
import { freePortRange } from '../../tools/harness/ports.ts';
import { submitPlan, waitFor, waitForAgents, waitForBatchEnd } from '../../tools/harness/runRig.ts';
import { fileURLToPath } from 'node:url';
import { writeAdapterVersion } from '../helpers/adapters.ts';
import { decisionText, tempMount } from '../helpers/mount.ts';
import { forge, startAgent, startBrain, stopAll, writePlan, writeTestConfig } from '../helpers/rig.ts';

const NIGHTLY = fileURLToPath(new URL('../../plans/nightly-adapter/', import.meta.url));
const PLAN = '# Ask\n\n## Tasks\n\n### ask\n- **type**: generate\n- **prompt**: Say hello.\n';

test('agents answer with the adapter version the mount names: v1, then v2 after a promotion, then v1 after a rollback', async () => {
  const { paths, cleanup } = await tempMount();
  const procs = [];
  const base = await freePortRange(1);
  const sim = await startSimOllama({ port: base, gpuIndex: 0, simDir: paths.sim, models: ['qwen2.5:7b'] });
  try {
    await writeTestConfig(paths, 1, { gpus: defaultGpus(1, base), heat_dwell_s: 0 });
    const d1 = await writeAdapterVersion(paths, 'qwen2.5:7b', 'support', 'v1', { score: 0.3 });
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
      [['qwen2.5:7b', 'v2', 1, [['support', [['v1', false, 0.3], ['v2', true, 0.8]]]]]]);

    const back = await adapters('rollback', 'qwen2.5:7b');
    assert.equal(back.stdout, 'qwen2.5:7b: support v2 rolled back to support v1');
    assert.equal(byVersion(await answer()), 'v1');

    const log = await decisionText(paths);
    assert.match(log, /ADAPTER .*qwen2\.5:7b: adapters\/current\.json names qwen2\.5:7b with support v2; switching from qwen2\.5:7b with support v1/);
    assert.match(log, /PROMOTE .*qwen2\.5:7b: support v2 is current \(was support v1\)/);
    assert.match(log, /ROLLBACK .*qwen2\.5:7b: support v2 rolled back to support v1/);
    assert.deepEqual(sim.loaded(), ['qwen2.5:7b-support-v1'], 'one version resident at a time');

    // The chain: the brain has merged the answers' samples (two distinct ones: v1's and v2's).
    await waitFor('the training samples merged', async () => (await readFile(join(paths.root, 'logs', 'training_samples.jsonl'), 'utf8').catch(() => '')).split('\n').filter(Boolean).length >= 3, 20_000);
    const night = await submitPlan(paths.root, NIGHTLY, { BASE: 'qwen2.5:7b', ADAPTER: 'support' });
    const rec = await waitForBatchEnd(paths, night, 60_000);
    assert.equal(rec.state, 'complete', `nightly batch: failed ${rec.failed_tasks.join(', ')}`);
    const out = (name: string) => readFile(join(batchDir(paths, 'nightly-adapter', night), 'outputs', `${name}.json`), 'utf8').then((t) => JSON.parse(t) as Record<string, unknown>);
    assert.deepEqual(await out('train'), { base: 'qwen2.5:7b', adapter: 'support', version: 'v3', score: 0.5, samples: 2 });
    assert.deepEqual(await out('evaluate'), {
      proceed: true, reason: 'support v3 scores 0.5, better than the current support v1 (0.3)',
      new: { base: 'qwen2.5:7b', adapter: 'support', version: 'v3', score: 0.5, samples: 2 }, current: { adapter: 'support', version: 'v1', score: 0.3 },
    });
    assert.equal((await out('promote')).message, 'qwen2.5:7b: support v3 is current (was support v1)');
    const current = JSON.parse(await readFile(join(paths.root, 'adapters', 'current.json'), 'utf8')) as Record<string, { version: string; by: string }>;
    assert.deepEqual([current['qwen2.5:7b']?.version, current['qwen2.5:7b']?.by], ['v3', `${night}__promote`]);

    // Again, from the same samples: v4 scores the same, not better, so the gate says no and
    // promote is skipped; the batch still completes and v3 stays current.
    const again = await submitPlan(paths.root, NIGHTLY, { BASE: 'qwen2.5:7b', ADAPTER: 'support' });
    const rec2 = await waitForBatchEnd(paths, again, 60_000);
    assert.equal(rec2.state, 'complete');
    const verdict = JSON.parse(await readFile(join(batchDir(paths, 'nightly-adapter', again), 'outputs', 'evaluate.json'), 'utf8')) as { proceed: boolean; reason: string };
    assert.deepEqual([verdict.proceed, verdict.reason], [false, 'support v4 scores 0.5, not better than the current support v3 (0.5)']);
    assert.deepEqual(Object.values(rec2.skipped_by_gate).map((g) => g.tasks), [[`${again}__promote`]]);
    const still = JSON.parse(await readFile(join(paths.root, 'adapters', 'current.json'), 'utf8')) as Record<string, { version: string }>;
    assert.equal(still['qwen2.5:7b']?.version, 'v3');

    const wrong = await adapters('promote', 'qwen2.5:7b', 'support', 'v9');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^forge adapters promote: qwen2\.5:7b: no version v9 of adapter support \(/);
  } finally {
    await stopAll(procs);
    await sim.close();
    await cleanup();
  }
});
