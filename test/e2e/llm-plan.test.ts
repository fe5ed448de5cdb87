// The LLM example (plans/llm) from submission to evaluation on simulated GPUs: the brain expands
// one generate task per question and one parse task per answer, every task's result lands at
// outputs/<task name>.json as PLAN_FORMAT.md says (foreach children by their names, answer.1,
// answer.2, ...), the evaluation reads them all back, and the summary counts their tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { batchDir } from '../../agents/core/paths.ts';
import { loadPlan } from '../../agents/plan/load.ts';
import { findSchemaMismatch } from '../../agents/worker/llmTask.ts';
import { freePortRange } from '../../tools/harness/ports.ts';
import { startRig, submitPlan, waitForAgents, waitForBatchEnd } from '../../tools/harness/runRig.ts';
import { readArchivedBatch } from '../../tools/bench/rigSession.ts';
import { tempMount } from '../helpers/mount.ts';

const PLAN = fileURLToPath(new URL('../../plans/llm/', import.meta.url));
const json = async (file: string): Promise<unknown> => JSON.parse(await readFile(file, 'utf8'));

/** The questions of the shipped list, as scripts/questions.mjs reads them. */
async function shippedQuestions(): Promise<string[]> {
  return (await readFile(join(PLAN, 'questions.txt'), 'utf8')).split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}

/** The parse task's output_schema, read from plan.md the way the brain reads it. */
async function planSchema(): Promise<Record<string, unknown>> {
  const { plan, problems } = await loadPlan(PLAN);
  assert.deepEqual(problems, []);
  const schema = plan!.tasks.find((t) => t.name === 'extract')?.output_schema;
  assert.ok(schema, 'plans/llm has a parse task extract with an output_schema');
  return schema;
}

interface Evaluation {
  ok: boolean;
  questions: number;
  items: Array<{ n: number; question: string; ok: boolean; problems: string[]; answer: { task: string }; parsed: { task: string; follows_schema: boolean } }>;
}

test('plans/llm: the schema evaluate.mjs checks is the parse task\'s output_schema, and the list has 6 to 8 questions', async () => {
  assert.deepEqual(await json(join(PLAN, 'extract.schema.json')), await planSchema());
  const n = (await shippedQuestions()).length;
  assert.ok(n >= 6 && n <= 8, `${n} questions`);
});

test('plans/llm completes on the simulator: one answer and one schema-following summary per question, all evaluated', async () => {
  const questions = await shippedQuestions();
  const schema = await planSchema();
  const { paths, cleanup } = await tempMount();
  const rig = startRig(paths.root, 2, await freePortRange(2), { quiet: true });
  try {
    await waitForAgents(paths, [0, 1], 60_000);
    const batch = await submitPlan(paths.root, PLAN);
    const rec = await waitForBatchEnd(paths, batch, 240_000);
    assert.equal(rec.state, 'complete', `batch ended ${rec.state}: failed ${rec.failed_tasks.join(', ')}`);
    const dir = batchDir(paths, 'llm', batch);

    // Every foreach child completed, named <template>.<n> in the order of the questions.
    const { tasks } = await readArchivedBatch(paths, batch);
    for (const template of ['answer', 'extract']) {
      const children = [...tasks.values()].filter((t) => t.template === template);
      assert.deepEqual(children.map((t) => t.name).sort(), questions.map((_, i) => `${template}.${i + 1}`).sort());
      for (const c of children) assert.equal(c.result?.outcome, 'success', `${c.name}: ${c.result?.reason}`);
    }

    for (const [i] of questions.entries()) {
      const answer = (await json(`${dir}/outputs/answer.${i + 1}.json`)) as { text?: unknown };
      assert.equal(typeof answer.text, 'string');
      assert.ok((answer.text as string).trim().length > 0, `answer.${i + 1} has text`);
      const parsed = await json(`${dir}/outputs/extract.${i + 1}.json`);
      assert.equal(findSchemaMismatch(parsed, schema), null, `extract.${i + 1}: ${JSON.stringify(parsed)}`);
    }

    const evaluation = (await json(`${dir}/evaluation.json`)) as Evaluation;
    assert.equal(evaluation.ok, true, JSON.stringify(evaluation));
    assert.deepEqual(evaluation.items.map((it) => [it.n, it.question, it.ok, it.answer.task, it.parsed.task]),
      questions.map((q, i) => [i + 1, q, true, `answer.${i + 1}`, `extract.${i + 1}`]));

    // The summary adds up every LLM request's tokens per model and per agent.
    const llmTasks = 2 * questions.length;
    const summary = (await json(`${dir}/summary.json`)) as { llm?: { by_model: Record<string, { tasks: number; output_tokens: number }>; by_agent: Record<string, { tasks: number }> } };
    const byModel = Object.values(summary.llm?.by_model ?? {});
    assert.equal(byModel.reduce((n, m) => n + m.tasks, 0), llmTasks, JSON.stringify(summary.llm));
    assert.ok(byModel.every((m) => m.output_tokens > 0));
    assert.equal(Object.values(summary.llm!.by_agent).reduce((n, a) => n + a.tasks, 0), llmTasks);
    assert.match(await readFile(`${dir}/summary.md`, 'utf8'), /## LLM work/);
  } finally {
    rig.kill('SIGTERM');
    await rig;
    await cleanup();
  }
});

test('plans/llm evaluate.mjs exits 1 and says which when an answer is missing or a summary does not follow the schema', async () => {
  const batch = await mkdtemp(join(tmpdir(), 'forge-llm-eval-'));
  try {
    const outputs = join(batch, 'outputs');
    await mkdir(outputs);
    const write = (task: string, value: unknown) => writeFile(join(outputs, `${task}.json`), JSON.stringify(value));
    await write('questions', { questions: [{ n: 1, question: 'Why?' }, { n: 2, question: 'How?' }, { n: 3, question: 'What?' }] });
    await write('answer.1', { text: 'Because.' });
    await write('answer.3', { text: 'That.' });
    await write('extract.1', { summary: 'Because.', key_terms: ['because'], confidence: 'high' });
    await write('extract.2', { summary: 'So.', key_terms: [], confidence: 'high' });
    await write('extract.3', { summary: 'That.', key_terms: [7], confidence: 'low' });
    const r = await execa(process.execPath, ['scripts/evaluate.mjs', '--questions', 'questions', '--answers', 'answer', '--parsed', 'extract', '--schema', 'extract.schema.json', '--', batch], { cwd: PLAN, reject: false });
    assert.equal(r.exitCode, 1, r.stderr);
    assert.match(r.stderr, /2 of 3 questions failed/);
    const evaluation = (await json(join(batch, 'evaluation.json'))) as Evaluation;
    assert.equal(evaluation.ok, false);
    assert.deepEqual(evaluation.items.map((it) => it.ok), [true, false, false]);
    assert.match(evaluation.items[1]!.problems.join('\n'), /no output of task 'answer\.2'/);
    assert.deepEqual(evaluation.items[2]!.problems, ['extract.3: does not follow extract.schema.json: $.key_terms[0]: expected string, found integer 7']);
  } finally {
    await rm(batch, { recursive: true, force: true });
  }
});
