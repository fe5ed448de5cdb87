// The bench's llm part, its pure pieces: the generated plan is a valid plan of generate tasks,
// one rig's figures are read from the batch record, the archived tasks and the decision lines,
// and the notes say what the figures show (unpaced simulator, one hot GPU) from the figures alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BatchRecord } from '../../agents/core/batch.ts';
import { formatDecision } from '../../agents/core/decisionLog.ts';
import { parsePlan } from '../../agents/plan/parse.ts';
import { validatePlan } from '../../agents/plan/validate.ts';
import { type LlmRig, llmNotes, readLlmRun } from '../../tools/bench/llm.ts';
import { renderGeneratePlan } from '../../tools/bench/plans.ts';
import { llmRows } from '../../tools/bench/report.ts';
import { makeTask } from '../helpers/mount.ts';

const T0 = Date.parse('2026-12-01T10:00:00.000Z');
const iso = (ms: number) => new Date(T0 + ms).toISOString();

function generateTask(n: number, agent: string, startMs: number, endMs: number, outputTokens: number | null) {
  return makeTask({
    name: `g${n}`, type: 'generate', task_class: 'llm', command: null, argv: null, prompt: `p${n}`,
    claimed_by: agent, claimed_at: iso(startMs - 50),
    result: {
      task_id: `b1__g${n}`, attempt: 1, outcome: 'success', failure_kind: null, exit_code: null, signal: null, reason: null,
      started_at: iso(startMs), finished_at: iso(endMs), duration_ms: endMs - startMs, stdout_path: null, stderr_path: null,
      llm: { model: 'qwen2.5:7b', prompt_tokens: 10, output_tokens: outputTokens, request_ms: endMs - startMs, tok_s: outputTokens === null ? null : outputTokens / ((endMs - startMs) / 1000), load_ms: null, gpu_s: null, energy_wh: null },
    },
  });
}

const record = (wallMs: number) => ({ submitted_at: iso(-1000), finished_at: iso(wallMs - 1000) }) as BatchRecord;
const line = (who: string, what: 'LOAD' | 'HEAT' | 'RELEASE', task: string) => formatDecision({ who, what, task, reason: 'x' }, T0);

test('the llm part\'s plan: independent generate tasks g0001..gNNNN, each with its own prompt, valid as submit checks it', () => {
  const { plan, problems } = parsePlan(renderGeneratePlan('Bench', 'Goal.', 60), '/b/plan.md', '/b');
  assert.deepEqual([...problems, ...validatePlan(plan, {})], []);
  assert.equal(plan.tasks.length, 60);
  assert.ok(plan.tasks.every((t) => t.type === 'generate' && t.depends_on.length === 0));
  assert.deepEqual([plan.tasks[0]!.name, plan.tasks[59]!.name], ['g0001', 'g0060']);
  assert.equal(new Set(plan.tasks.map((t) => t.prompt)).size, 60);
});

test('readLlmRun: wall from the record, tokens/s over the wall, loads and heats from the log, requests at once', () => {
  const tasks = [generateTask(1, 'gpu-0', 0, 1000, 30), generateTask(2, 'gpu-1', 200, 1200, 30), generateTask(3, 'gpu-0', 1100, 2000, null), makeTask({ name: 'other' })];
  const lines = [line('brain', 'HEAT', 'rig__load-1'), line('gpu-0', 'LOAD', 'rig__load-1'), line('gpu-1', 'LOAD', 'b1__g2'), line('brain', 'RELEASE', 'b1__g1'), 'not a decision line'];
  const rig = readLlmRun(2, record(4000), tasks, lines);
  assert.deepEqual(rig, {
    gpus: 2, tasks: 3, wall_s: 4, output_tokens: 60, uncounted: 1, tok_s: 15, loads: 2, heats: 1,
    per_agent: { 'gpu-0': 2, 'gpu-1': 1 }, peak_requests: 2, busy_s: 2.05, request_tok_s_median: 30,
  });
});

const rig = (over: Partial<LlmRig>): LlmRig => ({
  gpus: 3, tasks: 60, wall_s: 20, output_tokens: 1500, uncounted: 0, tok_s: 75, loads: 3, heats: 3,
  per_agent: { 'gpu-0': 20, 'gpu-1': 20, 'gpu-2': 20 }, peak_requests: 3, busy_s: 18, request_tok_s_median: 29, ...over,
});

test('llmNotes: silent when requests run at simulator.tok_s on every GPU', () => {
  assert.deepEqual(llmNotes({ sim_tok_s: 30, multi: rig({}), single: rig({ gpus: 1, per_agent: { 'gpu-0': 60 }, loads: 1, heats: 1 }) }), []);
});

test('llmNotes: an unpaced simulator, one hot GPU and uncounted tokens are each said, with the figures', () => {
  const notes = llmNotes({
    sim_tok_s: 30,
    multi: rig({ request_tok_s_median: 900, per_agent: { 'gpu-1': 60 }, heats: 1 }),
    single: rig({ gpus: 1, request_tok_s_median: 800, per_agent: { 'gpu-0': 60 }, uncounted: 2 }),
  });
  assert.deepEqual(notes, [
    'llm: requests ran at a median of up to 900 tok/s, over twice simulator.tok_s (30): the simulator does not pace its answers, so the rig\'s hop, not generation, sets these figures',
    'llm: the 3-GPU rig ran all 60 generate tasks on gpu-1 (1 heat in the log): one GPU was hot, so the speed-up shows no parallel LLM work',
    'llm: 2 of 60 generate tasks on the 1-GPU rig counted no output tokens: tokens/s is low by that much',
  ]);
});

test('llmRows: one row per rig and the speed-up; "not measured" without a result', () => {
  const rows = llmRows({ tasks: 60, sim_tok_s: 30, multi: rig({}), single: rig({ gpus: 1, wall_s: 60, tok_s: 25, per_agent: { 'gpu-0': 60 }, loads: 1, heats: 1, peak_requests: 1 }), speedup: 3, notes: [] });
  assert.deepEqual(rows.map(([figure, value]) => [figure, value]), [
    ['3 GPUs, 60 generate tasks: submit to end', '20.0 s'],
    ['1 GPU, 60 generate tasks: submit to end', '60.0 s'],
    ['speed-up: 1-GPU wall / 3-GPU wall', '3.00x'],
  ]);
  assert.match(rows[0]![2], /^75\.0 tok\/s \(1500 output tokens\); loads 3 \(heats 3\); at most 3 requests at once; tasks by agent: gpu-0 20, gpu-1 20, gpu-2 20/);
  assert.deepEqual(llmRows(null), [['not measured', '-', '']]);
});
