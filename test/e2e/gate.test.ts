// Gate tasks end to end on a simulated rig: one plan submitted three times, with an input that
// makes its gate say no, yes, or exit 0 without a verdict. No: the tasks behind it end
// skipped, the batch complete, and `forge status --json` says so with the gate's reason. Yes:
// they run. No verdict: the gate fails as its own fault and the batch fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { submitPlan, waitForBatchEnd } from '../../tools/harness/runRig.ts';
import { decisionText } from '../helpers/mount.ts';
import { forge, withRig, writePlan } from '../helpers/rig.ts';

const PLAN = `# Gate

## Goal
Work only when the check says so.

## Inputs
- **MODE**: go

## Tasks

### check
- **task_class**: cpu
- **command**: \`node scripts/check.mjs -- {MODE} {BATCH_PATH}\`
- **gate**: true
- **max_attempts**: 1

### work
- **task_class**: cpu
- **command**: \`node scripts/touch.mjs {BATCH_PATH}/work.txt\`
- **depends_on**: check

### after
- **task_class**: cpu
- **command**: \`node scripts/touch.mjs {BATCH_PATH}/after.txt\`
- **depends_on**: work
`;

// go: proceed; stop: no, with a reason; silent: exit 0 without a verdict.
const CHECK = `import { mkdir, rename, writeFile } from 'node:fs/promises';
const [, mode, batch] = process.argv.slice(2);
if (mode !== 'silent') {
  await mkdir(batch + '/outputs', { recursive: true });
  const verdict = mode === 'go' ? { proceed: true, reason: 'input ok' } : { proceed: false, reason: 'mode ' + mode + ': nothing to do' };
  await writeFile(batch + '/outputs/.check.tmp', JSON.stringify(verdict));
  await rename(batch + '/outputs/.check.tmp', batch + '/outputs/check.json');
}
`;
const TOUCH = `import { writeFile } from 'node:fs/promises';
await writeFile(process.argv[2], 'done\\n');
`;

test('a gate that says no skips what is behind it and the batch completes; yes runs it; no verdict fails the gate', async () => {
  await withRig(1, {}, async (paths) => {
    const dir = await writePlan(paths, 'gated', PLAN, { 'check.mjs': CHECK, 'touch.mjs': TOUCH });
    const no = await submitPlan(paths.root, dir, { MODE: 'stop' });
    const yes = await submitPlan(paths.root, dir, { MODE: 'go' });
    const silent = await submitPlan(paths.root, dir, { MODE: 'silent' });

    const noRec = await waitForBatchEnd(paths, no, 60_000);
    assert.equal(noRec.state, 'complete', JSON.stringify(noRec));
    assert.deepEqual(noRec.final_counts, { total: 4, waiting: 0, queued: 0, processing: 0, complete: 2, failed: 0, skipped: 2 });
    const reason = 'gate check said no: mode stop: nothing to do';
    assert.deepEqual(noRec.skipped_by_gate, { [`${no}__check`]: { reason, tasks: [`${no}__work`, `${no}__after`] } });
    assert.equal(existsSync(join(noRec.batch_path, 'work.txt')), false, 'work did not run');
    assert.equal(existsSync(join(noRec.batch_path, 'after.txt')), false, 'after did not run');

    const yesRec = await waitForBatchEnd(paths, yes, 60_000);
    assert.equal(yesRec.state, 'complete');
    assert.equal(yesRec.final_counts?.skipped, 0);
    assert.equal(await readFile(join(yesRec.batch_path, 'after.txt'), 'utf8'), 'done\n', 'work and after ran');

    const silentRec = await waitForBatchEnd(paths, silent, 60_000);
    assert.equal(silentRec.state, 'failed');
    assert.deepEqual(silentRec.not_run.sort(), [`${silent}__after`, `${silent}__work`]);
    assert.match(silentRec.failure_reasons[`${silent}__check`] ?? '', /exited 0 but gave no valid verdict: .*outputs\/check\.json: it does not exist; a gate writes \{"proceed": true\|false/);

    // forge status --json: the skipped tasks, with their state and the gate's reason; the counts.
    const status = await forge('status', '--json', '--shared', paths.root);
    assert.equal(status.code, 0, status.stderr);
    const json = JSON.parse(status.stdout);
    assert.deepEqual(json.skipped, [
      { task_id: `${no}__after`, batch: no, state: 'skipped', gate: `${no}__check`, reason },
      { task_id: `${no}__work`, batch: no, state: 'skipped', gate: `${no}__check`, reason },
    ]);
    assert.equal(json.batches.find((b: { id: string }) => b.id === no).tasks.skipped, 2);
    const text = await forge('status', '--shared', paths.root);
    assert.match(text.stdout, new RegExp(`${no}__work  skipped  ${reason}`));

    const summary = JSON.parse(await readFile(join(noRec.batch_path, 'summary.json'), 'utf8'));
    assert.deepEqual(summary.tasks.map((t: { name: string; state: string }) => `${t.name}:${t.state}`), ['check:complete', 'work:skipped', 'after:skipped']);
    const log = await decisionText(paths);
    assert.match(log, new RegExp(`SKIP task=${no}__work — skipped: ${reason}`));
    assert.match(log, /gate says no: mode stop: nothing to do/);
  });
});
