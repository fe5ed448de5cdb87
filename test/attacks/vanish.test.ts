// Nothing vanishes: a task of an active batch that is found in no folder (deleted, or
// quarantined by someone) is taken back by the brain after a minute on its own clock, with a
// MISSING decision naming where its copy went, instead of leaving the batch `running` for ever.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ManualClock, isoTime } from '../../agents/core/clock.ts';
import { Config } from '../../agents/core/config.ts';
import { writeBatchRecord } from '../../agents/core/batch.ts';
import { writeSubmission } from '../../agents/core/inbox.ts';
import { TaskStore } from '../../agents/core/store.ts';
import { Brain } from '../../agents/brain/brain.ts';
import { overdueMissing } from '../../agents/brain/missing.ts';
import { makeTask, tempMount } from '../helpers/mount.ts';

const config = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 1 }] });
const B = '20260101-000000-bbbbbb';

test('overdueMissing: only ids missing continuously for the whole wait, on the caller\'s clock', () => {
  const since = new Map<string, number>();
  const seen = new Map([['a', 'queue' as const]]);
  assert.deepEqual(overdueMissing({ expected: ['a', 'b'], seen, since, now: 0, afterMs: 100 }), []);
  assert.deepEqual(overdueMissing({ expected: ['a', 'b'], seen, since, now: 99, afterMs: 100 }), []);
  assert.deepEqual(overdueMissing({ expected: ['a', 'b'], seen, since, now: 100, afterMs: 100 }), ['b']);
  // Seen again: the wait starts over.
  assert.deepEqual(overdueMissing({ expected: ['a', 'b'], seen: new Map([['b', 'queue' as const]]), since, now: 150, afterMs: 100 }), []);
  assert.deepEqual(overdueMissing({ expected: ['a', 'b'], seen, since, now: 200, afterMs: 100 }), []);
});

test('a released task deleted from queue/ and a running one quarantined out of processing/ are taken back; the batch goes on', { timeout: 30_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:10.000Z'));
    const store = new TaskStore(paths);
    const names = ['a', 'b', 'batch_summary'];
    await mkdir(join(paths.plans, 'p', 'batches', B), { recursive: true });
    for (const name of ['a', 'b']) await store.write('private', makeTask({ batch: B, name }));
    await store.write('private', makeTask({ batch: B, name: 'batch_summary', executor: 'brain', type: 'batch_summary', depends_on: [`${B}__a`, `${B}__b`], command: null, argv: null }));
    await writeBatchRecord(paths, {
      id: B, plan: 'p', plan_dir: join(paths.plans, 'p'), batch_path: join(paths.plans, 'p', 'batches', B), state: 'pending', values: {},
      submitted_at: isoTime(clock.now()), started_at: null, finished_at: null, task_ids: names.map((n) => `${B}__${n}`),
    });
    const brain = new Brain({ paths, config, clock, say: () => {} });
    await brain.recover();
    await brain.pass(); // starts the batch, releases a and b
    assert.ok((await store.list('queue')).includes(`${B}__a`));
    // b is claimed by an agent and runs; then both files vanish.
    await store.move(`${B}__b`, 'queue', 'processing');
    await store.replace('processing', `${B}__b`, (t) => ({ ...t, attempt: 1, claimed_by: 'gpu-0', claimed_at: isoTime(clock.now()) }));
    clock.advance(1000);
    await brain.pass();
    await unlink(store.fileOf('queue', `${B}__a`));
    await mkdir(join(paths.quarantine, 'processing'), { recursive: true });
    await rename(store.fileOf('processing', `${B}__b`), join(paths.quarantine, 'processing', `x-${B}__b.json`));
    await brain.pass();
    clock.advance(30_000);
    await brain.pass();
    assert.deepEqual(await store.list('queue'), [], 'not before a minute has passed');
    clock.advance(31_000);
    await brain.pass();
    const log = await readFile(paths.decisionLog, 'utf8');
    assert.match(log, new RegExp(`MISSING task=${B}__a — found in no folder for 60 s \\(last seen in queue/\\); taken back into queue/`));
    assert.match(log, new RegExp(`MISSING task=${B}__b — found in no folder for 60 s \\(last seen in processing/\\); a copy is in quarantine/processing/x-${B}__b.json; taken back into failed/ as a lost attempt \\(infra\\)`));
    assert.ok((await store.list('queue')).includes(`${B}__a`), 'a is queued again');
    // b's lost attempt is infra: the brain retries it without blame, after the backoff (retries.backoff_base_s, 3 s, plus jitter).
    await brain.pass();
    assert.ok(!(await store.list('queue')).includes(`${B}__b`), 'b waits its backoff first');
    assert.match(await readFile(paths.decisionLog, 'utf8'), new RegExp(`BACKOFF task=${B}__b .*retrying in \\d+ s \\(backoff 3\\.\\d s\\)`));
    clock.advance(3750);
    await brain.pass();
    assert.ok((await store.list('queue')).includes(`${B}__b`), 'b is released again');
    assert.match(await readFile(paths.decisionLog, 'utf8'), new RegExp(`RETRY task=${B}__b`));
  } finally {
    await cleanup();
  }
});

test('a private task deleted while no brain ran is made again from its plan, checked against the batch\'s seal', { timeout: 30_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:10.000Z'));
    const store = new TaskStore(paths);
    const plan = join(paths.plans, 'two');
    await mkdir(plan, { recursive: true });
    await writeFile(join(plan, 'plan.md'), '# Two\n\n## Goal\nTwo steps.\n\n## Tasks\n\n### first\n- **task_class**: cpu\n- **command**: `true`\n\n### second\n- **task_class**: cpu\n- **command**: `true`\n- **depends_on**: first\n');
    await writeSubmission(paths, { plan: 'two', config: {}, batch_id: B, submitted_at: isoTime(clock.now()) });
    const first = new Brain({ paths, config, clock, say: () => {} });
    await first.recover();
    // The plan is checked in a worker thread: passes go on until the brain has ingested it.
    for (let i = 0; i < 500 && !(await store.list('private')).includes(`${B}__second`); i++) {
      await first.pass();
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok((await store.list('private')).includes(`${B}__second`));
    // The brain stops; someone deletes a waiting task; a new brain starts and has never read it.
    await unlink(store.fileOf('private', `${B}__second`));
    const next = new Brain({ paths, config, clock, say: () => {} });
    await next.recover();
    await next.pass();
    clock.advance(61_000);
    await next.pass();
    assert.match(await readFile(paths.decisionLog, 'utf8'), new RegExp(`MISSING task=${B}__second — found in no folder for 60 s and never read by this brain; made again from its plan \\(it matches the batch's seal\\) into private/`));
    assert.ok((await store.list('private')).includes(`${B}__second`));
    // A plan changed since the batch was sealed is not trusted to remake its tasks.
    await unlink(store.fileOf('private', `${B}__second`));
    await writeFile(join(plan, 'plan.md'), (await readFile(join(plan, 'plan.md'), 'utf8')).replace('`true`\n- **depends_on**', '`rm -rf /`\n- **depends_on**'));
    const third = new Brain({ paths, config, clock, say: () => {} });
    await third.recover();
    await third.pass();
    clock.advance(61_000);
    await third.pass();
    assert.match(await readFile(paths.decisionLog, 'utf8'), new RegExp(`MISSING task=${B}__second — .*it cannot be rebuilt \\(not in its plan as sealed\\)`));
    assert.equal((await store.list('private')).includes(`${B}__second`), false);
  } finally {
    await cleanup();
  }
});
