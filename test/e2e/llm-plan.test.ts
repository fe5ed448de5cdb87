// The LLM example (plans/llm) from submission to evaluation on simulated GPUs: the brain heats
// an agent, the generate and parse tasks write their outputs where PLAN_FORMAT.md says
// (outputs/<task>.json), the evaluation task reads them back, and the summary counts their tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { batchDir } from '../../agents/core/paths.ts';
import { freePortRange } from '../../tools/harness/ports.ts';
import { startRig, submitPlan, waitForAgents, waitForBatchEnd } from '../../tools/harness/runRig.ts';
import { tempMount } from '../helpers/mount.ts';

const PLAN = fileURLToPath(new URL('../../plans/llm/', import.meta.url));
const json = async (file: string): Promise<unknown> => JSON.parse(await readFile(file, 'utf8'));

test('plans/llm completes on the simulator: outputs/<task>.json for generate and parse, and the evaluation reads both', async () => {
  const { paths, cleanup } = await tempMount();
  const rig = startRig(paths.root, 2, await freePortRange(2), { quiet: true });
  try {
    await waitForAgents(paths, [0, 1], 60_000);
    const batch = await submitPlan(paths.root, PLAN);
    const rec = await waitForBatchEnd(paths, batch, 150_000);
    assert.equal(rec.state, 'complete', `batch ended ${rec.state}: failed ${rec.failed_tasks.join(', ')}`);
    const dir = batchDir(paths, 'llm', batch);
    const haiku = (await json(`${dir}/outputs/haiku.json`)) as { text?: unknown };
    assert.equal(typeof haiku.text, 'string');
    assert.ok((haiku.text as string).length > 0);
    const facts = (await json(`${dir}/outputs/facts.json`)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(facts).sort(), ['city', 'person', 'year']);
    assert.equal(typeof facts.year, 'number');
    const evaluation = (await json(`${dir}/evaluation.json`)) as { haiku: { score: number }; facts: { score: number } };
    for (const part of [evaluation.haiku, evaluation.facts]) assert.ok(part.score >= 1 && part.score <= 5, JSON.stringify(evaluation));
    // The summary adds up the two LLM requests' tokens per model and per agent.
    const summary = (await json(`${dir}/summary.json`)) as { llm?: { by_model: Record<string, { tasks: number; output_tokens: number }>; by_agent: Record<string, { tasks: number }> } };
    const byModel = Object.values(summary.llm?.by_model ?? {});
    assert.equal(byModel.reduce((n, m) => n + m.tasks, 0), 2, JSON.stringify(summary.llm));
    assert.ok(byModel.every((m) => m.output_tokens > 0));
    assert.equal(Object.values(summary.llm!.by_agent).reduce((n, a) => n + a.tasks, 0), 2);
    assert.match(await readFile(`${dir}/summary.md`, 'utf8'), /## LLM work/);
  } finally {
    rig.kill('SIGTERM');
    await rig;
    await cleanup();
  }
});
