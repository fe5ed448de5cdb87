// The real `ollama` client (through OllamaRuntime) against the simulated Ollama server,
// and the load gate between real processes.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, mkdir, utimes, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Ollama } from 'ollama';
import { startSimOllama, type SimOllama } from '../../agents/sim/ollamaServer.ts';
import { OllamaRuntime } from '../../agents/llm/ollamaRuntime.ts';
import { LoadGate } from '../../agents/llm/loadGate.ts';
import { listeningUrl, rejectsWith } from '../helpers/runtimeSim.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MODEL = 'qwen2.5:7b';

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

async function waitFor(check: () => Promise<boolean>, what: string, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}


describe('sim ollama through OllamaRuntime', () => {
  let dir: string;
  let sim: SimOllama;
  let rt: OllamaRuntime;
  const procFile = () => join(dir, 'sim', 'procs', `${process.pid}.json`);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'forge-ollama-sim-'));
    sim = await startSimOllama({ port: 0, gpuIndex: 2, simDir: join(dir, 'sim'), loadDelayMs: 50, models: [MODEL, 'llama3.2:3b'] });
    rt = new OllamaRuntime(sim.url, { unloadWaitMs: 2000 });
  });
  after(async () => {
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('health and tags', async () => {
    assert.deepEqual(await rt.health(), { ok: true, reason: null });
    const tags = await new Ollama({ host: sim.url }).list();
    assert.deepEqual(tags.models.map((m) => m.name).sort(), ['llama3.2:3b', MODEL]);
  });

  test('load shows the model in ps with its size and registers the GPU process; unload removes both', async () => {
    assert.deepEqual(await rt.listLoaded(), []);
    const t0 = Date.now();
    await rt.load(MODEL);
    assert.ok(Date.now() - t0 >= 45, 'loading takes loadDelayMs');
    assert.deepEqual(await rt.listLoaded(), [{ name: MODEL, size_vram_mb: 4700, expires_at: null }]);
    const proc = JSON.parse(await readFile(procFile(), 'utf8'));
    assert.deepEqual(proc, { pid: process.pid, gpu_index: 2, used_mb: 4700, name: 'ollama' });

    await rt.load(MODEL); // loading a resident model is a no-op
    assert.equal((await rt.listLoaded()).length, 1);

    await rt.unload(MODEL);
    assert.deepEqual(await rt.listLoaded(), []);
    assert.equal(await exists(procFile()), false);
    await rt.unload(MODEL); // unloading what is not loaded succeeds
  });

  test('generate is deterministic and loads the model implicitly, keeping it resident', async () => {
    const a = await rt.generate({ model: MODEL, prompt: 'Summarise the plan in one line.' });
    const b = await rt.generate({ model: MODEL, prompt: 'Summarise the plan in one line.' });
    const c = await rt.generate({ model: MODEL, prompt: 'Something else' });
    assert.equal(a.text, b.text);
    assert.notEqual(a.text, c.text);
    assert.match(a.text, /^sim\(qwen2\.5:7b\): Summarise the plan in one line\. \[[0-9a-f]{12}\]$/);
    assert.ok(a.prompt_tokens && a.prompt_tokens > 0);
    assert.ok(a.completion_tokens && a.completion_tokens > 0);
    assert.ok(a.duration_ms >= 0);
    assert.deepEqual(await rt.listLoaded(), [{ name: MODEL, size_vram_mb: 4700, expires_at: null }]);
    await rt.unload(MODEL);
  });

  test('generate reports the load it waited for (load_duration), and none once the model is resident', async () => {
    await rt.unload(MODEL);
    const cold = await rt.generate({ model: MODEL, prompt: 'first' });
    assert.ok(cold.load_ms !== null && cold.load_ms >= 45, `load_ms ${cold.load_ms} for a 50 ms load`);
    const hot = await rt.generate({ model: MODEL, prompt: 'second' });
    assert.equal(hot.load_ms, null);
    await rt.unload(MODEL);
  });

  test('format: json and a schema give valid JSON that fits; BROKEN_JSON gives invalid JSON', async () => {
    const schema = {
      type: 'object',
      properties: {
        title: { type: 'string' },
        score: { type: 'number' },
        count: { type: 'integer' },
        ok: { type: 'boolean' },
        tags: { type: 'array', items: { type: 'string' } },
        kind: { type: 'string', enum: ['a', 'b'] },
      },
      required: ['title', 'score'],
    };
    const r = await rt.generate({ model: MODEL, prompt: 'extract', format: schema });
    const v = JSON.parse(r.text);
    assert.equal(typeof v.title, 'string');
    assert.equal(typeof v.score, 'number');
    assert.ok(Number.isInteger(v.count));
    assert.equal(typeof v.ok, 'boolean');
    assert.ok(Array.isArray(v.tags) && v.tags.every((t: unknown) => typeof t === 'string'));
    assert.ok(['a', 'b'].includes(v.kind));
    assert.equal((await rt.generate({ model: MODEL, prompt: 'extract', format: schema })).text, r.text);
    assert.equal(typeof JSON.parse((await rt.generate({ model: MODEL, prompt: 'x', format: 'json' })).text), 'object');
    const broken = await rt.generate({ model: MODEL, prompt: 'please BROKEN_JSON', format: 'json' });
    assert.throws(() => JSON.parse(broken.text), SyntaxError);
    await rt.unload(MODEL);
  });

  test('the raw client: streaming generate matches non-streaming, and chat answers', async () => {
    const client = new Ollama({ host: sim.url });
    const whole = await client.generate({ model: MODEL, prompt: 'stream me a fairly long answer please', stream: false });
    let streamed = '';
    let chunks = 0;
    for await (const part of await client.generate({ model: MODEL, prompt: 'stream me a fairly long answer please', stream: true })) {
      streamed += part.response;
      chunks += 1;
    }
    assert.equal(streamed, whole.response);
    assert.ok(chunks > 2, `streamed in ${chunks} chunks`);
    const chat = await client.chat({ model: MODEL, messages: [{ role: 'user', content: 'hello there' }] });
    assert.equal(chat.message.role, 'assistant');
    assert.match(chat.message.content, /^sim\(qwen2\.5:7b\): hello there/);
    await rt.unload(MODEL);
  });

  test('a finite keep_alive expires: the model unloads on its own', async () => {
    const client = new Ollama({ host: sim.url });
    await client.generate({ model: MODEL, prompt: '', keep_alive: '300ms' });
    const [m] = await rt.listLoaded();
    assert.ok(m && m.expires_at !== null, 'a finite keep_alive has an expiry');
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(await rt.listLoaded(), []);
    await waitFor(async () => !(await exists(procFile())), 'the procs file to go');
  });

  test('an unknown model is model_missing (404)', async () => {
    await rejectsWith(rt.generate({ model: 'nope:1b', prompt: 'hi' }), 'model_missing', /nope:1b.*not found.*HTTP 404/);
    await rt.unload('nope:1b'); // not loaded, so unloading succeeds
  });

  test('refuse: health is not ok and every call fails naming the URL; /sim/mode switches it back', async () => {
    sim.setMode({ refuse: true });
    try {
      const h = await rt.health();
      assert.equal(h.ok, false);
      assert.ok(h.reason?.includes(sim.url), h.reason ?? '');
      await rejectsWith(rt.generate({ model: MODEL, prompt: 'hi' }), 'unreachable', new RegExp(`Ollama at ${sim.url} is unreachable`));
      await rejectsWith(rt.load(MODEL), 'unreachable', /unreachable/);
      await rejectsWith(rt.listLoaded(), 'unreachable', /unreachable.*\/api\/ps/);
    } finally {
      // The control endpoint answers in every mode (another process could do this with curl).
      const res = await fetch(`${sim.url}/sim/mode`, { method: 'POST', body: JSON.stringify({ refuse: false }) });
      assert.equal(res.status, 200);
      assert.equal((await res.json()).refuse, false);
    }
    assert.equal((await rt.health()).ok, true);
  });

  test('a server that is not there at all is unreachable (ECONNREFUSED)', async () => {
    const gone = await startSimOllama({ port: 0 });
    await gone.close();
    const dead = new OllamaRuntime(gone.url);
    const h = await dead.health();
    assert.equal(h.ok, false);
    assert.match(h.reason ?? '', new RegExp(`Ollama at ${gone.url} is unreachable \\(ECONNREFUSED`));
    await rejectsWith(dead.generate({ model: MODEL, prompt: 'x' }), 'unreachable', /ECONNREFUSED/);
  });

  test('oom: the load fails with Ollama\'s out-of-memory text and nothing is registered', async () => {
    sim.setMode({ oom: true });
    try {
      const err = await rejectsWith(rt.load(MODEL), 'oom', /out of memory.*HTTP 500/);
      assert.equal(err.status, 500);
      await rejectsWith(rt.generate({ model: MODEL, prompt: 'hi' }), 'oom', /cudaMalloc failed/);
      assert.deepEqual(await rt.listLoaded(), []);
      assert.equal(await exists(procFile()), false);
    } finally {
      sim.setMode({ oom: false });
    }
  });

  test('slow: every answer is delayed, and a short deadline becomes a timeout naming the URL', async () => {
    sim.setMode({ slow_ms: 300 });
    try {
      const t0 = Date.now();
      assert.equal((await rt.health()).ok, true);
      assert.ok(Date.now() - t0 >= 290, `health took ${Date.now() - t0} ms`);
      const impatient = new OllamaRuntime(sim.url, { healthTimeoutMs: 100, requestTimeoutMs: 100 });
      const h = await impatient.health();
      assert.equal(h.ok, false);
      assert.match(h.reason ?? '', new RegExp(`Ollama at ${sim.url}: no answer to check health .* within 100 ms`));
      await rejectsWith(impatient.listLoaded(), 'timeout', /within 100 ms/);
      const ac = new AbortController();
      const pending = rt.generate({ model: MODEL, prompt: 'hi', signal: ac.signal });
      setTimeout(() => ac.abort(), 50);
      await rejectsWith(pending, 'aborted', /aborted/);
    } finally {
      sim.setMode({ slow_ms: 0 });
    }
  });

  test('busy: 503 with Ollama\'s text is "busy"', async () => {
    sim.setMode({ busy: true });
    try {
      await rejectsWith(rt.generate({ model: MODEL, prompt: 'hi' }), 'busy', /server busy.*HTTP 503/);
      assert.equal((await rt.health()).ok, false);
    } finally {
      sim.setMode({ busy: false });
    }
  });
});

