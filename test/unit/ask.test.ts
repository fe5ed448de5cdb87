// Realtime questions, the pure parts: the request schema and ids, what the brain makes of a
// request and of its ended task, the claim order that puts questions first, housekeeping's
// choice of old answers, and forge ask's polling and hot-agent look.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../agents/core/config.ts';
import type { Heartbeat } from '../../agents/core/heartbeat.ts';
import { fairOrder } from '../../agents/core/fairOrder.ts';
import { AskRequest, requestIdProblem, sortRequestNames } from '../../agents/core/request.ts';
import { Task, type TaskInput } from '../../agents/core/task.ts';
import { checkSchema } from '../../agents/core/zodIssues.ts';
import { decideFinished, decideRequest, knownModels, modelProblem, planRequestCleanup } from '../../agents/brain/askDecide.ts';
import { POLL_FIRST_MS, POLL_MAX_MS, agentsHolding, nextPollMs } from '../../agents/ask/askClient.ts';

const config = Config.parse({
  gpus: [{ id: 0, name: 'gpu-0', model: 'qwen2.5:7b', port: 1 }, { id: 1, name: 'gpu-1', model: 'llama3', port: 2 }],
  models: { 'phi3:mini': { vram_mb: 2500 } },
});
const NOW = Date.parse('2026-12-02T09:00:00Z');

test('request schema: valid requests pass; every bad field is refused naming the field and the rule', () => {
  assert.ok(checkSchema(AskRequest, { prompt: 'Why?' }).ok);
  assert.ok(checkSchema(AskRequest, { prompt: 'Why?', model: 'library/llama3.1:8b-instruct-q4_K_M', timeout_s: 30, asked_at: '2026-12-02T09:00:00Z' }).ok);
  const cases: Array<[unknown, RegExp]> = [
    [{ prompt: 'Why?', promt: 'x' }, /promt/],
    [{}, /prompt/],
    [{ prompt: '   ' }, /prompt: must not be empty/],
    [{ prompt: 'x'.repeat(32_769) }, /prompt: must be at most 32768 characters/],
    [{ prompt: 'Why?', model: '../etc/passwd' }, /model: must be a model name/],
    [{ prompt: 'Why?', model: 'a b' }, /model: must be a model name/],
    [{ prompt: 'Why?', model: '-rf' }, /model: must be a model name/],
    [{ prompt: 'Why?', timeout_s: 0 }, /timeout_s/],
    [{ prompt: 'Why?', timeout_s: 3601 }, /timeout_s/],
    [{ prompt: 42 }, /prompt/],
  ];
  for (const [raw, want] of cases) {
    const r = checkSchema(AskRequest, raw);
    assert.equal(r.ok, false, JSON.stringify(raw));
    if (!r.ok) assert.match(r.problems.join('\n'), want, JSON.stringify(raw));
  }
});

test('request ids and names: answers and temporaries told apart; unsafe ids refused with the reason', () => {
  const seen = sortRequestNames(['a.json', 'a.answer.json', '.b.json.123.tmp', 'b.json', 'notes.txt', 'outputs', 'c.answer.json']);
  assert.deepEqual(seen.requests, ['a', 'b']);
  assert.deepEqual([...seen.answers].sort(), ['a', 'c']);
  assert.equal(requestIdProblem('ask-20261202-090000-abcdef'), null);
  assert.equal(requestIdProblem('by-hand'), null);
  assert.match(requestIdProblem('two words')!, /not a safe name/);
  assert.match(requestIdProblem('x__y')!, /contains '__'/);
  assert.match(requestIdProblem('a'.repeat(65))!, /over the limit of 64/);
});

