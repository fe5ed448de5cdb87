// Checkpoints and resume with the real commands on a simulated rig: a task killed with its
// agent resumes from its checkpoint folder on the next attempt; `forge submit --resume` of a
// failed batch runs only the failed task and its dependants again, and refuses what it cannot resume.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readBatchRecord } from '../../agents/core/batch.ts';
import { submitPlan, waitFor, waitForAgents, waitForBatchEnd } from '../../tools/harness/runRig.ts';
import { decisionText, tempMount } from '../helpers/mount.ts';
import { forge, startAgent, startBrain, stopAll, writePlan, writeTestConfig } from '../helpers/rig.ts';
import type { MountPaths } from '../../agents/core/paths.ts';

// Each script appends a line to {BATCH_PATH}/ran.log when it starts: what ran, and how often.
const STEP = `import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
const [name, batch] = process.argv.slice(2);
appendFileSync(batch + '/ran.log', name + '\\n');
mkdirSync(batch + '/outputs', { recursive: true });
writeFileSync(batch + '/outputs/' + name + '.json', JSON.stringify({ name }));
if (name === 'side') writeFileSync(batch + '/side.txt', 'side');
`;
const CHECK = `import { appendFileSync, readFileSync } from 'node:fs';
const batch = process.argv[2];
appendFileSync(batch + '/ran.log', 'check\\n');
const text = readFileSync('data/input.txt', 'utf8').trim();
if (text !== 'good') { console.error('data/input.txt: expected good, found ' + text); process.exit(1); }
`;
const RESUME_PLAN = `# Resume

## Goal
prepare and side complete; check fails until data/input.txt is fixed; report needs check.

## Tasks

### prepare
- **task_class**: cpu
- **command**: \`node scripts/step.mjs prepare {BATCH_PATH}\`

### check
- **task_class**: cpu
- **command**: \`node scripts/check.mjs {BATCH_PATH}\`
- **depends_on**: prepare
- **inputs**: data/input.txt
- **max_attempts**: 1

### report
- **task_class**: cpu
- **command**: \`node scripts/step.mjs report {BATCH_PATH}\`
- **depends_on**: check

### side
- **task_class**: cpu
- **command**: \`node scripts/step.mjs side {BATCH_PATH}\`
- **outputs**: {BATCH_PATH}/side.txt
`;

// N steps, each recorded in the checkpoint folder once finished and logged in work.log.
const STEPS = `import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
const [n, dir, log] = [Number(process.argv[2]), process.argv[3], process.argv[4]];
if (dir !== process.env.FORGE_CHECKPOINT_DIR) { console.error('{CHECKPOINT_DIR} is not FORGE_CHECKPOINT_DIR'); process.exit(2); }
const file = dir + '/done';
const from = existsSync(file) ? Number(readFileSync(file, 'utf8')) : 0;
appendFileSync(log, 'start attempt=' + process.env.FORGE_ATTEMPT + ' from=' + from + '\\n');
for (let i = from + 1; i <= n; i++) {
  await new Promise((r) => setTimeout(r, 150));
  appendFileSync(log, 'step ' + i + '\\n');
  writeFileSync(file + '.tmp', String(i));
  renameSync(file + '.tmp', file);
}
`;
const STEPS_PLAN = `# Steps

## Goal
Twelve steps, resumed from the checkpoint after a kill.

## Tasks

### long
- **task_class**: cpu
- **command**: \`node scripts/steps.mjs 12 {CHECKPOINT_DIR} {BATCH_PATH}/work.log\`
`;

async function archived(paths: MountPaths, batch: string, name: string) {
  return JSON.parse(await readFile(join(paths.tasks, 'archive', batch, `${batch}__${name}.json`), 'utf8')) as { attempts: { outcome: string }[]; attempts_from: number; result: { outcome: string } };
}

const counts = (text: string) => text.trim().split('\n').reduce((m, l) => m.set(l, (m.get(l) ?? 0) + 1), new Map<string, number>());

