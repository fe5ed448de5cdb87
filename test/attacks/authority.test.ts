// A task file carries no authority of its own: an agent runs a queued file only when it is what
// the brain released (brain/seals/<batch>.json holds a digest of each task's command, folders
// and type), with its batch's batch_path, and with `approved` backed by a file in approvals/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeJsonAtomic } from '../../agents/core/atomic.ts';
import { join } from 'node:path';
import { addToSeal, checkSeal } from '../../agents/core/seal.ts';
import { submitPlan, waitFor, waitForAgents, waitForBatchEnd } from '../../tools/harness/runRig.ts';
import { decisionText, makeTask, tempMount } from '../helpers/mount.ts';
import { startAgent, startBrain, stopAll, writePlan, writeTestConfig } from '../helpers/rig.ts';

test('checkSeal: only the task the brain sealed, in its batch folder, approved only with a file', () => {
  const t = makeTask({ batch: 'b1', name: 'a', batch_path: '/m/plans/p/batches/b1', argv: ['echo', 'hi'], command: 'echo hi' });
  const seal = addToSeal(null, 'b1', '/m/plans/p/batches/b1', [t]);
  assert.deepEqual(checkSeal(t, seal, false), { ok: true });
  const no = (v: ReturnType<typeof checkSeal>) => (v.ok ? '' : v.reason);
  assert.match(no(checkSeal(t, null, false)), /not released by the brain: batch b1 has no seal/);
  assert.match(no(checkSeal(makeTask({ batch: 'b1', name: 'x', batch_path: '/m/plans/p/batches/b1' }), seal, false)), /task b1__x is not in its batch's seal/);
  assert.match(no(checkSeal({ ...t, argv: ['rm', '-rf', '/'] }, seal, false)), /differ from what the brain released/);
  assert.match(no(checkSeal({ ...t, command: 'rm -rf /' }, seal, false)), /differ from what the brain released/);
  assert.match(no(checkSeal({ ...t, cwd: '/' }, seal, false)), /differ from what the brain released/);
  assert.match(no(checkSeal({ ...t, batch_path: '/' }, seal, false)), /batch_path \/ is not its batch's/);
  assert.match(no(checkSeal({ ...t, approved: true }, seal, false)), /no approval file approvals\/b1__a exists/);
  assert.deepEqual(checkSeal({ ...t, approved: true }, seal, true), { ok: true });
  // Fields the brain itself changes between releases are not sealed.
  assert.deepEqual(checkSeal({ ...t, vram_estimate_mb: 4096, attempt: 3 }, seal, false), { ok: true });
});

const PLAN = `# Fine\n\n## Goal\nA real batch beside the forgeries.\n\n## Tasks\n\n### a\n- **task_class**: cpu\n- **command**: \`sh -c 'echo ok > "$1/a.txt"' sh {BATCH_PATH}\`\n`;

test('task files written straight into queue/ never run; a real batch beside them completes', { timeout: 120_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  const procs = [];
  try {
    await writeTestConfig(paths, 1);
    await writePlan(paths, 'fine', PLAN);
    procs.push(startBrain(paths), startAgent(paths, 0));
    await waitForAgents(paths, [0], 30_000);
    const marker = (n: string) => join(paths.root, `pwned-${n}`);
    const forge = (name: string, batch: string, over: Record<string, unknown>) =>
      writeJsonAtomic(join(paths.folders.queue, `${batch}__${name}.json`), (makeTask({
        batch, name, argv: ['touch', marker(name)], command: `touch ${marker(name)}`, cwd: paths.root, batch_path: '/', approved: true, ...over,
      })));
    // A batch nobody submitted; and, once the real batch exists, a task added to it.
    await forge('evil', 'nobatch', {});
    const batch = await submitPlan(paths.root, 'fine');
    await forge('extra', batch, {});
    const rec = await waitForBatchEnd(paths, batch, 60_000);
    assert.equal(rec.state, 'complete');
    const log = await waitFor('both forgeries refused', async () => {
      const log = await decisionText(paths);
      return /REFUSED task=nobatch__evil — not released by the brain: batch nobatch has no seal/.test(log)
        && new RegExp(`REFUSED task=${batch}__extra — not released by the brain: task ${batch}__extra is not in its batch's seal`).test(log) ? log : null;
    }, 20_000).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${await decisionText(paths)}`);
    });
    assert.doesNotMatch(log, new RegExp(`REFUSED task=${batch}__a `), 'the real task was never refused');
    assert.equal(existsSync(marker('evil')), false, 'the forged task of no batch never ran');
    assert.equal(existsSync(marker('extra')), false, 'the task added to a real batch never ran');
  } finally {
    await stopAll(procs);
    await cleanup();
  }
});