test('ollama-main runs as a process, prints its URL, and cleans up on SIGTERM', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'forge-ollama-main-'));
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'agents/sim/ollama-main.ts', '--port', '0', '--gpu', '1', '--sim-dir', dir, '--model-size-mb', '1234'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    const url = await listeningUrl(child);
    const rt = new OllamaRuntime(url);
    await rt.load(MODEL);
    assert.deepEqual(await rt.listLoaded(), [{ name: MODEL, size_vram_mb: 1234, expires_at: null }]);
    const procs = await readdir(join(dir, 'procs'));
    assert.deepEqual(procs, [`${child.pid}.json`]);
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'procs', `${child.pid}.json`), 'utf8')), {
      pid: child.pid,
      gpu_index: 1,
      used_mb: 1234,
      name: 'ollama',
    });
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    assert.deepEqual(await readdir(join(dir, 'procs')), [], 'the procs file is removed on SIGTERM');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});

test('ollama-main refuses a bad option with its name', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'agents/sim/ollama-main.ts', '--port', 'x'], { cwd: ROOT });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const [code] = await once(child, 'exit');
  assert.equal(code, 2);
  assert.match(err, /--port must be an integer from 0 to 65535, got "x"/);
});

describe('LoadGate', () => {
  test('holders in separate processes never overlap', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'forge-loadgate-'));
    const log = join(dir, 'events.log');
    const code = `
      import { appendFileSync } from 'node:fs';
      import { LoadGate } from './agents/llm/loadGate.ts';
      const gate = new LoadGate({ dir: process.env.GATE_DIR, pollMs: 10 });
      for (let i = 0; i < 3; i++) {
        await gate.withLoadSlot(async () => {
          appendFileSync(process.env.GATE_LOG, 'enter ' + process.pid + '\\n');
          await new Promise((r) => setTimeout(r, 40));
          appendFileSync(process.env.GATE_LOG, 'exit ' + process.pid + '\\n');
        });
      }`;
    try {
      const children = Array.from({ length: 4 }, () =>
        spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
          cwd: ROOT,
          env: { ...process.env, GATE_DIR: join(dir, 'gpus'), GATE_LOG: log },
          stdio: ['ignore', 'inherit', 'inherit'],
        }),
      );
      const codes = await Promise.all(children.map(async (c) => (await once(c, 'exit'))[0]));
      assert.deepEqual(codes, [0, 0, 0, 0]);
      const lines = (await readFile(log, 'utf8')).trim().split('\n');
      assert.equal(lines.length, 4 * 3 * 2);
      for (let i = 0; i < lines.length; i += 2) {
        const [enter, pid] = lines[i]!.split(' ');
        assert.equal(enter, 'enter', `line ${i}: ${lines[i]}`);
        assert.equal(lines[i + 1], `exit ${pid}`, `line ${i + 1}: another holder entered before ${pid} left`);
      }
      assert.equal(await exists(join(dir, 'gpus', '.model-load.lock')), false, 'the lock is released');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a long hold is kept fresh and never taken over as stale; the waiter gets it after', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'forge-loadgate-'));
    try {
      // proper-lockfile's smallest stale time is 2 s; holding 2.6 s proves the refresh works.
      const a = new LoadGate({ dir, staleMs: 2000, updateMs: 500, pollMs: 20 });
      const b = new LoadGate({ dir, staleMs: 2000, updateMs: 500, pollMs: 20 });
      let aLeft = 0;
      let bEntered = 0;
      let waited = false;
      const first = a.withLoadSlot(async (lost) => {
        await new Promise((r) => setTimeout(r, 2600));
        assert.equal(lost.aborted, false);
        aLeft = Date.now();
      });
      await new Promise((r) => setTimeout(r, 50));
      const second = b.withLoadSlot(async () => {
        bEntered = Date.now();
      }, { onWait: () => (waited = true) });
      await Promise.all([first, second]);
      assert.ok(waited, 'the second caller had to wait');
      assert.ok(bEntered >= aLeft, 'the second holder entered only after the first left');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a lock left by a dead holder is taken over once stale; waiting can be aborted', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'forge-loadgate-'));
    try {
      const lock = join(dir, '.model-load.lock');
      await mkdir(lock);
      const gate = new LoadGate({ dir, staleMs: 60_000, pollMs: 20 });
      const ac = new AbortController();
      setTimeout(() => ac.abort(new Error('load task aborted')), 100);
      await assert.rejects(gate.withLoadSlot(async () => 1, { signal: ac.signal }), /load task aborted/);

      const old = new Date(Date.now() - 120_000);
      await utimes(lock, old, old);
      assert.equal(await gate.withLoadSlot(async () => 'got it'), 'got it');
      assert.equal(await exists(lock), false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the slot is released when the load throws', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'forge-loadgate-'));
    try {
      const gate = new LoadGate({ dir });
      await assert.rejects(gate.withLoadSlot(async () => { throw new Error('cudaMalloc failed'); }), /cudaMalloc failed/);
      assert.equal(await gate.withLoadSlot(async () => 'again'), 'again');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
