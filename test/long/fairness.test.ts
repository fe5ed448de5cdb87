// Priorities and fairness at scale, end to end: a real brain and two agents on simulated GPUs,
// a 2,000-item batch, and two small batches submitted behind it. A long run (about 20 s of a
// loaded 2-core machine): npm run test:long.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { test } from 'node:test';
import { readBatchRecord } from '../../agents/core/batch.ts';
import { submitPlan, waitFor, waitForBatchEnd } from '../../tools/harness/runRig.ts';
import { forge, withRig, writePlan } from '../helpers/rig.ts';

const BIG = `# Big

## Goal
A large batch: 2,000 small tasks.

## Tasks

### make
- **task_class**: cpu
- **command**: \`node -e "require('fs').writeFileSync(process.argv[1] + '/items.json', JSON.stringify(Array.from({length: 2000}, (_, i) => ({n: i}))))" {BATCH_PATH}\`

### work
- **task_class**: cpu
- **foreach**: {BATCH_PATH}/items.json:
- **command**: \`true {ITEM.n}\`
- **depends_on**: make
`;

const SMALL = (title: string) => `# ${title}

## Goal
Ten small tasks.

## Tasks
${Array.from({ length: 10 }, (_, i) => `
### t${i}
- **task_class**: cpu
- **command**: \`true ${i}\`
`).join('')}`;

test('fairness: behind a 2,000-task batch, a priority-1 batch finishes first and a 10-task batch before the big one is a quarter done', async (t) => {
  await withRig(2, { resource_limits: { max_workers: 3 } }, async (paths) => {
    await writePlan(paths, 'big', BIG);
    await writePlan(paths, 'small', SMALL('Small'));
    await writePlan(paths, 'urgent', SMALL('Urgent'));
    const big = await submitPlan(paths.root, 'big');
    // Its items are made a window at a time and archived as each finishes: the batch record counts them.
    const bigItemsDone = async () => Object.values((await readBatchRecord(paths, big))?.windows ?? {}).reduce((n, w) => n + w.complete, 0);
    // The big batch's items are being worked through.
    await waitFor('the big batch running', async () => (await bigItemsDone()) >= 20, 120_000, 250);
    // The two are submitted while the rig is paused, so both are queued when claiming goes on:
    // what comes first is then the order's doing, not which submission the brain read first.
    assert.equal((await forge('pause', 'rig', '--shared', paths.root)).code, 0);
    const small = await submitPlan(paths.root, 'small');
    const u = await forge('submit', 'urgent', '--priority', '1', '--shared', paths.root);
    assert.equal(u.code, 0, u.stderr);
    const urgent = u.stdout.trim().split('\n').pop()!;
    const queued = async (b: string) => (await readdir(paths.folders.queue)).filter((n) => n.startsWith(`${b}__`)).length;
    await waitFor('both batches queued', async () => (await queued(small)) === 10 && (await queued(urgent)) === 10, 60_000, 250);
    assert.equal((await forge('resume', 'rig', '--shared', paths.root)).code, 0);
    const smallEnd = await waitForBatchEnd(paths, small, 120_000);
    const bigDone = await bigItemsDone();
    const urgentEnd = await readBatchRecord(paths, urgent);
    assert.equal(smallEnd.state, 'complete');
    assert.equal(urgentEnd?.state, 'complete', 'the priority-1 batch finished before the small one');
    assert.ok(Date.parse(urgentEnd!.finished_at!) <= Date.parse(smallEnd.finished_at!), 'priority 1 first');
    assert.equal(urgentEnd?.priority, 1);
    t.diagnostic(`the big batch had ${bigDone} of 2000 items done when the small batch finished`);
    assert.ok(bigDone < 500, `the big batch was ${bigDone} of 2000 done when the small one finished (a quarter is 500)`);
  });
});