test('a valid request becomes one generate llm task of the ask pseudo-batch at priority 0, straight for queue/', () => {
  const d = decideRequest('q1', { prompt: 'Why?' }, config, '/m/requests', NOW);
  assert.equal(d.kind, 'queue');
  const t = Task.parse((d as { task: TaskInput }).task);
  assert.equal(t.id, 'ask__q1');
  assert.equal(t.batch, 'ask');
  assert.deepEqual([t.type, t.task_class, t.executor, t.priority, t.model, t.prompt], ['generate', 'llm', 'worker', 0, 'qwen2.5:7b', 'Why?']);
  assert.equal(t.timeout_s, config.timeouts.task_default_s);
  assert.equal(t.batch_path, '/m/requests');
  assert.equal(t.released_at, '2026-12-02T09:00:00.000Z');
  const own = decideRequest('q2', { prompt: 'Why?', model: 'phi3:mini', timeout_s: 20 }, config, '/m/requests', NOW);
  assert.equal(own.kind === 'queue' && own.task.model, 'phi3:mini');
  assert.equal(own.kind === 'queue' && own.task.timeout_s, 20);
  // Ollama's names: llama3 is llama3:latest.
  assert.equal(decideRequest('q3', { prompt: 'Why?', model: 'llama3:latest' }, config, '/m', NOW).kind, 'queue');
  const unknown = decideRequest('q4', { prompt: 'Why?', model: 'nosuch:1b' }, config, '/m', NOW);
  assert.deepEqual(unknown, {
    kind: 'refuse',
    reason: "model 'nosuch:1b' is not known to the rig: use one of qwen2.5:7b, llama3, phi3:mini (config.json gpus[].model, models, default_model), or add it to config.json models",
  });
  assert.deepEqual(knownModels(Config.parse({ ...config, default_model: 'mistral' })), ['qwen2.5:7b', 'llama3', 'phi3:mini', 'mistral']);
  assert.equal(modelProblem('qwen2.5:7b', config), null);
});

test('claim order: a question is taken before every batch task, whatever the batches\' priority and age', () => {
  const queued = [
    { id: '20261201-080000-aaaaaa__t1', priority: 1 },
    { id: '20261201-080000-aaaaaa__t2', priority: 1 },
    { id: '20261202-090000-bbbbbb__u1', priority: 3 },
    { id: 'ask__ask-20261202-090500-cccccc', priority: 0 },
  ];
  assert.deepEqual(fairOrder(queued, (b) => (b === 'ask' ? 5 : 0)).map((q) => q.id)[0], 'ask__ask-20261202-090500-cccccc');
  assert.equal(Task.parse({ ...decideRequestTask(), priority: 0 }).priority, 0);
});

function decideRequestTask(): TaskInput {
  const d = decideRequest('q', { prompt: 'Why?' }, config, '/m', NOW);
  assert.equal(d.kind, 'queue');
  return (d as { task: TaskInput }).task;
}

function ended(over: Partial<Task>, result: Partial<NonNullable<Task['result']>>): Task {
  const base = Task.parse(decideRequestTask());
  return Task.parse({
    ...base, attempt: 1, claimed_by: 'gpu-0', claimed_at: '2026-12-02T09:00:00.100Z', finished_at: '2026-12-02T09:00:00.400Z',
    attempts: [{ attempt: 1, agent: 'gpu-0', claimed_at: '2026-12-02T09:00:00.100Z', finished_at: '2026-12-02T09:00:00.400Z', outcome: result.outcome ?? 'success', failure_kind: result.failure_kind ?? null, reason: result.reason ?? null, exit_code: 0 }],
    result: {
      task_id: base.id, attempt: 1, outcome: 'success', failure_kind: null, exit_code: 0, signal: null, reason: null, started_at: '2026-12-02T09:00:00.100Z',
      finished_at: '2026-12-02T09:00:00.400Z', duration_ms: 300, stdout_path: null, stderr_path: null, ...result,
    },
    ...over,
  });
}