test('checkpoints survive a killed attempt, and --resume reruns only what failed and its dependants', async () => {
  const { paths, cleanup } = await tempMount();
  const procs = [];
  try {
    await writeTestConfig(paths, 1, { timeouts: { heartbeat_stale_s: 600 }, workers: { preboot: false } });
    const planDir = await writePlan(paths, 'resume', RESUME_PLAN, { 'step.mjs': STEP, 'check.mjs': CHECK });
    await mkdir(join(planDir, 'data'));
    await writeFile(join(planDir, 'data', 'input.txt'), 'bad\n');
    await writePlan(paths, 'steps', STEPS_PLAN, { 'steps.mjs': STEPS });
    procs.push(startBrain(paths));
    let agent = startAgent(paths, 0);
    procs.push(agent);
    await waitForAgents(paths, [0], 30_000);

    // --resume: the batch fails on the bad input; fixed, only check and report run again.
    const batch = await submitPlan(paths.root, 'resume');
    const failed = await waitForBatchEnd(paths, batch, 60_000);
    assert.equal(failed.state, 'failed');
    const batchPath = failed.batch_path;
    assert.deepEqual(counts(await readFile(join(batchPath, 'ran.log'), 'utf8')), new Map([['prepare', 1], ['side', 1], ['check', 1]]));
    await writeFile(join(planDir, 'data', 'input.txt'), 'good\n');
    const asked = await forge('submit', '--resume', batch, '--shared', paths.root);
    assert.equal(asked.code, 0, asked.stderr);
    assert.equal(asked.stdout.trim().split('\n').at(-1), batch);
    await waitFor('the batch reopened', async () => (await readBatchRecord(paths, batch))?.state !== 'failed', 30_000);
    const done = await waitForBatchEnd(paths, batch, 60_000);
    assert.equal(done.state, 'complete');
    assert.equal(done.batch_path, batchPath, 'resumed in place');
    assert.deepEqual(counts(await readFile(join(batchPath, 'ran.log'), 'utf8')), new Map([['prepare', 1], ['side', 1], ['check', 2], ['report', 1]]));
    for (const name of ['prepare', 'side']) assert.equal((await archived(paths, batch, name)).attempts.length, 1, `${name} did not run again`);
    const check = await archived(paths, batch, 'check');
    assert.deepEqual(check.attempts.map((a) => a.outcome), ['failed', 'success']);
    assert.equal(check.attempts_from, 1, 'fresh attempts');
    const log = await decisionText(paths);
    assert.match(log, new RegExp(`RESUME_BATCH batch=${batch} — batch ${batch} resumed \\(was failed\\): 2 task\\(s\\) cached, 3 run again`));
    assert.match(log, new RegExp(`CACHED task=${batch}__prepare — inputs unchanged, outputs present`));
    assert.match(log, new RegExp(`RERUN task=${batch}__check — it ended failed`));
    assert.match(log, new RegExp(`RERUN task=${batch}__report — it was not run`));

    // Refused, exit 1, nothing written: a complete batch, an unknown id, a malformed id.
    for (const [id, said] of [[batch, /completed: nothing to resume/], ['20260101-000000-abcdef', /no batch 20260101-000000-abcdef on this mount/], ['../x', /not a batch id/]] as const) {
      const r = await forge('submit', '--resume', id, '--shared', paths.root);
      assert.equal(r.code, 1, `${id}: ${r.stderr}`);
      assert.match(r.stderr, said);
    }
    assert.deepEqual((await readdir(paths.inbox)).filter((n) => n.endsWith('.json')), []);

    // A checkpoint folder: the task is killed with its agent mid-way, and its retry goes on from the last finished step.
    const steps = await submitPlan(paths.root, 'steps');
    const work = await waitFor('four steps done', async () => {
      const dir = join(paths.plans, 'steps', 'batches', steps);
      const text = await readFile(join(dir, 'work.log'), 'utf8').catch(() => '');
      return (text.match(/^step /gm)?.length ?? 0) >= 4 ? join(dir, 'work.log') : null;
    }, 30_000);
    const running = await forge('submit', '--resume', steps, '--shared', paths.root);
    assert.equal(running.code, 1);
    assert.match(running.stderr, /is running: only a failed or cancelled batch can be resumed/);
    agent.kill('SIGKILL');
    await agent;
    agent = startAgent(paths, 0);
    procs.push(agent);
    assert.equal((await waitForBatchEnd(paths, steps, 60_000)).state, 'complete');
    const lines = (await readFile(work, 'utf8')).trim().split('\n');
    const starts = lines.filter((l) => l.startsWith('start'));
    assert.equal(starts.length, 2, lines.join('\n'));
    assert.match(starts[1]!, /^start attempt=2 from=([4-9]|1[0-2])$/);
    const stepCounts = counts(lines.filter((l) => l.startsWith('step')).join('\n'));
    assert.deepEqual([...stepCounts.keys()].sort(), Array.from({ length: 12 }, (_, i) => `step ${i + 1}`).sort());
    const redone = [...stepCounts.values()].reduce((n, c) => n + c - 1, 0);
    assert.ok(redone <= 1, `at most the step in progress is done again; redone ${redone}:\n${lines.join('\n')}`);
    assert.equal((await archived(paths, steps, 'long')).result.outcome, 'success');
  } finally {
    await stopAll(procs);
    await cleanup();
  }
});
