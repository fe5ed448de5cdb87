// The example plans run on a machine with only Node: their tasks, built and expanded the way
// the brain does it, run in dependency order with argument vectors and no shell.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { Config } from '../../agents/core/config.ts';
import { Task } from '../../agents/core/task.ts';
import { buildBatchTasks } from '../../agents/plan/build.ts';
import { expandForeach, readManifestItems } from '../../agents/plan/expand.ts';
import { loadPlan } from '../../agents/plan/load.ts';
import { parseVerdict } from '../../agents/core/gate.ts';

const CONFIG = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'qwen2.5:7b', port: 11435 }] });

/** Runs a batch's tasks in dependency order, expanding foreach templates when they come up. */
async function runBatch(plan: string, values: Record<string, string>, env: Record<string, string> = {}) {
  const { plan: p, problems } = await loadPlan(fileURLToPath(new URL(`../../plans/${plan}`, import.meta.url)));
  assert.deepEqual(problems, []);
  const batchPath = await mkdtemp(join(tmpdir(), `forge-${plan}-`));
  const pending = buildBatchTasks(p!, { batchId: 'b1', batchPath, values, config: CONFIG, now: 0 }).map((t) => Task.parse(t));
  const done = new Set<string>();
  const ran: string[] = [];
  while (pending.length) {
    const i = pending.findIndex((t) => t.depends_on.every((d) => done.has(d)));
    assert.ok(i >= 0, 'a task is ready');
    const task = pending.splice(i, 1)[0]!;
    if (task.foreach) {
      const manifest = await readManifestItems(task.foreach.path, task.foreach.key);
      assert.ok(manifest.ok, manifest.ok ? '' : manifest.error);
      const children = expandForeach(task, manifest.items, 0);
      assert.deepEqual(children.problems, []);
      const ids = children.tasks.map((c) => c.id);
      // Dependants of the template wait for every child.
      for (const t of pending) if (t.depends_on.includes(task.id)) t.depends_on = t.depends_on.filter((d) => d !== task.id).concat(ids);
      pending.unshift(...children.tasks.map((c) => Task.parse(c)));
      done.add(task.id);
      continue;
    }
    if (task.argv) {
      const [file, ...args] = task.argv;
      await execa(file === 'node' ? process.execPath : file!, args, { cwd: task.cwd, env: { ...env, CUDA_VISIBLE_DEVICES: '0' } });
    }
    ran.push(task.name);
    done.add(task.id);
  }
  return { batchPath, ran };
}

test('the hello plan runs and its report combines both earlier tasks', async () => {
  const { batchPath, ran } = await runBatch('hello', { NAME: '-n "Ada"; $(x)', TIMES: '2' });
  try {
    assert.deepEqual(ran, ['greet', 'count', 'report', 'batch_summary']);
    const report = JSON.parse(await readFile(join(batchPath, 'report.json'), 'utf8'));
    assert.deepEqual(report, { first_line: 'Hello, -n "Ada"; $(x)!', lines: 2, words: 8 });
  } finally {
    await rm(batchPath, { recursive: true, force: true });
  }
});

test('the nightly plan runs its chain: collect, process, digest', async () => {
  const { batchPath, ran } = await runBatch('nightly', {});
  try {
    assert.deepEqual(ran, ['collect', 'process', 'digest', 'batch_summary']);
    const digest = await readFile(join(batchPath, 'digest.md'), 'utf8');
    assert.match(digest, /^# Nightly digest\n\n3 notes, 30 words\.\n\n- brain\.txt \(12 words\): The brain rebuilt its index after a restart\.\n/);
  } finally {
    await rm(batchPath, { recursive: true, force: true });
  }
});

test('the video plan runs: scan, one transcribe per video, aggregate; simulated GPU memory is cleaned up', async () => {
  const sim = await mkdtemp(join(tmpdir(), 'forge-sim-'));
  await mkdir(join(sim, 'procs'));
  const { batchPath, ran } = await runBatch('video', { COUNT: '3', WORK_MS: '20' }, { FORGE_SIM_DIR: sim });
  try {
    assert.deepEqual(ran, ['scan', 'transcribe.1', 'transcribe.2', 'transcribe.3', 'aggregate', 'batch_summary']);
    assert.deepEqual((await readdir(join(batchPath, 'results'))).sort(), ['v1.json', 'v2.json', 'v3.json']);
    const combined = JSON.parse(await readFile(join(batchPath, 'transcripts.json'), 'utf8'));
    assert.equal(combined.videos, 3);
    assert.deepEqual(await readdir(join(sim, 'procs')), [], 'every proc file removed at exit');
  } finally {
    await rm(batchPath, { recursive: true, force: true });
    await rm(sim, { recursive: true, force: true });
  }
});

test('the gate plan: its triage says no when every reading is under the limit, yes naming the hot card otherwise', async () => {
  const { plan: p, problems } = await loadPlan(fileURLToPath(new URL('../../plans/gate', import.meta.url)));
  assert.deepEqual(problems, []);
  const rows: Array<[string, unknown]> = [
    ['gpu0=62,gpu1=64', { proceed: false, reason: 'all 2 readings under 80 °C: nothing to explain' }],
    ['gpu0=62, gpu1=91', { proceed: true, reason: 'gpu1 at 91 °C is at or over 80 °C' }],
  ];
  for (const [READINGS, want] of rows) {
    const batchPath = await mkdtemp(join(tmpdir(), 'forge-gate-'));
    try {
      const tasks = buildBatchTasks(p!, { batchId: 'b1', batchPath, values: { READINGS }, config: CONFIG, now: 0 }).map((t) => Task.parse(t));
      const triage = tasks.find((t) => t.name === 'triage')!;
      assert.equal(triage.gate, true);
      const [, ...args] = triage.argv!;
      await execa(process.execPath, args, { cwd: triage.cwd });
      const verdict = parseVerdict(await readFile(join(batchPath, 'outputs', 'triage.json'), 'utf8'), 'shell');
      assert.deepEqual(verdict, { ok: true, verdict: want }, READINGS);
    } finally {
      await rm(batchPath, { recursive: true, force: true });
    }
  }
});
