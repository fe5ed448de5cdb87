// forge cancel, retry and signal abort, end to end (priorities and fairness at scale:
// test/long/fairness.test.ts): a real brain and agents on
// simulated GPUs, real workers, and the commands as a person types them.
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readBatchRecord, readBrainState } from '../../agents/core/batch.ts';
import type { MountPaths } from '../../agents/core/paths.ts';
import { Task } from '../../agents/core/task.ts';
import { submitPlan, waitFor, waitForBatchEnd } from '../../tools/harness/runRig.ts';
import { decisionText } from '../helpers/mount.ts';
import { forge, withRig, writePlan } from '../helpers/rig.ts';


async function archived(paths: MountPaths, batchId: string): Promise<Map<string, Task>> {
  const dir = join(paths.tasks, 'archive', batchId);
  const out = new Map<string, Task>();
  for (const n of await readdir(dir)) {
    const t = Task.parse(JSON.parse(await readFile(join(dir, n), 'utf8')));
    out.set(t.name, t);
  }
  return out;
}

/** Writes started-<name> (its pid) into the batch folder, then sleeps. */
const MARK = `import { writeFileSync } from 'node:fs';
const [dir, name, ms] = process.argv.slice(2);
writeFileSync(dir + '/started-' + name, String(process.pid));
setTimeout(() => {}, Number(ms));
`;

async function started(batchPath: string): Promise<string[]> {
  return (await readdir(batchPath).catch(() => [] as string[])).filter((n) => n.startsWith('started-')).sort();
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}


const SLEEPERS = `# Sleepers

## Goal
Tasks that run long, for cancel.

## Tasks
${[1, 2, 3, 4, 5].map((i) => `
### s${i}
- **task_class**: cpu
- **command**: \`node scripts/mark.mjs {BATCH_PATH} s${i} 60000\`
`).join('')}
### after
- **task_class**: cpu
- **command**: \`node scripts/mark.mjs {BATCH_PATH} after 1\`
- **depends_on**: s1
`;

test('forge cancel of a batch with tasks waiting, queued and running: all end, the batch is cancelled, nothing starts after', async () => {
  // Two workers at a time: two tasks run, three wait in queue/, one waits for s1 in private/
  await withRig(1, { resource_limits: { max_workers: 2 }, timeouts: { abort_grace_s: 2 } }, async (paths) => {
    await writePlan(paths, 'sleepers', SLEEPERS, { 'mark.mjs': MARK });
    const batch = await submitPlan(paths.root, 'sleepers');
    const rec = await waitFor('the batch record', () => readBatchRecord(paths, batch), 20_000);
    const running = await waitFor('two tasks running', async () => ((await started(rec.batch_path)).length === 2 ? started(rec.batch_path) : null), 30_000);
    assert.ok((await readdir(paths.folders.queue)).length >= 3, 'three tasks queued');

    const cancel = await forge('cancel', batch, '--shared', paths.root);
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.match(cancel.stdout, new RegExp(`control/cancel/${batch}$`));
    const end = await waitForBatchEnd(paths, batch, 30_000);
    assert.equal(end.state, 'cancelled');

    assert.deepEqual(await started(rec.batch_path), running, 'no task started after the cancel');
    const tasks = await archived(paths, batch);
    for (const name of ['s1', 's2', 's3', 's4', 's5', 'after']) assert.equal(tasks.get(name)?.result?.outcome, 'cancelled', name);
    for (const t of tasks.values()) assert.ok(t.attempts.length <= 1, `${t.name} ran at most once`);
    assert.equal(tasks.get('batch_summary')?.result?.outcome, 'success', 'the summary still says what ran');
    // The two workers' tasks were stopped, not left sleeping.
    for (const f of running) {
      const pid = Number(await readFile(join(rec.batch_path, f), 'utf8'));
      await waitFor(`task ${f} (pid ${pid}) to be gone`, async () => !isAlive(pid), 10_000);
    }
    const log = await decisionText(paths);
    assert.match(log, new RegExp(`CANCEL batch=${batch}`));
    assert.doesNotMatch(log, /RETRY /, 'nothing retried');

    // A batch that has ended cannot be cancelled again: exit 1, with the reason.
    const again = await forge('cancel', batch, '--shared', paths.root);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /has already ended cancelled/);
    const unknown = await forge('cancel', 'no-such-batch', '--shared', paths.root);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no batch no-such-batch/);
  });
});

const ONE_LONG = `# One long

## Goal
A long task and its dependant, for an abort by hand.

## Tasks

### long
- **task_class**: cpu
- **command**: \`node scripts/mark.mjs {BATCH_PATH} long 60000\`

### after
- **task_class**: cpu
- **command**: \`node scripts/mark.mjs {BATCH_PATH} after 1\`
- **depends_on**: long
`;