test('an ended question: its answer (text, agent, tokens, times) or its failure; infra failures tried again until the cap', () => {
  const llm = { model: 'qwen2.5:7b', prompt_tokens: 3, output_tokens: 7, request_ms: 250, tok_s: 28, load_ms: null, gpu_s: 0.3, energy_wh: null };
  const done = decideFinished(ended({}, { output: { text: 'Because.' }, llm }), 'complete', config, NOW, '2026-12-02T08:59:59.900Z');
  assert.deepEqual(done, {
    kind: 'answer',
    answer: {
      id: 'q', ok: true, text: 'Because.', reason: null, model: 'qwen2.5:7b', agent: 'gpu-0', task: 'ask__q', prompt_tokens: 3, output_tokens: 7,
      request_ms: 250, load_ms: null, asked_at: '2026-12-02T08:59:59.900Z', queued_at: '2026-12-02T09:00:00.000Z', started_at: '2026-12-02T09:00:00.100Z',
      answered_at: '2026-12-02T09:00:00.000Z',
    },
  });
  const cases: Array<[Partial<NonNullable<Task['result']>>, 'answer' | 'retry', RegExp | null]> = [
    [{ outcome: 'failed', failure_kind: 'app', reason: 'runtime said: model not found' }, 'answer', /^failed: runtime said: model not found$/],
    [{ outcome: 'timeout', failure_kind: 'app', reason: 'timed out after 120 s' }, 'answer', /^timeout: timed out after 120 s$/],
    [{ outcome: 'lost', failure_kind: 'infra', reason: 'agent gpu-0 died' }, 'retry', null],
    [{ outcome: 'cancelled', failure_kind: 'infra', reason: 'cancelled by a person' }, 'answer', /^cancelled/],
  ];
  for (const [result, kind, reason] of cases) {
    const d = decideFinished(ended({}, result), 'failed', config, NOW, null);
    assert.equal(d.kind, kind, JSON.stringify(result));
    if (d.kind === 'answer') {
      assert.equal(d.answer.ok, false);
      assert.equal(d.answer.text, null);
      assert.match(d.answer.reason!, reason!);
    }
  }
  // Infra failures past retries.max_infra_attempts: the failure is the answer.
  const lost = { outcome: 'lost' as const, failure_kind: 'infra' as const, reason: 'agent gpu-0 died', exit_code: null };
  const many = Array.from({ length: config.retries.max_infra_attempts + 1 }, (_, i) => ({ attempt: i + 1, agent: 'gpu-0', claimed_at: '2026-12-02T09:00:00Z', finished_at: '2026-12-02T09:00:01Z', ...lost }));
  const spent = decideFinished(ended({ attempts: many, attempt: many.length }, lost), 'failed', config, NOW, null);
  assert.equal(spent.kind, 'answer');
  // Complete without text (a runtime that answered nothing usable): said so.
  const empty = decideFinished(ended({}, { output: { raw: 'x' } }), 'complete', config, NOW, null);
  assert.equal(empty.kind === 'answer' && empty.answer.reason, 'the task completed without a text answer');
});

test('housekeeping: answers older than requests_keep_hours go, by answered_at, else by how long they were seen unchanged', () => {
  const H = 3600_000;
  const old = planRequestCleanup([
    { name: 'fresh', time: NOW - 2 * H, seenMs: 0 },
    { name: 'stale', time: NOW - 25 * H, seenMs: 0 },
    { name: 'unreadable-new', time: null, seenMs: H },
    { name: 'unreadable-old', time: null, seenMs: 30 * H },
    { name: 'future', time: NOW + 5 * H, seenMs: 48 * H },
  ], NOW, 24);
  assert.deepEqual(old, ['stale', 'unreadable-old']);
  assert.equal(Config.parse({ gpus: config.gpus }).housekeeping.requests_keep_hours, 24);
});

test('forge ask polls with backoff up to its deadline, and knows which agents hold a model hot', () => {
  const waits: number[] = [];
  let w: number | null = null;
  for (let i = 0; i < 8; i++) waits.push((w = nextPollMs(w, 10_000)));
  assert.deepEqual(waits, [POLL_FIRST_MS, 40, 80, 160, 320, POLL_MAX_MS, POLL_MAX_MS, POLL_MAX_MS]);
  assert.equal(nextPollMs(320, 100), 100, 'never past the deadline');
  const hb = (name: string, over: Partial<Heartbeat>) => ({ name, model_loaded: false, state: 'cold', model: null, ...over }) as Heartbeat;
  const beats = [hb('gpu-0', { model_loaded: true, state: 'hot', model: 'qwen2.5:7b' }), hb('gpu-1', { state: 'loading', model: 'llama3:latest' }), hb('gpu-2', {})];
  assert.deepEqual(agentsHolding('qwen2.5:7b', beats, config), ['gpu-0']);
  assert.deepEqual(agentsHolding('llama3', beats, config), ['gpu-1']);
  assert.deepEqual(agentsHolding('phi3:mini', beats, config), []);
});
