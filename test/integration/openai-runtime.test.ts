// OpenAiRuntime against the simulator's OpenAI-compatible endpoints (as llama-server or vLLM
// would answer), and against small loopback servers for the answers the simulator never gives.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startSimOllama, type SimOllama } from '../../agents/sim/ollamaServer.ts';
import { OpenAiRuntime } from '../../agents/llm/openaiRuntime.ts';
import { OllamaRuntime } from '../../agents/llm/ollamaRuntime.ts';
import { runtimeFor } from '../../agents/llm/runtimeFor.ts';
import { rejectsWith } from '../helpers/runtimeSim.ts';

const MODEL = 'qwen2.5:7b';


/** A loopback server answering every request with this status and body text. */
async function fixedServer(status: number, body: string, contentType = 'application/json'): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(status, { 'content-type': contentType });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    }),
  };
}

describe('OpenAiRuntime against a simulator serving one model', () => {
  let sim: SimOllama;
  let rt: OpenAiRuntime;

  before(async () => {
    sim = await startSimOllama({ port: 0, serveModel: MODEL, loadDelayMs: 20 });
    await sim.ready;
    rt = new OpenAiRuntime(sim.url);
  });
  after(async () => {
    await sim.close();
  });

  test('runtimeFor picks the implementation by kind', () => {
    assert.ok(runtimeFor('openai', sim.url) instanceof OpenAiRuntime);
    assert.ok(runtimeFor('ollama', sim.url) instanceof OllamaRuntime);
  });

  test('generate: the text, the token counts, no load time; the same answer Ollama\'s API gives', async () => {
    const r = await rt.generate({ model: MODEL, prompt: 'Summarise the plan in one line.' });
    assert.match(r.text, /^sim\(qwen2\.5:7b\): Summarise the plan in one line\. \[[0-9a-f]{12}\]$/);
    assert.ok((r.prompt_tokens ?? 0) > 0 && (r.completion_tokens ?? 0) > 0, JSON.stringify(r));
    assert.equal(r.load_ms, null);
    const viaOllama = await new OllamaRuntime(sim.url).generate({ model: MODEL, prompt: 'Summarise the plan in one line.' });
    assert.equal(r.text, viaOllama.text);
    const withSystem = await rt.generate({ model: MODEL, prompt: 'Summarise the plan in one line.', system: 'Be brief.' });
    assert.notEqual(withSystem.text, r.text, 'the system message reaches the model');
  });

  test('generate with a schema gives JSON that fits it; format json gives a JSON object', async () => {
    const schema = {
      type: 'object',
      properties: { title: { type: 'string' }, year: { type: 'integer' }, tags: { type: 'array', items: { type: 'string' } }, kind: { enum: ['a', 'b'] } },
      required: ['title', 'year'],
    };
    const r = await rt.generate({ model: MODEL, prompt: 'Extract the film.', format: schema });
    const v = JSON.parse(r.text) as { title: unknown; year: unknown; tags: unknown; kind: unknown };
    assert.equal(typeof v.title, 'string');
    assert.ok(Number.isInteger(v.year));
    assert.ok(Array.isArray(v.tags) && v.tags.every((t) => typeof t === 'string'));
    assert.ok(v.kind === 'a' || v.kind === 'b');
    const j = JSON.parse((await rt.generate({ model: MODEL, prompt: 'Any JSON.', format: 'json' })).text) as { answer: unknown };
    assert.equal(typeof j.answer, 'string');
    const plain = await rt.generate({ model: MODEL, prompt: 'Any JSON.' });
    assert.throws(() => JSON.parse(plain.text), SyntaxError, 'without a format the answer is text');
  });

  test('listLoaded is the served model, with no size and no expiry; unload does nothing and succeeds', async () => {
    assert.deepEqual(await rt.listLoaded(), [{ name: MODEL, size_vram_mb: 0, expires_at: null }]);
    await rt.unload(MODEL);
    assert.deepEqual(await rt.listLoaded(), [{ name: MODEL, size_vram_mb: 0, expires_at: null }]);
  });

  test('load: the served model resolves; another is model_missing, saying what is served and what to change', async () => {
    await rt.load(MODEL);
    const err = await rejectsWith(rt.load('llama3:8b'), 'model_missing', /serves qwen2\.5:7b, not llama3:8b/);
    assert.match(err.message, new RegExp(`^OpenAI-compatible server at ${sim.url} serves`));
    assert.match(err.message, /serves the model it was started with; change the GPU's serve command or the task's model$/);
  });

  test('generate with a model the server does not serve is model_missing (HTTP 404)', async () => {
    const err = await rejectsWith(rt.generate({ model: 'llama3:8b', prompt: 'hi' }), 'model_missing', /llama3:8b.*not found.*serves qwen2\.5:7b.*\(HTTP 404\)/);
    assert.equal(err.status, 404);
  });

  test('health is ok; a closed port is unreachable, naming the URL', async () => {
    assert.deepEqual(await rt.health(), { ok: true, reason: null });
    const gone = await startSimOllama({ port: 0 });
    await gone.close();
    const dead = new OpenAiRuntime(gone.url);
    const h = await dead.health();
    assert.equal(h.ok, false);
    assert.match(h.reason ?? '', new RegExp(`OpenAI-compatible server at ${gone.url} is unreachable \\(ECONNREFUSED.*check health`));
    await rejectsWith(dead.generate({ model: MODEL, prompt: 'x' }), 'unreachable', /ECONNREFUSED.*generate with qwen2\.5:7b/);
    await rejectsWith(dead.listLoaded(), 'unreachable', /list loaded models/);
  });

  test('busy: 503 is "busy" and health is not ok', async () => {
    sim.setMode({ busy: true });
    try {
      const err = await rejectsWith(rt.generate({ model: MODEL, prompt: 'hi' }), 'busy', /server busy.*\(HTTP 503\)/);
      assert.equal(err.status, 503);
      const h = await rt.health();
      assert.equal(h.ok, false);
      assert.match(h.reason ?? '', /HTTP 503/);
    } finally {
      sim.setMode({ busy: false });
    }
  });

  test('slow: a short deadline is a timeout naming the URL; the caller\'s abort is "aborted"', async () => {
    sim.setMode({ slow_ms: 300 });
    try {
      const impatient = new OpenAiRuntime(sim.url, { requestTimeoutMs: 100, healthTimeoutMs: 100 });
      await rejectsWith(impatient.listLoaded(), 'timeout', new RegExp(`${sim.url}: no answer to list loaded models .* within 100 ms`));
      assert.equal((await impatient.health()).ok, false);
      const ac = new AbortController();
      const pending = rt.generate({ model: MODEL, prompt: 'hi', signal: ac.signal });
      setTimeout(() => ac.abort(), 50);
      await rejectsWith(pending, 'aborted', /generate with qwen2\.5:7b .* aborted/);
    } finally {
      sim.setMode({ slow_ms: 0 });
    }
  });

  test('refuse: a server that closes the connection is unreachable', async () => {
    sim.setMode({ refuse: true });
    try {
      await rejectsWith(rt.generate({ model: MODEL, prompt: 'hi' }), 'unreachable', /is unreachable/);
    } finally {
      sim.setMode({ refuse: false });
    }
  });
});