test('forge signal AGENT abort TASK cancels the task: not retried, its dependant not run', async () => {
  await withRig(1, {}, async (paths) => {
    await writePlan(paths, 'onelong', ONE_LONG, { 'mark.mjs': MARK });
    const batch = await submitPlan(paths.root, 'onelong');
    const rec = await waitFor('the batch record', () => readBatchRecord(paths, batch), 20_000);
    await waitFor('long to start', async () => (await started(rec.batch_path)).includes('started-long'), 30_000);

    const sig = await forge('signal', 'gpu-0', 'abort', `${batch}__long`, '--shared', paths.root);
    assert.equal(sig.code, 0, sig.stderr);
    assert.match(sig.stderr, /will not be retried/);
    const end = await waitForBatchEnd(paths, batch, 30_000);
    assert.equal(end.state, 'failed');
    const tasks = await archived(paths, batch);
    assert.equal(tasks.get('long')?.result?.outcome, 'cancelled');
    assert.equal(tasks.get('long')?.attempts.length, 1, 'one attempt: not retried');
    assert.equal(tasks.get('after')?.result?.outcome, 'not_run');
    assert.ok(!(await started(rec.batch_path)).includes('started-after'));
    assert.doesNotMatch(await decisionText(paths), /RETRY task=\S+__long/);
  });
});

const GATED = `# Gated

## Goal
Fails until a person opens the gate; then a retry by hand completes it.

## Tasks

### gate
- **task_class**: cpu
- **command**: \`node scripts/gate.mjs {BATCH_PATH}/../../open\`
- **max_attempts**: 1

### next
- **task_class**: cpu
- **command**: \`node scripts/mark.mjs {BATCH_PATH} next 1\`
- **depends_on**: gate
`;

const GATE = `import { existsSync } from 'node:fs';
if (!existsSync(process.argv[2])) { console.error('the gate is closed'); process.exit(3); }
`;

test('forge retry of a failed batch: the failed task gets a fresh attempt, its dependant runs, the batch completes', async () => {
  await withRig(1, {}, async (paths) => {
    const dir = await writePlan(paths, 'gated', GATED, { 'mark.mjs': MARK, 'gate.mjs': GATE });
    const batch = await submitPlan(paths.root, 'gated');
    const failed = await waitForBatchEnd(paths, batch, 30_000);
    assert.equal(failed.state, 'failed');
    assert.equal((await archived(paths, batch)).get('next')?.result?.outcome, 'not_run');

    await writeFile(join(dir, 'open'), '');
    const retry = await forge('retry', batch, '--json', '--shared', paths.root);
    assert.equal(retry.code, 0, retry.stderr);
    assert.deepEqual(JSON.parse(retry.stdout), { action: 'retry', target: batch, kind: 'batch', file: join(paths.root, 'control', 'retry', batch) });
    const done = await waitFor('the batch to complete after the retry', async () => {
      const r = await readBatchRecord(paths, batch);
      return r?.state === 'complete' ? r : null;
    }, 40_000);
    assert.equal(done.final_counts?.complete, 3);
    // The record says complete before the files are archived; state.json drops the batch after.
    await waitFor('the batch archived', async () => !(await readBrainState(paths))?.active_batches.includes(batch), 20_000);
    const tasks = await archived(paths, batch);
    assert.equal(tasks.get('gate')?.attempts.length, 2, 'the first failure kept in its history, one fresh attempt');
    assert.equal(tasks.get('next')?.result?.outcome, 'success');
    assert.match(await decisionText(paths), new RegExp(`RETRY_BY_HAND batch=${batch} .*reopened \\(was failed\\)`));
    // Who ran what: a CLAIM and a DONE (or TASK_FAILED) line per attempt, with its number and time.
    const log = await decisionText(paths);
    assert.match(log, new RegExp(`gpu-0 +CLAIM task=${batch}__gate — attempt 1 of 1: cpu task gate`));
    assert.match(log, new RegExp(`gpu-0 +TASK_FAILED task=${batch}__gate — attempt 1 in \\d+\\.\\d s: failed`));
    assert.match(log, new RegExp(`gpu-0 +CLAIM task=${batch}__gate — attempt 2 \\(1 of 1 since a retry by hand\\): cpu task gate`));
    assert.match(log, new RegExp(`gpu-0 +DONE task=${batch}__gate — attempt 2 in \\d+\\.\\d s`));
    // forge history lists it, finished, with its counts.
    const history = await forge('history', '--json', '--shared', paths.root);
    assert.equal(history.code, 0, history.stderr);
    const listed = (JSON.parse(history.stdout) as { batches: Array<{ id: string; state: string; tasks: { complete: number } | null; duration_s: number | null }> }).batches;
    assert.deepEqual(listed.map((b) => [b.id, b.state, b.tasks?.complete]), [[batch, 'complete', 3]]);
    assert.ok((listed[0]?.duration_s ?? -1) >= 0);
  });
});
