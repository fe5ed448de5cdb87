// The rig end to end with real processes: brain, agents on simulated GPUs, workers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readBatchRecord } from '../../agents/core/batch.ts';
import { Task } from '../../agents/core/task.ts';
import { submitPlan, waitForAgents, waitForBatchEnd, waitFor } from '../../tools/harness/runRig.ts';
import { decisionText, tempMount } from '../helpers/mount.ts';
import { startAgent, startBrain, stopAll, writePlan, writeTestConfig } from '../helpers/rig.ts';

async function archivedTasks(root: string, batchId: string): Promise<Task[]> {
  const dir = join(root, 'tasks', 'archive', batchId);
  const names = await readdir(dir);
  return Promise.all(names.map(async (n) => Task.parse(JSON.parse(await readFile(join(dir, n), 'utf8')))));
}

test('video plan: scan, foreach over 20 items, aggregate; every item done once, summary written', async () => {
  const { paths, cleanup } = await tempMount();
  const procs = [];
  try {
    await writeTestConfig(paths, 3);
    procs.push(startBrain(paths), startAgent(paths, 0), startAgent(paths, 1), startAgent(paths, 2));
    await waitForAgents(paths, [0, 1, 2], 30_000);
    const batch = await submitPlan(paths.root, join(import.meta.dirname, '../../plans/video'), { COUNT: 20, WORK_MS: 20 });
    const rec = await waitForBatchEnd(paths, batch, 120_000);
    assert.equal(rec.state, 'complete');
    assert.equal(rec.final_counts?.total, 24); // scan, template, 20 items, aggregate, batch_summary
    const tasks = await archivedTasks(paths.root, batch);
    const items = tasks.filter((t) => t.template === 'transcribe');
    assert.equal(items.length, 20);
    for (const t of items) assert.equal(t.attempts.length, 1, `${t.name} ran once`);
    const results = await readdir(join(rec.batch_path, 'results'));
    assert.equal(results.length, 20);
    const combined = JSON.parse(await readFile(join(rec.batch_path, 'transcripts.json'), 'utf8'));
    assert.ok(combined);
    const summary = JSON.parse(await readFile(join(rec.batch_path, 'summary.json'), 'utf8'));
    assert.equal(summary.state, 'complete');
    assert.equal(summary.counts.complete, 23);
    // Work spread over more than one GPU.
    assert.ok(new Set(items.map((t) => t.claimed_by)).size >= 2);
  } finally {
    await stopAll(procs);
    await cleanup();
  }
});

const RETRY_PLAN = `# Retries

## Goal
Show retries.

## Tasks

### flaky
- **task_class**: cpu
- **command**: \`node scripts/flaky.mjs {BATCH_PATH}/flaky.count\`

### doomed
- **task_class**: cpu
- **command**: \`node scripts/doomed.mjs\`

### after_doomed
- **task_class**: cpu
- **command**: \`node -e "require('fs').writeFileSync('ran-after-doomed', 'x')"\`
- **depends_on**: doomed

### sibling
- **task_class**: cpu
- **command**: \`node -e "process.exit(0)"\`
- **depends_on**: flaky
`;

const FLAKY = `import { readFileSync, writeFileSync } from 'node:fs';
const f = process.argv[2];
let n = 0; try { n = Number(readFileSync(f, 'utf8')); } catch {}
writeFileSync(f, String(n + 1));
if (n < 2) { console.error('flaky failure ' + (n + 1)); process.exit(3); }
console.log('third time lucky');
`;