describe('OpenAiRuntime: loading, out of memory and malformed answers', () => {
  test('load waits while the server is still loading its model (503) and resolves once it lists it', async () => {
    const sim = await startSimOllama({ port: 0, serveModel: MODEL, loadDelayMs: 600 });
    try {
      const rt = new OpenAiRuntime(sim.url, { loadPollMs: 20 });
      const h = await rt.health();
      assert.equal(h.ok, false, 'not healthy while loading');
      assert.match(h.reason ?? '', /Loading model \(HTTP 503\)/);
      await rt.load(MODEL);
      assert.deepEqual((await rt.listLoaded()).map((m) => m.name), [MODEL]);
    } finally {
      await sim.close();
    }
  });

  test('a server still loading past loadTimeoutMs is a "timeout" naming the model', async () => {
    const sim = await startSimOllama({ port: 0, serveModel: MODEL, loadDelayMs: 5000 });
    try {
      const rt = new OpenAiRuntime(sim.url, { loadPollMs: 20, loadTimeoutMs: 150 });
      await rejectsWith(rt.load(MODEL), 'timeout', /still loading its model 150 ms into load qwen2\.5:7b/);
    } finally {
      await sim.close();
    }
  });

  test('a load the caller aborts while the server is still loading is "aborted"', async () => {
    const sim = await startSimOllama({ port: 0, serveModel: MODEL, loadDelayMs: 5000 });
    try {
      const rt = new OpenAiRuntime(sim.url, { loadPollMs: 20 });
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 100);
      await rejectsWith(rt.load(MODEL, { signal: ac.signal }), 'aborted', /load qwen2\.5:7b aborted/);
    } finally {
      await sim.close();
    }
  });

  test('a model that does not fit is oom, by the server\'s text (HTTP 500)', async () => {
    // Without a served model the simulator's /v1 loads on demand, as Ollama's own /v1 does.
    const sim = await startSimOllama({ port: 0, models: [MODEL] });
    sim.setMode({ oom: true });
    try {
      const err = await rejectsWith(new OpenAiRuntime(sim.url).generate({ model: MODEL, prompt: 'hi' }), 'oom', /cudaMalloc failed: out of memory.*\(HTTP 500\)/);
      assert.equal(err.status, 500);
    } finally {
      await sim.close();
    }
  });

  test('answers that are not what the API promises are bad_response; other errors are "server" with their text', async () => {
    const noChoices = await fixedServer(200, '{"choices": []}');
    const notJson = await fixedServer(200, '<html>hello</html>', 'text/html');
    const teapot = await fixedServer(400, '{"error": {"message": "messages: too long", "type": "invalid_request_error"}}');
    try {
      await rejectsWith(new OpenAiRuntime(noChoices.url).generate({ model: MODEL, prompt: 'x' }), 'bad_response', /without choices\[0\]\.message\.content/);
      await rejectsWith(new OpenAiRuntime(noChoices.url).listLoaded(), 'bad_response', /\/v1\/models answered without a data list/);
      await rejectsWith(new OpenAiRuntime(notJson.url).listLoaded(), 'bad_response', /malformed answer to list loaded models/);
      const err = await rejectsWith(new OpenAiRuntime(teapot.url).generate({ model: MODEL, prompt: 'x' }), 'server', /failed to generate with qwen2\.5:7b .*: messages: too long \(HTTP 400\)/);
      assert.equal(err.status, 400);
    } finally {
      await Promise.all([noChoices.close(), notJson.close(), teapot.close()]);
    }
  });
});
