// LLM work on several GPUs at once, through the real launcher on simulated cards whose
// generation takes time (simulator.tok_s): the brain heats every card that pays off and says
// why, the agents run their requests side by side, a plan mixing two models keeps each model
// on its own cards, and a model no card can hold is refused with a reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { type ConfigInput, defaultGpus, writeConfig } from '../../agents/core/config.ts';
import { parseDecisionLine } from '../../agents/core/decisionLog.ts';
import { freePortRange } from '../../tools/harness/ports.ts';
import { startRig, submitPlan, waitForAgents, waitForBatchEnd } from '../../tools/harness/runRig.ts';
import { readArchivedBatch } from '../../tools/bench/rigSession.ts';
import type { Task } from '../../agents/core/task.ts';
import { decisionText, tempMount } from '../helpers/mount.ts';
import { writePlan } from '../helpers/rig.ts';

const root = new URL('../..', import.meta.url).pathname;

async function baseConfig(paths: { config: string }, gpus: number, over: Partial<ConfigInput> = {}): Promise<void> {
  await writeConfig(paths.config, {
    gpus: defaultGpus(gpus, 1),
    cycles: { internal_s: 0.25, external_s: 1 },
    heat_dwell_s: 1,
    heat_idle_s: 2,
    llm_circuit: { cool_down_s: 1 },
    ...over,
  });
}

const generate = (name: string, prompt: string, model?: string) =>
  `### ${name}\n- **type**: generate\n- **prompt**: ${prompt}\n` + (model ? `- **model**: ${model}\n` : '');
const plan = (tasks: string[]) => `# Parallel\n\n## Goal\nMany answers at once.\n\n## Tasks\n\n${tasks.join('\n')}`;

/** Decision lines of one verb. */
async function lines(paths: Parameters<typeof decisionText>[0], what: string) {
  return (await decisionText(paths)).split('\n').map(parseDecisionLine).filter((d) => d && d.what === what) as NonNullable<ReturnType<typeof parseDecisionLine>>[];
}

/** The most agents whose tasks ran at one instant, from the tasks' own start and end times. */
function mostAgentsAtOnce(tasks: Task[]): number {
  const spans = tasks.map((t) => ({ agent: t.claimed_by!, from: Date.parse(t.result!.started_at), to: Date.parse(t.result!.finished_at) }));
  let most = 0;
  for (const s of spans) {
    const agents = new Set(spans.filter((o) => o.from <= s.from && s.from < o.to).map((o) => o.agent));
    most = Math.max(most, agents.size);
  }
  return most;
}

