// The simulator's speed model and request slots: exact generation times on a manual clock,
// then concurrency and residency through a real server (asserted through GET /sim/stats, not
// through timings), --serve-model, and ollama-main's command line as a process.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { GenerationSlots, rateOf, type SlotTimers } from '../../agents/sim/generationSlots.ts';
import { startSimOllama, type SimOllama, type SlotStats } from '../../agents/sim/ollamaServer.ts';
import { parseSimArgs } from '../../agents/sim/simArgs.ts';
import { OllamaRuntime } from '../../agents/llm/ollamaRuntime.ts';
import { listeningUrl } from '../helpers/runtimeSim.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MODEL = 'qwen2.5:7b';

/** A clock that moves only when told, firing due timers in time order. */
class ManualTimers implements SlotTimers {
  private t = 0;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();
  now = () => this.t;
  set = (fn: () => void, ms: number) => {
    const id = ++this.seq;
    this.pending.set(id, { at: this.t + ms, fn });
    return id;
  };
  clear = (h: unknown) => void this.pending.delete(h as number);
  /** Moves to time `to`, firing every timer due on the way (a fired timer may set another). */
  async advanceTo(to: number): Promise<void> {
    for (;;) {
      const due = [...this.pending.entries()].filter(([, p]) => p.at <= to).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = to;
    await new Promise((r) => setImmediate(r)); // let settled promises run their callbacks
  }
}

/** A generation whose settling can be looked at without awaiting it. */
function track(p: Promise<void>): { done: () => boolean; failed: () => unknown } {
  let done = false;
  let failed: unknown = null;
  p.then(() => (done = true), (err: unknown) => (failed = err));
  return { done: () => done, failed: () => failed };
}

describe('the speed model, on a manual clock', () => {
  const slots = (numParallel: number, timers: ManualTimers, closing = new AbortController().signal) =>
    new GenerationSlots({ tokS: 10, numParallel, closing, timers });

  test('one request alone: prompt_tokens / (10 × tok_s) + output_tokens / tok_s seconds', async () => {
    const timers = new ManualTimers();
    const a = track(slots(1, timers).generate(40, 20)); // 0.4 s reading, 2 s generating
    await timers.advanceTo(2399);
    assert.equal(a.done(), false);
    await timers.advanceTo(2400);
    assert.equal(a.done(), true);
  });

  test('two at once each generate at tok_s / 2^0.3; when one finishes the other speeds up', async () => {
    const timers = new ManualTimers();
    const s = slots(2, timers);
    const a = track(s.generate(0, 10));
    const b = track(s.generate(0, 20));
    const shared = (10 / rateOf(10, 2)) * 1000; // a's 10 tokens at the shared rate: 1231.1 ms
    assert.ok(Math.abs(shared - 1231.1) < 0.1, String(shared));
    await timers.advanceTo(Math.floor(shared));
    assert.deepEqual([a.done(), b.done()], [false, false]);
    await timers.advanceTo(Math.ceil(shared));
    assert.deepEqual([a.done(), b.done()], [true, false]);
    // b has 10 tokens left, now alone at the full 10 tok/s: one more second.
    await timers.advanceTo(Math.ceil(shared) + 999);
    assert.equal(b.done(), false);
    await timers.advanceTo(Math.ceil(shared) + 1001);
    assert.equal(b.done(), true);
    assert.deepEqual(s.stats(), { active: 0, queued: 0, max_active: 2, served: 2 });
  });

  test('with one slot the second request waits its turn (FIFO), and its wait is part of its time', async () => {
    const timers = new ManualTimers();
    const s = slots(1, timers);
    const a = track(s.generate(0, 10));
    const b = track(s.generate(0, 10));
    const c = track(s.generate(0, 10));
    assert.deepEqual(s.stats(), { active: 1, queued: 2, max_active: 1, served: 0 });
    await timers.advanceTo(1000);
    assert.deepEqual([a.done(), b.done(), c.done()], [true, false, false]);
    assert.deepEqual(s.stats(), { active: 1, queued: 1, max_active: 1, served: 1 });
    await timers.advanceTo(2000);
    assert.deepEqual([b.done(), c.done()], [true, false]);
    await timers.advanceTo(3000);
    assert.equal(c.done(), true);
  });

  test('a cancelled request gives its slot to the next; closing fails everything left with 503', async () => {
    const timers = new ManualTimers();
    const closing = new AbortController();
    const s = slots(1, timers, closing.signal);
    const cancel = new AbortController();
    const a = track(s.generate(0, 10, cancel.signal));
    const b = track(s.generate(0, 10));
    const c = track(s.generate(0, 10));
    await timers.advanceTo(500);
    cancel.abort();
    await timers.advanceTo(500);
    assert.match(String(a.failed()), /client closed the request/);
    assert.deepEqual(s.stats(), { active: 1, queued: 1, max_active: 1, served: 0 });
    await timers.advanceTo(1500);
    assert.equal(b.done(), true, 'b started when a left, at 500 ms');
    closing.abort();
    await timers.advanceTo(1500);
    assert.match(String(c.failed()), /server shutting down/);
    assert.deepEqual(s.stats(), { active: 0, queued: 0, max_active: 1, served: 1 });
  });
});

async function stats(sim: SimOllama): Promise<SlotStats> {
  return (await (await fetch(`${sim.url}/sim/stats`)).json()) as SlotStats;
}

async function waitForStats(sim: SimOllama, ok: (s: SlotStats) => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (let s = await stats(sim); !ok(s); s = await stats(sim)) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; stats ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function chat(sim: SimOllama, prompt: string, model = MODEL): Promise<Response> {
  return fetch(`${sim.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model, messages: [{ role: 'user', content: prompt }] }) });
}

describe('the simulator serving requests', () => {
  test('num_parallel 1: concurrent requests never overlap and are answered in arrival order', async () => {
    // Slow enough that a is still generating when c is sent, even on a loaded machine.
    const sim = await startSimOllama({ port: 0, serveModel: MODEL, tokS: 10 });
    try {
      await sim.ready;
      const order: string[] = [];
      const send = (name: string) => chat(sim, `request ${name}`).then(async (r) => {
        assert.equal(r.status, 200, await r.clone().text());
        order.push(name);
      });
      const a = send('a');
      await waitForStats(sim, (s) => s.active === 1, 'a to generate');
      // Each is sent once the one before has arrived (generating, queued or already served), so
      // the arrival order is a, b, c however slow the machine.
      const arrived = (s: SlotStats) => s.active + s.queued + s.served;
      const b = send('b');
      await waitForStats(sim, (s) => arrived(s) === 2, 'b to arrive');
      const c = send('c');
      await waitForStats(sim, (s) => arrived(s) === 3, 'c to arrive');
      await Promise.all([a, b, c]);
      assert.deepEqual(order, ['a', 'b', 'c']);
      assert.deepEqual(await stats(sim), { active: 0, queued: 0, max_active: 1, served: 3 });
    } finally {
      await sim.close();
    }
  });

  test('num_parallel 3: three concurrent requests generate at once', async () => {
    const sim = await startSimOllama({ port: 0, serveModel: MODEL, tokS: 10, numParallel: 3 });
    try {
      await sim.ready;
      const answers = Promise.all(['x', 'y', 'z'].map((p) => chat(sim, `request ${p}`)));
      await waitForStats(sim, (s) => s.active === 3, 'three requests generating');
      for (const r of await answers) assert.equal(r.status, 200);
      assert.deepEqual(await stats(sim), { active: 0, queued: 0, max_active: 3, served: 3 });
    } finally {
      await sim.close();
    }
  });

  test('a client that gives up frees its slot for the next request', async () => {
    const sim = await startSimOllama({ port: 0, serveModel: MODEL, tokS: 1 });
    try {
      await sim.ready;
      const ac = new AbortController();
      const first = fetch(`${sim.url}/v1/chat/completions`, {
        method: 'POST', body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'a long one' }] }), signal: ac.signal,
      });
      await waitForStats(sim, (s) => s.active === 1, 'the first to generate');
      ac.abort();
      await assert.rejects(first);
      await waitForStats(sim, (s) => s.active === 0, 'the slot to be free');
      assert.deepEqual(await stats(sim), { active: 0, queued: 0, max_active: 1, served: 0 });
    } finally {
      await sim.close();
    }
  });

  test('answer-tokens: a plain answer is lengthened to about N tokens, keeping its head; a JSON answer is not', async () => {
    const sim = await startSimOllama({ port: 0, answerTokens: 120 });
    try {
      const rt = new OllamaRuntime(sim.url);
      const plain = await rt.generate({ model: MODEL, prompt: 'Tell me about rain.' });
      assert.ok(plain.completion_tokens! >= 120 && plain.completion_tokens! <= 125, `${plain.completion_tokens} tokens`);
      assert.ok(plain.text.startsWith(`sim(${MODEL}): Tell me about rain. [`), plain.text.slice(0, 80));
      assert.equal((await rt.generate({ model: MODEL, prompt: 'Tell me about rain.' })).text, plain.text, 'deterministic');
      const json = await rt.generate({ model: MODEL, prompt: 'Facts.', format: 'json' });
      assert.ok(json.completion_tokens! < 40, `JSON stays short: ${json.completion_tokens}`);
    } finally {
      await sim.close();
    }
  });

  test('kv-mb: a loaded model holds its size plus the KV cache of each further slot, in /api/ps and the procs file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'forge-sim-speed-'));
    const sim = await startSimOllama({ port: 0, simDir: dir, gpuIndex: 1, modelSizeMb: 1000, numParallel: 4, kvMb: 256 });
    try {
      const rt = new OllamaRuntime(sim.url);
      await rt.load(MODEL);
      assert.deepEqual(await rt.listLoaded(), [{ name: MODEL, size_vram_mb: 1000 + 3 * 256, expires_at: null }]);
      const ps = (await (await fetch(`${sim.url}/api/ps`)).json()) as { models: Array<{ size_vram: number; size: number }> };
      assert.equal(ps.models[0]?.size_vram, 1768 * 1024 * 1024);
      assert.equal(ps.models[0]?.size, 1000 * 1024 * 1024, 'the file size does not grow with slots');
      const proc = JSON.parse(await readFile(join(dir, 'procs', `${process.pid}.json`), 'utf8')) as { used_mb: number };
      assert.equal(proc.used_mb, 1768);
    } finally {
      await sim.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('--serve-model: 503 "Loading model" until loaded; then only that model is listed, kept, and another is 404', async () => {
    const sim = await startSimOllama({ port: 0, serveModel: MODEL, loadDelayMs: 1500, models: ['llama3.2:3b'] });
    try {
      const loading = await fetch(`${sim.url}/health`);
      assert.equal(loading.status, 503);
      assert.equal(((await loading.json()) as { error: { message: string } }).error.message, 'Loading model');
      assert.equal((await chat(sim, 'too early')).status, 503);
      await sim.ready;
      const health = await fetch(`${sim.url}/health`);
      assert.deepEqual([health.status, await health.json()], [200, { status: 'ok' }]);
      // Ollama's API still works on the same port, and can load another model...
      const other = await fetch(`${sim.url}/api/generate`, { method: 'POST', body: JSON.stringify({ model: 'llama3.2:3b', prompt: 'hi', stream: false }) });
      assert.equal(other.status, 200);
      // ...but /v1 lists and serves only the served model, which no keep_alive unloads.
      await fetch(`${sim.url}/api/generate`, { method: 'POST', body: JSON.stringify({ model: MODEL, prompt: '', keep_alive: 0 }) });
      const models = (await (await fetch(`${sim.url}/v1/models`)).json()) as { data: Array<{ id: string }> };
      assert.deepEqual(models.data.map((m) => m.id), [MODEL]);
      assert.ok(sim.loaded().includes(MODEL), 'the served model stays loaded');
      const wrong = await chat(sim, 'hi', 'llama3.2:3b');
      assert.equal(wrong.status, 404);
      assert.match(((await wrong.json()) as { error: { message: string } }).error.message, /not found: this server serves qwen2\.5:7b/);
    } finally {
      await sim.close();
    }
  });

  test('/v1/chat/completions honours response_format and counts tokens in usage', async () => {
    const sim = await startSimOllama({ port: 0, serveModel: MODEL });
    try {
      await sim.ready;
      const ask = async (response_format: unknown) => {
        const r = await fetch(`${sim.url}/v1/chat/completions`, {
          method: 'POST',
          body: JSON.stringify({ model: MODEL, messages: [{ role: 'system', content: 'JSON only' }, { role: 'user', content: 'the film' }], response_format }),
        });
        return { status: r.status, body: (await r.json()) as { choices: Array<{ message: { content: string } }>; usage: Record<string, number>; error?: { message: string } } };
      };
      const schema = { type: 'object', properties: { year: { type: 'integer' } }, required: ['year'] };
      const withSchema = await ask({ type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } });
      assert.ok(Number.isInteger((JSON.parse(withSchema.body.choices[0]!.message.content) as { year: unknown }).year));
      const { usage } = withSchema.body;
      assert.ok(usage.prompt_tokens! > 0 && usage.completion_tokens! > 0);
      assert.equal(usage.total_tokens, usage.prompt_tokens! + usage.completion_tokens!);
      const anyJson = await ask({ type: 'json_object' });
      assert.equal(typeof (JSON.parse(anyJson.body.choices[0]!.message.content) as { answer: unknown }).answer, 'string');
      const bad = await ask({ type: 'yaml' });
      assert.equal(bad.status, 400);
      assert.match(bad.body.error?.message ?? '', /response_format\.type must be one of text, json_object, json_schema; got "yaml"/);
    } finally {
      await sim.close();
    }
  });
});

describe('ollama-main command line', () => {
  test('the options as parsed, and every problem at once naming the option and the value', () => {
    assert.deepEqual(parseSimArgs(['--port', '0', '--tok-s', '12.5', '--num-parallel', '4', '--kv-mb', '256', '--serve-model', MODEL]), {
      kind: 'run', options: { port: 0, tokS: 12.5, numParallel: 4, kvMb: 256, serveModel: MODEL },
    });
    assert.deepEqual(parseSimArgs(['--help']), { kind: 'help' });
    assert.deepEqual(parseSimArgs(['--tok-s', '0', '--num-parallel', '65', '--kv-mb=-1', '--gpu', '1.5']), {
      kind: 'error',
      problems: [
        '--port is required (0 picks a free port)',
        '--gpu must be an integer of at least 0, got "1.5"',
        '--tok-s must be a number above 0, e.g. 200, got "0"',
        '--num-parallel must be an integer from 1 to 64, got "65"',
        '--kv-mb must be an integer of at least 0, got "-1"',
      ],
    });
    assert.deepEqual(parseSimArgs(['--port', '1', '--tok-s', 'fast']), { kind: 'error', problems: ['--tok-s must be a number above 0, e.g. 200, got "fast"'] });
    assert.equal(parseSimArgs(['--port', '1', '--speed', '3']).kind, 'error');
  });

  test('--help prints the usage and exits 0', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'agents/sim/ollama-main.ts', '--help'], { cwd: ROOT });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    for (const option of ['--port', '--serve-model', '--tok-s', '--num-parallel', '--kv-mb']) assert.ok(out.includes(option), `usage names ${option}`);
  });

  test('with --serve-model it prints "listening" only once the model is loaded', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'agents/sim/ollama-main.ts', '--port', '0', '--serve-model', MODEL, '--load-delay-ms', '300', '--tok-s', '500', '--num-parallel', '2'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const url = await listeningUrl(child);
      assert.equal((await fetch(`${url}/health`)).status, 200, 'ready when it says so');
      const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: Array<{ id: string }> };
      assert.deepEqual(models.data.map((m) => m.id), [MODEL]);
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      assert.equal(code, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