test('retries: fails twice then succeeds; always-fails is tried max_attempts times, its dependant never runs, siblings complete', async () => {
  const { paths, cleanup } = await tempMount();
  const procs = [];
  try {
    await writeTestConfig(paths, 2);
    const dir = await writePlan(paths, 'retries', RETRY_PLAN, { 'flaky.mjs': FLAKY, 'doomed.mjs': 'console.error("doomed"); process.exit(7);\n' });
    procs.push(startBrain(paths), startAgent(paths, 0), startAgent(paths, 1));
    await waitForAgents(paths, [0, 1], 30_000);
    const batch = await submitPlan(paths.root, 'retries');
    const rec = await waitForBatchEnd(paths, batch, 120_000);
    assert.equal(rec.state, 'failed');
    const byName = new Map((await archivedTasks(paths.root, batch)).map((t) => [t.name, t]));
    const flaky = byName.get('flaky')!;
    assert.equal(flaky.result?.outcome, 'success');
    assert.deepEqual(flaky.attempts.map((a) => a.outcome), ['failed', 'failed', 'success']);
    const doomed = byName.get('doomed')!;
    assert.equal(doomed.attempts.length, 3);
    assert.ok(doomed.attempts.every((a) => a.outcome === 'failed' && a.failure_kind === 'app' && a.exit_code === 7));
    assert.equal(byName.get('after_doomed')!.result?.outcome, 'not_run');
    assert.equal(byName.get('after_doomed')!.attempts.length, 0);
    assert.equal(byName.get('sibling')!.result?.outcome, 'success');
    await assert.rejects(readFile(join(dir, 'ran-after-doomed')));
    assert.deepEqual(rec.failed_tasks, [`${batch}__doomed`]);
    assert.deepEqual(rec.not_run, [`${batch}__after_doomed`]);
    const log = await decisionText(paths);
    assert.match(log, /RETRY task=\S+__flaky attempt 2 of 3/);
    assert.match(log, /RETRY task=\S+__flaky attempt 3 of 3/);
    assert.match(log, /GIVE_UP task=\S+__doomed attempt 3 of 3 — failed 3 of 3 attempts/);
    assert.match(log, /NOT_RUN task=\S+__after_doomed — dependency doomed failed/);
    assert.match(log, /FINISH batch=\S+ — failed: /);
    assert.match(log, new RegExp(`ESCALATE task=${batch}__doomed — escalations/tasks/${batch}__doomed\\.json: its command, 3 attempt\\(s\\) and their output`));

    // The planner's record of the doomed task: what ran, each attempt's exit code and output, and how to answer.
    const esc = JSON.parse(await readFile(join(paths.root, 'escalations', 'tasks', `${batch}__doomed.json`), 'utf8'));
    assert.equal(esc.kind, 'task_gave_up');
    assert.equal(esc.plan, 'retries');
    assert.equal(esc.reason, 'failed 3 of 3 attempts: exit code 7; last lines of stderr:\ndoomed');
    assert.equal(esc.task.command, 'node scripts/doomed.mjs');
    assert.deepEqual(esc.task.argv, ['node', 'scripts/doomed.mjs']);
    assert.deepEqual(esc.attempts.map((a: { attempt: number; exit_code: number; outcome: string }) => [a.attempt, a.outcome, a.exit_code]), [[1, 'failed', 7], [2, 'failed', 7], [3, 'failed', 7]]);
    assert.deepEqual(esc.attempts.map((a: { stderr: { tail: string } }) => a.stderr.tail), ['doomed', 'doomed', 'doomed']);
    assert.deepEqual(esc.attempts.map((a: { stdout: { tail: string } }) => a.stdout.tail), ['', '', '']);
    assert.deepEqual(esc.answers.map((a: { command: string }) => a.command), [`forge retry ${batch}__doomed`, `forge retry ${batch}`, `forge cancel ${batch}`, 'forge submit retries']);
    assert.equal(esc.answers[0].file, `control/retry/${batch}__doomed`);
    // And the events for people: the task that gave up (pointing at that record) and the failed batch.
    const events = await Promise.all((await readdir(join(paths.root, 'outbox'))).filter((n) => n.endsWith('.json')).sort()
      .map(async (n) => JSON.parse(await readFile(join(paths.root, 'outbox', n), 'utf8'))));
    assert.deepEqual(events.map((e) => [e.type, e.task, e.escalation]), [
      ['task_gave_up', `${batch}__doomed`, `escalations/tasks/${batch}__doomed.json`],
      ['batch_failed', null, null],
    ]);
    assert.equal(events[1].message, `batch ${batch} (plan retries) failed: 3 complete, 2 failed or not run, of 5; gave up: ${batch}__doomed`);
  } finally {
    await stopAll(procs);
    await cleanup();
  }
});

const CHAIN = (n: number, ms: number) =>
  `# Chain\n\n## Goal\nA chain.\n\n## Tasks\n\n` +
  Array.from({ length: n }, (_, i) =>
    `### s${i}\n- **task_class**: cpu\n- **command**: \`node scripts/step.mjs {BATCH_PATH} s${i} ${ms}\`\n` + (i ? `- **depends_on**: s${i - 1}\n` : ''),
  ).join('\n');

const STEP = `import { appendFileSync } from 'node:fs';
const [dir, name, ms] = process.argv.slice(2);
await new Promise((r) => setTimeout(r, Number(ms)));
appendFileSync(dir + '/runs.log', name + '\\n');
`;

test('killing the brain with SIGKILL mid-batch and starting it again finishes the batch; no task lost or run twice', async () => {
  const { paths, cleanup } = await tempMount();
  const procs = [];
  try {
    await writeTestConfig(paths, 2);
    await writePlan(paths, 'chain', CHAIN(8, 300), { 'step.mjs': STEP });
    const agents = [startAgent(paths, 0), startAgent(paths, 1)];
    procs.push(...agents);
    let brain = startBrain(paths);
    await waitForAgents(paths, [0, 1], 30_000);
    const batch = await submitPlan(paths.root, 'chain');
    const rec = await waitFor('a few steps', async () => {
      const r = await readBatchRecord(paths, batch);
      const runs = await readFile(join(r?.batch_path ?? '/nonexistent', 'runs.log'), 'utf8').catch(() => '');
      return runs.split('\n').filter(Boolean).length >= 3 ? r : null;
    }, 60_000);
    brain.kill('SIGKILL');
    await brain;
    // Work goes on without the brain: agents finish what they hold; nothing new is released.
    await new Promise((r) => setTimeout(r, 800));
    brain = startBrain(paths);
    procs.push(brain);
    const done = await waitForBatchEnd(paths, batch, 120_000);
    assert.equal(done.state, 'complete');
    const runs = (await readFile(join(rec!.batch_path, 'runs.log'), 'utf8')).split('\n').filter(Boolean);
    assert.deepEqual(runs, Array.from({ length: 8 }, (_, i) => `s${i}`), 'each step ran exactly once, in order');
    const log = await decisionText(paths);
    assert.match(log, /RECOVER/);
    for (let i = 0; i < 8; i++) {
      const releases = log.split('\n').filter((l) => l.includes(`RELEASE task=${batch}__s${i} `));
      // At most once: a brain killed between a release's rename and its log line leaves the
      // task released (runs.log shows it ran once) with no RELEASE line of its own.
      assert.ok(releases.length <= 1, `s${i} released ${releases.length} times`);
    }
  } finally {
    await stopAll(procs);
    await cleanup();
  }
});