test('9 generate tasks on 3 simulated cards: all three are heated, with reasons, run side by side, and are cooled when idle', { timeout: 240_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  await baseConfig(paths, 3, { simulator: { tok_s: 30, answer_tokens: 60, load_ms: 300 } });
  const rig = startRig(paths.root, 3, await freePortRange(3), { quiet: true });
  try {
    await waitForAgents(paths, [0, 1, 2], 60_000);
    await writePlan(paths, 'par', plan(Array.from({ length: 9 }, (_, i) => generate(`q${i + 1}`, `Answer question number ${i + 1} about rain.`))));
    const batch = await submitPlan(paths.root, 'par');
    const rec = await waitForBatchEnd(paths, batch, 180_000);
    assert.equal(rec.state, 'complete', `failed: ${rec.failed_tasks.join(', ')}`);
    const tasks = [...(await readArchivedBatch(paths, batch)).tasks.values()].filter((t) => t.task_class === 'llm');
    assert.equal(tasks.length, 9);
    assert.deepEqual(new Set(tasks.map((t) => t.claimed_by)), new Set(['gpu-0', 'gpu-1', 'gpu-2']), 'every card ran llm work');
    const spans = tasks.map((t) => `${t.name} ${t.claimed_by} ${t.result!.started_at.slice(11)}-${t.result!.finished_at.slice(11)}`).sort().join('\n');
    const log = (await decisionText(paths)).split('\n').filter((l) => /HEAT|COOL|LOAD|HOT|CLAIM/.test(l)).join('\n');
    assert.equal(mostAgentsAtOnce(tasks), 3, `requests ran on three cards at the same time:\n${spans}\n${log}`);
    for (const t of tasks) {
      assert.ok(t.result!.llm!.output_tokens! > 0 && t.result!.llm!.gpu_s! > 0, `${t.name}: tokens and GPU time ${JSON.stringify(t.result!.llm)}`);
    }
    const heats = await lines(paths, 'HEAT');
    assert.deepEqual(new Set(heats.map((h) => / (gpu-\d): /.exec(h.text)?.[1])), new Set(['gpu-0', 'gpu-1', 'gpu-2']), heats.map((h) => h.text).join('\n'));
    for (const h of heats) assert.match(h.text, /qwen2\.5:7b: (\d+ queued and no agent holds it|\d+ queued on \d+ slot\(s\).*saves)/);
    // Idle past heat_idle_s: each card is cooled, saying so.
    const deadline = Date.now() + 30_000;
    while ((await lines(paths, 'COOL')).length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    const cools = await lines(paths, 'COOL');
    assert.equal(cools.length, 3, (await decisionText(paths)).slice(-3000));
    for (const c of cools) assert.match(c.text, /idle [\d.]+s: no llm task needs qwen2\.5:7b/);
  } finally {
    rig.kill('SIGTERM');
    await rig;
    await cleanup();
  }
});

test('two models in one plan stay on their own cards (no load per task); a model no card can hold is unschedulable, said in status', { timeout: 240_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  await baseConfig(paths, 3, { simulator: { tok_s: 50, load_ms: 300 }, models: { 'huge:405b': { vram_mb: 900_000 } } });
  const rig = startRig(paths.root, 3, await freePortRange(3), { quiet: true });
  try {
    await waitForAgents(paths, [0, 1, 2], 60_000);
    const tasks = [
      ...Array.from({ length: 5 }, (_, i) => generate(`a${i + 1}`, `Question ${i + 1} for model a.`, 'alpha:7b')),
      ...Array.from({ length: 5 }, (_, i) => generate(`b${i + 1}`, `Question ${i + 1} for model b.`, 'beta:7b')),
    ];
    await writePlan(paths, 'mixed', plan(tasks));
    const batch = await submitPlan(paths.root, 'mixed');
    const rec = await waitForBatchEnd(paths, batch, 180_000);
    assert.equal(rec.state, 'complete', `failed: ${rec.failed_tasks.join(', ')}`);
    const done = [...(await readArchivedBatch(paths, batch)).tasks.values()].filter((t) => t.task_class === 'llm');
    for (const t of done) assert.equal(t.result!.llm!.model, t.model, `${t.name} ran on its own model`);
    const loads = await lines(paths, 'LOAD');
    const loaders = new Set(loads.map((l) => l.who));
    // On failure, the whole story: what the brain heated and why, and each agent's loads.
    const heatLog = (await decisionText(paths)).split('\n').filter((l) => /HEAT|COOL|LOAD|META_/.test(l)).join('\n');
    assert.ok(loads.length <= loaders.size + 1, `${loads.length} loads by ${loaders.size} agents:\n${heatLog}`);
    assert.ok(loads.some((l) => /alpha:7b/.test(l.text)) && loads.some((l) => /beta:7b/.test(l.text)), 'each model was loaded');

    await writePlan(paths, 'huge', plan([generate('big', 'Too big to run.', 'huge:405b')]));
    const hugeBatch = await submitPlan(paths.root, 'huge');
    const hugeRec = await waitForBatchEnd(paths, hugeBatch, 60_000);
    assert.equal(hugeRec.state, 'failed');
    const big = (await readArchivedBatch(paths, hugeBatch)).tasks.get('big')!;
    assert.equal(big.result?.outcome, 'unschedulable');
    assert.match(big.result?.reason ?? '', /huge:405b needs 900000 MB of VRAM but the largest GPU budget is \d+ MB/);
    const status = await execa(process.execPath, [`${root}bin/forge`, 'status', '--shared', paths.root], { reject: false, cwd: root });
    assert.match(String(status.stdout), /huge:405b needs 900000 MB/, String(status.stdout) + String(status.stderr));
  } finally {
    rig.kill('SIGTERM');
    await rig;
    await cleanup();
  }
});

test('OpenAI-compatible servers with two request slots each: no loads, two requests at once per card, tokens counted', { timeout: 240_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  const gpus = defaultGpus(2, 1).map((g) => ({ ...g, runtime: 'openai' as const, num_parallel: 2 }));
  await baseConfig(paths, 2, { gpus, simulator: { tok_s: 10, load_ms: 300 } });
  const rig = startRig(paths.root, 2, await freePortRange(2), { quiet: true });
  try {
    await waitForAgents(paths, [0, 1], 60_000);
    await writePlan(paths, 'oa', plan(Array.from({ length: 6 }, (_, i) => generate(`q${i + 1}`, `Question ${i + 1}.`))));
    const batch = await submitPlan(paths.root, 'oa');
    const rec = await waitForBatchEnd(paths, batch, 180_000);
    assert.equal(rec.state, 'complete', `failed: ${rec.failed_tasks.join(', ')}`);
    const tasks = [...(await readArchivedBatch(paths, batch)).tasks.values()].filter((t) => t.task_class === 'llm');
    for (const t of tasks) assert.ok(t.result!.llm!.output_tokens! > 0, `${t.name} counted its tokens`);
    // Two requests side by side on one card, from the tasks' own times.
    const on0 = tasks.filter((t) => t.claimed_by === 'gpu-0' || t.claimed_by === 'gpu-1');
    const overlapOnOneCard = on0.some((a) => on0.some((b) => a !== b && a.claimed_by === b.claimed_by
      && Date.parse(a.result!.started_at) < Date.parse(b.result!.finished_at) && Date.parse(b.result!.started_at) < Date.parse(a.result!.finished_at)));
    assert.ok(overlapOnOneCard, 'a card served two requests at once');
    assert.equal((await lines(paths, 'LOAD')).length, 0, 'servers that serve one model are never asked to load');
    const hb = JSON.parse(await (await import('node:fs/promises')).readFile(`${paths.gpus}/gpu_0/heartbeat.json`, 'utf8')) as { runtime: string; swappable: boolean; num_parallel: number; model: string };
    assert.deepEqual([hb.runtime, hb.swappable, hb.num_parallel, hb.model], ['openai', false, 2, 'qwen2.5:7b']);
  } finally {
    rig.kill('SIGTERM');
    await rig;
    await cleanup();
  }
});
