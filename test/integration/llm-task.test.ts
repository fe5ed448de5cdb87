// generate and parse tasks against the simulated Ollama, and the training samples of many
// concurrent writer processes, each left as a file of its own and merged by the brain.
import { existsSync } from 'node:fs';
import http from 'node:http';
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Task, WorkerResult, type TaskInput } from '../../agents/core/task.ts';
import { startSimOllama, type SimOllama } from '../../agents/sim/ollamaServer.ts';
import { runLlmTask, findSchemaMismatch, checkAnswer } from '../../agents/worker/llmTask.ts';
import { DecisionLog } from '../../agents/core/decisionLog.ts';
import { ensureMount, mountPaths } from '../../agents/core/paths.ts';
import { LogMerger } from '../../agents/brain/logMerge.ts';
import { parseWorkerStdout } from '../../agents/core/workerProtocol.ts';
import { nodeArgsFor } from '../../agents/core/entry.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MODEL = 'qwen2.5:7b';

const SCHEMA = {
  type: 'object',
  properties: {
    title: { type: 'string' },
    year: { type: 'integer' },
    rating: { type: 'number' },
    tags: { type: 'array', items: { type: 'string' } },
  },
  required: ['title', 'year'],
};

function makeTask(batchPath: string, over: Partial<TaskInput>): Task {
  const name = over.name ?? 'summarise';
  return Task.parse({
    id: `b1__${name}`,
    batch: 'b1',
    plan: 'demo',
    name,
    type: 'generate',
    task_class: 'llm',
    command: null,
    argv: null,
    cwd: batchPath,
    batch_path: batchPath,
    vram_estimate_mb: 0,
    timeout_s: 30,
    max_attempts: 3,
    attempt: 1,
    created_at: new Date().toISOString(),
    prompt: 'Write one line about GPUs.',
    model: MODEL,
    ...over,
  });
}

/** Every sample the workers left in the spool folder: one file each, one whole line each. */
async function samples(dir: string): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  for (const name of (await readdir(dir).catch(() => [])).sort()) {
    assert.ok(name.endsWith('.jsonl') && !name.startsWith('.'), `only sample files in the spool: ${name}`);
    const text = await readFile(join(dir, name), 'utf8');
    assert.equal(text.split('\n').length, 2, `${name}: one line`);
    out.push(JSON.parse(text) as Record<string, unknown>);
  }
  return out;
}

