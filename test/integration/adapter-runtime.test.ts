// The adapter layer against the simulated Ollama over HTTP: a base name loads the version
// current.json names (blob pushed, model created, then loaded), the answer shows which adapter
// answered, a promotion shows as a pending switch and a reload moves to it, a version that
// cannot be made leaves the loaded one in place, and a bad current.json changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { currentFile, promoteVersion } from '../../agents/core/adapters.ts';
import { AdapterRuntime } from '../../agents/llm/adapterRuntime.ts';
import { OllamaRuntime } from '../../agents/llm/ollamaRuntime.ts';
import { startSimOllama } from '../../agents/sim/ollamaServer.ts';
import { writeAdapterVersion } from '../helpers/adapters.ts';
import { tempMount } from '../helpers/mount.ts';
import { rejectsWith } from '../helpers/runtimeSim.ts';

test('an agent runtime loads the current adapter version, answers with it, and moves to a promoted one on reload', async () => {
  const { paths, cleanup } = await tempMount();
  const sim = await startSimOllama({ port: 0, models: ['qwen2.5:7b'] });
  try {
    const d1 = await writeAdapterVersion(paths, 'qwen2.5:7b', 'support', 'v1');
    const d2 = await writeAdapterVersion(paths, 'qwen2.5:7b', 'support', 'v2');
    const now = () => Date.now();
    assert.ok((await promoteVersion(paths, 'qwen2.5:7b', { adapter: 'support', version: 'v1' }, { now, by: 'test' })).ok);
    const inner = new OllamaRuntime(sim.url);
    const bad: string[] = [];
    const rt = new AdapterRuntime(inner, { paths, known: () => ['qwen2.5:7b'], onBadFile: (p) => bad.push(p) });

    assert.equal(await rt.refreshCurrent(), true);
    await rt.load('qwen2.5:7b');
    assert.deepEqual(sim.loaded(), ['qwen2.5:7b-support-v1']);
    assert.deepEqual((await rt.listLoaded()).map((m) => m.name), ['qwen2.5:7b'], 'the agent sees the model by the name it asked for');
    const served = await rt.servedFor('qwen2.5:7b');
    assert.equal(served, 'qwen2.5:7b-support-v1');
    const answer = await inner.generate({ model: served, prompt: 'hello' });
    assert.match(answer.text, new RegExp(`^sim\\(qwen2\\.5:7b-support-v1 \\+adapter ${d1.slice(0, 12)}\\)`));

    assert.ok((await promoteVersion(paths, 'qwen2.5:7b', { adapter: 'support', version: 'v2' }, { now, by: 'test' })).ok);
    assert.equal(await rt.refreshCurrent(), true);
    assert.equal(await rt.refreshCurrent(), false, 'unchanged file: not read again');
    assert.deepEqual(rt.pendingSwitch('qwen2.5:7b') && { from: rt.pendingSwitch('qwen2.5:7b')!.from, to: rt.pendingSwitch('qwen2.5:7b')!.to },
      { from: 'qwen2.5:7b with support v1', to: 'qwen2.5:7b with support v2' });
    assert.equal(await rt.servedFor('qwen2.5:7b'), 'qwen2.5:7b-support-v1', 'until the reload, tasks run on what is loaded');
    await rt.load('qwen2.5:7b');
    assert.deepEqual(sim.loaded(), ['qwen2.5:7b-support-v2'], 'the old version unloaded, the new one loaded');
    assert.equal(rt.pendingSwitch('qwen2.5:7b'), null);
    assert.match((await inner.generate({ model: await rt.servedFor('qwen2.5:7b'), prompt: 'hello' })).text, new RegExp(`\\+adapter ${d2.slice(0, 12)}\\)`));

    // The agent's next life finds v2 loaded and knows it as its configured model, current.
    const next = new AdapterRuntime(inner, { paths, known: () => ['qwen2.5:7b'], onBadFile: (p) => bad.push(p) });
    await next.refreshCurrent();
    assert.deepEqual((await next.listLoaded()).map((m) => m.name), ['qwen2.5:7b']);
    assert.equal(next.pendingSwitch('qwen2.5:7b'), null);

    // A pinned version whose folder is missing: the plan's error; what is loaded stays.
    await rejectsWith(rt.load('qwen2.5:7b#support:v7'), 'model_missing', /adapter for qwen2\.5:7b with support v7: qwen2\.5:7b: no version v7 of adapter support/);
    assert.deepEqual(sim.loaded(), ['qwen2.5:7b-support-v2']);

    // A next life that finds the plain base loaded (from before the promotion) switches it.
    await inner.unload('qwen2.5:7b-support-v2');
    await inner.load('qwen2.5:7b');
    const third = new AdapterRuntime(inner, { paths, known: () => ['qwen2.5:7b'], onBadFile: (p) => bad.push(p) });
    await third.refreshCurrent();
    assert.deepEqual((await third.listLoaded()).map((m) => m.name), ['qwen2.5:7b']);
    assert.deepEqual(third.pendingSwitch('qwen2.5:7b') && [third.pendingSwitch('qwen2.5:7b')!.from, third.pendingSwitch('qwen2.5:7b')!.to], ['qwen2.5:7b (no adapter)', 'qwen2.5:7b with support v2']);

    await writeFile(currentFile(paths), '{"qwen2.5:7b": "v1"}');
    assert.equal(await rt.refreshCurrent(), false);
    assert.equal(rt.pendingSwitch('qwen2.5:7b'), null, 'a bad current.json changes nothing');
    assert.equal(bad.length, 1);
    assert.match(bad[0]!, /current\.json: not the current adapters .*; ignored: models keep the adapter versions they have$/);
  } finally {
    await sim.close();
    await cleanup();
  }
});

test('the simulated Ollama refuses a blob whose body does not hash to its digest, and a create naming a blob it lacks', async () => {
  const sim = await startSimOllama({ port: 0 });
  try {
    const digest = 'a'.repeat(64);
    const pushed = await fetch(`${sim.url}/api/blobs/sha256:${digest}`, { method: 'POST', body: 'x' });
    assert.equal(pushed.status, 400);
    assert.match(((await pushed.json()) as { error: string }).error, /^digest mismatch, expected "sha256:a{64}", got "sha256:[0-9a-f]{64}"$/);
    assert.equal((await fetch(`${sim.url}/api/blobs/sha256:${digest}`, { method: 'HEAD' })).status, 404);
    const created = await fetch(`${sim.url}/api/create`, { method: 'POST', body: JSON.stringify({ model: 'm-a-v1', from: 'qwen2.5:7b', adapters: { 'a.gguf': `sha256:${digest}` }, stream: false }) });
    assert.equal(created.status, 400);
    assert.match(((await created.json()) as { error: string }).error, /^adapter a\.gguf: blob sha256:a{64} not found; push it with POST/);
  } finally {
    await sim.close();
  }
});
