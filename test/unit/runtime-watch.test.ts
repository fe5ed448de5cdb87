import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RuntimeWatch } from '../../agents/gpu/runtimeWatch.ts';
import { LoadGate } from '../../agents/llm/loadGate.ts';
import { sameModel } from '../../agents/llm/ollamaRuntime.ts';
import type { LoadedModel, ModelRuntime } from '../../agents/llm/runtime.ts';
import { makeTask } from '../helpers/mount.ts';

/** A runtime that holds what it was told to load (the outermost thing, swapped). */
function fakeRuntime(): ModelRuntime & { calls: string[] } {
  let loaded: LoadedModel[] = [];
  const calls: string[] = [];
  return {
    url: 'http://fake', calls,
    listLoaded: async () => loaded,
    load: async (m) => { calls.push(`load ${m}`); loaded = [{ name: m, size_vram_mb: 5000, expires_at: null }]; },
    unload: async (m) => { calls.push(`unload ${m}`); loaded = loaded.filter((l) => l.name !== m); },
    generate: async () => ({ text: '', prompt_tokens: null, completion_tokens: null, duration_ms: 0, load_ms: null }),
    health: async () => ({ ok: true, reason: null }),
    sameModel,
  };
}

test('a load of another model swaps (unload first), measures the load, and a load the budget refuses never reaches the runtime', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'forge-rw-'));
  try {
    const rt = fakeRuntime();
    let t = 0;
    const log: string[] = [];
    const w = new RuntimeWatch({
      runtime: rt, loadGate: new LoadGate({ dir }), model: 'a:7b', swappable: true, clock: { now: () => (t += 100) }, modelLoadS: 10,
      refuseLoad: (m) => (m === 'big:70b' ? 'big:70b needs 42000 MB; this card\'s whole budget is 8000 MB' : null), log: async (what, _t, reason) => log.push(`${what} ${reason}`),
    });
    const meta = (model: string) => makeTask({ name: `load_${model.replace(/[^a-z0-9]/g, "")}`, type: 'load_llm', task_class: 'meta', executor: 'agent', model });
    assert.equal((await w.runModelTask(meta('a:7b'))).outcome, 'success');
    assert.deepEqual([w.held, w.modelMb, w.sizes['a:7b']], ['a:7b', 5000, 5000]);
    assert.ok(w.loadMs['a:7b']! > 0, 'the load was timed');
    assert.equal((await w.runModelTask(meta('b:7b'))).outcome, 'success');
    assert.deepEqual(rt.calls, ['load a:7b', 'unload a:7b', 'load b:7b']);
    assert.equal(w.held, 'b:7b');
    const refused = await w.runModelTask(meta('big:70b'));
    assert.deepEqual([refused.outcome, refused.failure_kind], ['unschedulable', 'app']);
    assert.match(refused.reason, /whole budget is 8000 MB/);
    assert.deepEqual(rt.calls, ['load a:7b', 'unload a:7b', 'load b:7b'], 'nothing loaded or unloaded for the refused model');
    assert.ok(log.some((l) => l.startsWith('UNLOAD swapping: unloading a:7b before loading b:7b')), log.join('\n'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a server that serves one model (openai) is never asked to load or unload; another model is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'forge-rw-'));
  try {
    const rt = fakeRuntime();
    await rt.load('a:7b');
    rt.calls.length = 0;
    const w = new RuntimeWatch({ runtime: rt, loadGate: new LoadGate({ dir }), model: 'a:7b', swappable: false, clock: { now: () => 0 }, modelLoadS: 10, log: async () => '' });
    await w.refresh();
    const unload = await w.runModelTask(makeTask({ name: 'u', type: 'unload_llm', task_class: 'meta', executor: 'agent', model: 'a:7b' }));
    assert.equal(unload.outcome, 'success');
    assert.equal(w.held, 'a:7b', 'still hot');
    const other = await w.runModelTask(makeTask({ name: 'l', type: 'load_llm', task_class: 'meta', executor: 'agent', model: 'b:7b' }));
    assert.equal(other.outcome, 'unschedulable');
    assert.match(other.reason, /serves a:7b only/);
    assert.deepEqual(rt.calls, []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