describe('runLlmTask', () => {
  let dir: string;
  let sim: SimOllama;
  let batch: string;
  let samplesDir: string;
  const ctx = () => ({ ollamaUrl: sim.url, trainingSamplesDir: samplesDir, startedAt: Date.now(), env: {} });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'forge-llm-task-'));
    sim = await startSimOllama({ port: 0, models: [MODEL] });
    batch = join(dir, 'plans', 'demo', 'batches', 'b1');
    samplesDir = join(dir, 'logs', 'spool', 'samples');
  });
  after(async () => {
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('generate: success with the text as output, written to outputs/<name>.json as {"text"} (the convention every LLM task shares), and one training sample', async () => {
    const task = makeTask(batch, { name: 'gen1' });
    const r = await runLlmTask(task, ctx());
    WorkerResult.parse(r);
    assert.equal(r.outcome, 'success', r.reason ?? '');
    assert.equal(r.failure_kind, null);
    assert.equal(r.task_id, 'b1__gen1');
    assert.equal(r.attempt, 1);
    const text = (r.output as { text: string }).text;
    assert.match(text, /^sim\(qwen2\.5:7b\): Write one line about GPUs\./);
    assert.deepEqual(JSON.parse(await readFile(join(batch, 'outputs', 'gen1.json'), 'utf8')), { text });
    assert.equal(existsSync(join(batch, 'outputs', 'gen1.txt')), false);
    // The request's cost on the result: the simulator counts tokens as Ollama does.
    assert.equal(r.llm?.model, MODEL);
    assert.ok((r.llm?.prompt_tokens ?? 0) > 0 && (r.llm?.output_tokens ?? 0) > 0, JSON.stringify(r.llm));
    assert.ok((r.llm?.request_ms ?? -1) >= 0);
    const [s] = (await samples(samplesDir)).filter((x) => x.task_id === 'b1__gen1');
    assert.deepEqual({ ...s, ts: 'x' }, {
      ts: 'x', task_id: 'b1__gen1', batch: 'b1', model: MODEL, type: 'generate', prompt: 'Write one line about GPUs.', response: text, ok: true,
    });
    // Same prompt, same answer.
    const again = await runLlmTask(makeTask(batch, { name: 'gen1b' }), ctx());
    assert.equal((again.output as { text: string }).text, text);
  });

  test('generate: with no model on the task the agent\'s FORGE_AGENT_MODEL is used; with neither it is an error', async () => {
    const ok = await runLlmTask(makeTask(batch, { name: 'gen2', model: null }), { ...ctx(), env: { FORGE_AGENT_MODEL: MODEL } });
    assert.equal(ok.outcome, 'success', ok.reason ?? '');
    const none = await runLlmTask(makeTask(batch, { name: 'gen3', model: null }), ctx());
    assert.equal(none.outcome, 'error');
    assert.equal(none.failure_kind, 'infra');
    assert.match(none.reason ?? '', /task names no model and FORGE_AGENT_MODEL is not set/);
  });

  test('generate: an empty prompt fails the task (to Ollama it would mean "load")', async () => {
    const r = await runLlmTask(makeTask(batch, { name: 'gen4', prompt: '  ' }), ctx());
    assert.equal(r.outcome, 'failed');
    assert.equal(r.failure_kind, 'app');
    assert.match(r.reason ?? '', /generate task has no prompt/);
  });

  test('parse: valid JSON that fits the schema is the output, written to outputs/<name>.json', async () => {
    const r = await runLlmTask(makeTask(batch, { name: 'parse1', type: 'parse', prompt: 'Extract the film.', output_schema: SCHEMA }), ctx());
    assert.equal(r.outcome, 'success', r.reason ?? '');
    const out = r.output as { title: unknown; year: unknown; rating: unknown; tags: unknown };
    assert.equal(typeof out.title, 'string');
    assert.ok(Number.isInteger(out.year));
    assert.equal(typeof out.rating, 'number');
    assert.ok(Array.isArray(out.tags));
    assert.deepEqual(JSON.parse(await readFile(join(batch, 'outputs', 'parse1.json'), 'utf8')), out);
    const [s] = (await samples(samplesDir)).filter((x) => x.task_id === 'b1__parse1');
    assert.equal(s?.ok, true);
    assert.equal(s?.type, 'parse');
  });

  test('parse: without a schema any JSON will do', async () => {
    const r = await runLlmTask(makeTask(batch, { name: 'parse2', type: 'parse', prompt: 'Any JSON.' }), ctx());
    assert.equal(r.outcome, 'success', r.reason ?? '');
    assert.equal(typeof (r.output as { answer: unknown }).answer, 'string');
  });

  test('parse: an answer that does not fit the schema fails the task (app), naming the first mismatch', async () => {
    const r = await runLlmTask(
      makeTask(batch, { name: 'parse3', type: 'parse', prompt: 'Extract. SCHEMA_MISMATCH', output_schema: SCHEMA }),
      ctx(),
    );
    assert.equal(r.outcome, 'failed');
    assert.equal(r.failure_kind, 'app');
    assert.equal(r.reason, 'answer does not match output_schema: $.title: expected string, found integer 12345');
    assert.equal(await stat(join(batch, 'outputs', 'parse3.json')).catch(() => null), null, 'no output file for a failed parse');
    const [s] = (await samples(samplesDir)).filter((x) => x.task_id === 'b1__parse3');
    assert.equal(s?.ok, false);
  });

  test('parse: BROKEN_JSON fails the task (app) as invalid JSON', async () => {
    const r = await runLlmTask(makeTask(batch, { name: 'parse4', type: 'parse', prompt: 'BROKEN_JSON please', output_schema: SCHEMA }), ctx());
    assert.equal(r.outcome, 'failed');
    assert.equal(r.failure_kind, 'app');
    assert.match(r.reason ?? '', /^answer is not valid JSON \(/);
    assert.ok(typeof (r.output as { raw: unknown }).raw === 'string');
  });

  test('runtime down: error (infra) naming the URL, and no training sample', async () => {
    const gone = await startSimOllama({ port: 0 });
    await gone.close();
    const before = (await samples(samplesDir)).length;
    const r = await runLlmTask(makeTask(batch, { name: 'down1' }), { ...ctx(), ollamaUrl: gone.url });
    WorkerResult.parse(r);
    assert.equal(r.outcome, 'error');
    assert.equal(r.failure_kind, 'infra');
    assert.match(r.reason ?? '', new RegExp(`LLM runtime unavailable: Ollama at ${gone.url} is unreachable \\(ECONNREFUSED`));
    assert.equal((await samples(samplesDir)).length, before);
  });

  test('out of memory while loading: outcome oom (infra)', async () => {
    sim.setMode({ oom: true });
    try {
      const client = await fetch(`${sim.url}/api/generate`, { method: 'POST', body: JSON.stringify({ model: MODEL, prompt: '', keep_alive: 0 }) });
      assert.equal(client.status, 200); // unload first, so the next request has to load
      const r = await runLlmTask(makeTask(batch, { name: 'oom1' }), ctx());
      assert.equal(r.outcome, 'oom');
      assert.equal(r.failure_kind, 'infra');
      assert.match(r.reason ?? '', /out of memory/);
    } finally {
      sim.setMode({ oom: false });
    }
  });

  test('a model the task names that the rig lacks fails the task (app)', async () => {
    const r = await runLlmTask(makeTask(batch, { name: 'nomodel', model: 'llama9:400b' }), ctx());
    assert.equal(r.outcome, 'failed');
    assert.equal(r.failure_kind, 'app');
    assert.match(r.reason ?? '', /llama9:400b.*not found.*not installed on this rig/);
  });
});

/** A loopback proxy to `target` that records each request's method and path. */
async function recordingProxy(target: string): Promise<{ url: string; paths: string[]; close: () => Promise<void> }> {
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    paths.push(`${req.method} ${req.url}`);
    const out = http.request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const close = () => new Promise<void>((r) => {
    server.close(() => r());
    server.closeAllConnections();
  });
  return { url: `http://127.0.0.1:${port}`, paths, close };
}

describe('runLlmTask with an OpenAI-compatible runtime (FORGE_AGENT_RUNTIME=openai)', () => {
  let dir: string;
  let sim: SimOllama;
  let batch: string;
  let samplesDir: string;
  const ctx = (env: Record<string, string>) => ({ ollamaUrl: sim.url, trainingSamplesDir: samplesDir, startedAt: Date.now(), env });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'forge-llm-openai-'));
    // Served like llama-server: one model, loaded at start, /v1 only knows it.
    sim = await startSimOllama({ port: 0, serveModel: MODEL });
    await sim.ready;
    batch = join(dir, 'plans', 'demo', 'batches', 'b1');
    samplesDir = join(dir, 'logs', 'spool', 'samples');
  });
  after(async () => {
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('generate and parse succeed through /v1/chat/completions, with the token counts and no load time', async () => {
    const env = { FORGE_AGENT_RUNTIME: 'openai' };
    const gen = await runLlmTask(makeTask(batch, { name: 'oa-gen' }), ctx(env));
    assert.equal(gen.outcome, 'success', gen.reason ?? '');
    assert.match((gen.output as { text: string }).text, /^sim\(qwen2\.5:7b\): Write one line about GPUs\./);
    assert.ok((gen.llm?.prompt_tokens ?? 0) > 0 && (gen.llm?.output_tokens ?? 0) > 0, JSON.stringify(gen.llm));
    assert.equal(gen.llm?.load_ms, null);
    const parse = await runLlmTask(makeTask(batch, { name: 'oa-parse', type: 'parse', prompt: 'Extract the film.', output_schema: SCHEMA }), ctx(env));
    assert.equal(parse.outcome, 'success', parse.reason ?? '');
    assert.ok(Number.isInteger((parse.output as { year: unknown }).year));
  });

  test('a model the server does not serve fails the task (app), naming the URL', async () => {
    const r = await runLlmTask(makeTask(batch, { name: 'oa-nomodel', model: 'llama9:400b' }), ctx({ FORGE_AGENT_RUNTIME: 'openai' }));
    assert.equal(r.outcome, 'failed');
    assert.equal(r.failure_kind, 'app');
    assert.match(r.reason ?? '', new RegExp(`OpenAI-compatible server at ${sim.url} .*llama9:400b.*not found.*not installed on this rig`));
  });

  test('an unknown FORGE_AGENT_RUNTIME is the rig\'s error, naming the kinds', async () => {
    const r = await runLlmTask(makeTask(batch, { name: 'oa-kind' }), ctx({ FORGE_AGENT_RUNTIME: 'vllm' }));
    assert.equal(r.outcome, 'error');
    assert.equal(r.failure_kind, 'infra');
    assert.equal(r.reason, 'FORGE_AGENT_RUNTIME is "vllm": expected one of ollama, openai (the agent sets it from its GPU\'s runtime in the config)');
  });

  test('the worker process reads FORGE_AGENT_RUNTIME and completes a generate task against the simulator', async () => {
    const proxy = await recordingProxy(sim.url);
    try {
      await runWorkerThrough(proxy.url);
    } finally {
      await proxy.close();
    }
    // The simulator speaks both protocols on one port: the proxy shows which one the worker used.
    assert.deepEqual(proxy.paths, ['POST /v1/chat/completions']);
  });

  /** Runs a generate task in a real worker process with FORGE_AGENT_RUNTIME=openai; asserts it succeeds. */
  async function runWorkerThrough(url: string): Promise<void> {
    const configPath = join(dir, 'config.json');
    await writeFile(configPath, JSON.stringify({ gpus: [{ id: 0, name: 'gpu-0', model: MODEL, port: 11435, runtime: 'openai' }] }));
    const task = makeTask(batch, { name: 'oa-worker', model: null });
    const child = spawn(
      process.execPath,
      [...nodeArgsFor('worker/main'), '--task', JSON.stringify(task), '--config', configPath, '--ollama-url', url, '--shared', dir],
      { cwd: ROOT, env: { ...process.env, FORGE_AGENT_RUNTIME: 'openai', FORGE_AGENT_MODEL: MODEL }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = await once(child, 'exit');
    assert.equal(code, 0, stderr);
    const parsed = parseWorkerStdout(stdout, task.id, 1);
    assert.ok(parsed.ok, `${JSON.stringify(parsed)} ${stderr}`);
    assert.equal(parsed.result.outcome, 'success', parsed.result.reason ?? '');
    assert.equal(parsed.result.llm?.model, MODEL);
  }
});

describe('the output schema check', () => {
  const cases: Array<[string, unknown, unknown, string | null]> = [
    ['fits', { a: 'x', n: 1.5, i: 2, b: true, l: ['p'] }, { type: 'object', properties: { a: { type: 'string' }, n: { type: 'number' }, i: { type: 'integer' }, b: { type: 'boolean' }, l: { type: 'array', items: { type: 'string' } } } }, null],
    ['root type', [1], { type: 'object' }, '$: expected object, found array [1]'],
    ['required', { a: 'x' }, { type: 'object', required: ['a', 'b'] }, '$.b: required property is missing'],
    ['integer', { i: 1.5 }, { type: 'object', properties: { i: { type: 'integer' } } }, '$.i: expected integer, found number 1.5'],
    ['nested array item', { l: [{ s: 1 }, { s: 'x' }] }, { type: 'object', properties: { l: { type: 'array', items: { type: 'object', properties: { s: { type: 'integer' } } } } } }, '$.l[1].s: expected integer, found string "x"'],
    ['enum', { k: 'c' }, { type: 'object', properties: { k: { enum: ['a', 'b'] } } }, '$.k: expected one of "a", "b", found "c"'],
    ['type list', { v: null }, { type: 'object', properties: { v: { type: ['string', 'null'] } } }, null],
    ['additionalProperties false', { a: 1, z: 2 }, { type: 'object', properties: { a: { type: 'number' } }, additionalProperties: false }, '$.z: property not allowed by the schema (allowed: a)'],
  ];
  for (const [name, value, schema, expected] of cases) {
    test(name, () => assert.equal(findSchemaMismatch(value, schema), expected));
  }
  test('a fenced answer is read as its JSON', () => {
    assert.deepEqual(checkAnswer('```json\n{"a": 1}\n```', null), { ok: true, value: { a: 1 } });
  });
});

test('training samples: 5 processes writing 80 long samples each at once leave 400 files, merged into 400 whole lines', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'forge-samples-'));
  const paths = mountPaths(dir);
  await ensureMount(paths);
  const code = `
    import { writeTrainingSample } from './agents/llm/trainingSamples.ts';
    const w = process.env.WRITER;
    await Promise.all(Array.from({ length: 80 }, (_, i) => writeTrainingSample(process.env.SPOOL, {
      ts: new Date().toISOString(), task_id: 'w' + w + '_' + i, batch: 'b', model: 'm', type: 'generate',
      prompt: ('w' + w + 'i' + i + ' line\\n').repeat(1000), response: 'r'.repeat(500), ok: true,
    })));`;
  try {
    const children = Array.from({ length: 5 }, (_, w) =>
      spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
        cwd: ROOT,
        env: { ...process.env, WRITER: String(w), SPOOL: paths.spoolSamples },
        stdio: ['ignore', 'inherit', 'inherit'],
      }),
    );
    const codes = await Promise.all(children.map(async (c) => (await once(c, 'exit'))[0]));
    assert.deepEqual(codes, Array(5).fill(0));
    assert.equal((await samples(paths.spoolSamples)).length, 400, 'one whole file per sample, no temporary left');
    assert.equal(await stat(paths.trainingSamples).catch(() => null), null, 'no worker touches training_samples.jsonl');

    const merger = new LogMerger({ paths, log: new DecisionLog(paths.decisionLog), now: Date.now });
    // A round takes at most 256 files: two rounds for 400.
    assert.deepEqual([(await merger.mergeOnce()).samples, (await merger.mergeOnce()).samples, (await merger.mergeOnce()).samples], [256, 144, 0]);
    const lines = (await readFile(paths.trainingSamples, 'utf8')).split('\n');
    assert.equal(lines.pop(), '', 'the file ends with a newline');
    assert.equal(lines.length, 400);
    const seen = new Set<string>();
    for (const [n, line] of lines.entries()) {
      const s = JSON.parse(line) as { task_id: string; prompt: string; response: string };
      const m = /^w(\d+)_(\d+)$/.exec(s.task_id);
      assert.ok(m, `line ${n}: ${s.task_id}`);
      assert.equal(s.prompt, `w${m[1]}i${m[2]} line\n`.repeat(1000), `line ${n}: prompt intact`);
      assert.ok(s.prompt.length > 8 * 1024);
      assert.equal(s.response, 'r'.repeat(500));
      seen.add(s.task_id);
    }
    assert.equal(seen.size, 400, 'every sample exactly once');
    assert.deepEqual(await readdir(paths.spoolSamples), [], 'merged files are removed');
    assert.equal(await stat(`${paths.trainingSamples}.lock`).catch(() => null), null, 'no lock');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
