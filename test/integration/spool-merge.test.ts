// A file per writer, merged by one reader: real writer processes append decision lines to
// their own spool files while the brain's merger merges them, and is restarted midway.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '../../agents/core/clock.ts';
import { Config } from '../../agents/core/config.ts';
import { DecisionLog, parseDecisionLine } from '../../agents/core/decisionLog.ts';
import type { MountPaths } from '../../agents/core/paths.ts';
import { readDecisionLines } from '../../agents/core/spool.ts';
import { LogMerger } from '../../agents/brain/logMerge.ts';
import { Brain } from '../../agents/brain/brain.ts';
import { tempMount } from '../helpers/mount.ts';
import { startBrain, stopAll, writeTestConfig } from '../helpers/rig.ts';
import { waitFor } from '../../tools/harness/runRig.ts';
import { MERGE_IDLE_MS } from '../../agents/brain/spoolMergeRules.ts';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WRITERS = 4;
const LINES = 2000;

/** The reason of writer line i: lengths vary, and multi-byte characters make byte and character counts differ. */
const reasonOf = (i: number) => `seq ${i} ${'é'.repeat(i % 97)}${'x'.repeat((i * 37) % 400)}|`;

const WRITER = `
  import { DecisionLog } from './agents/core/decisionLog.ts';
  import { mountPaths } from './agents/core/paths.ts';
  import { writeTrainingSample } from './agents/llm/trainingSamples.ts';
  const paths = mountPaths(process.env.SHARED);
  const who = 'w' + process.env.WRITER;
  const log = DecisionLog.spool(paths, who);
  const reasonOf = ${reasonOf.toString()};
  for (let i = 0; i < ${LINES}; i++) {
    await log.write({ who, what: 'STEP', task: 'b1__t' + i, reason: reasonOf(i) });
    if (i === 1000) await writeTrainingSample(paths.spoolSamples, {
      ts: new Date().toISOString(), task_id: 'b1__' + who, batch: 'b1', model: 'm', type: 'generate', prompt: 'p', response: 'r', ok: true,
    });
  }`;

function startWriter(paths: MountPaths, n: number) {
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', WRITER], {
    cwd: ROOT,
    env: { ...process.env, SHARED: paths.root, WRITER: String(n) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

function newMerger(paths: MountPaths): LogMerger {
  // Reads of 8 KiB: most rounds end in the middle of a line, which must wait for the next.
  return new LogMerger({ paths, log: new DecisionLog(paths.decisionLog), now: Date.now, say: (l) => assert.fail(l), maxReadBytes: 8 * 1024 });
}

test(`${WRITERS} writer processes × ${LINES} lines, merged while they write by a merger restarted midway: every line once, whole, in each writer's order`, { timeout: 120_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  try {
    // A FIFO in the spool folder is skipped, never opened for reading.
    execFileSync('mkfifo', [join(paths.spoolDecisions, 'pipe.somewhere.1.log')]);
    const children = Array.from({ length: WRITERS }, (_, n) => startWriter(paths, n));
    const exited = Promise.all(children.map(async (c) => (await once(c, 'exit'))[0] as number));
    let running = true;
    void exited.then(() => (running = false));

    let merger = newMerger(paths);
    let rounds = 0;
    let restarted = false;
    while (running) {
      await merger.mergeOnce();
      rounds++;
      // The brain restarts once some lines are merged: the new one goes on from the offsets.
      if (!restarted && (await readFile(paths.decisionLog, 'utf8').catch(() => '')).length > 100_000) {
        merger = newMerger(paths);
        restarted = true;
      }
    }
    assert.deepEqual(await exited, Array(WRITERS).fill(0));
    assert.ok(restarted, 'the merger was restarted while the writers wrote');
    assert.ok(rounds > 10, `merged while the writers wrote (${rounds} rounds)`);
    // What the writers wrote last: a fresh merger (another restart) takes it all.
    merger = newMerger(paths);
    while ((await merger.mergeOnce()).lines > 0);

    const text = await readFile(paths.decisionLog, 'utf8');
    assert.ok(text.endsWith('\n'));
    const next = new Map<string, number>();
    let bad = 0;
    for (const line of text.slice(0, -1).split('\n')) {
      const d = parseDecisionLine(line);
      if (d?.what === 'BAD_FILE') {
        bad++;
        assert.match(line, /logs\/spool\/decisions\/pipe\.somewhere\.1\.log: is a FIFO, not a regular file; skipped/);
        continue;
      }
      assert.ok(d && d.what === 'STEP' && d.task, `a whole decision line: ${line.slice(0, 120)}`);
      const i = Number(d.task.slice('b1__t'.length));
      const expected = next.get(d.who) ?? 0;
      assert.equal(i, expected, `${d.who}: line ${expected} comes next, in order and once`);
      assert.ok(line.endsWith(` — ${reasonOf(i)}`), `${d.who} line ${i} is whole`);
      next.set(d.who, i + 1);
    }
    assert.equal(bad, 3, 'the FIFO is reported once by each of the three mergers (a brain\'s notes last its life)');
    assert.deepEqual([...next.entries()].sort(), Array.from({ length: WRITERS }, (_, n) => [`w${n}`, LINES]));

    // Another restart repeats nothing; readers see every line once, merged or not.
    await rm(join(paths.spoolDecisions, 'pipe.somewhere.1.log'));
    assert.deepEqual(await newMerger(paths).mergeOnce(), { lines: 0, samples: 0, retired: [] });
    assert.equal(await readFile(paths.decisionLog, 'utf8'), text);
    assert.equal((await readDecisionLines(paths)).length, WRITERS * LINES + 3);

    // One training sample per writer, each exactly once, its file removed.
    const samples = (await readFile(paths.trainingSamples, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l).task_id as string);
    assert.deepEqual(samples.sort(), Array.from({ length: WRITERS }, (_, n) => `b1__w${n}`));
    assert.deepEqual(await readdir(paths.spoolSamples), []);
  } finally {
    await cleanup();
  }
});

test('the brain\'s pass merges the spool: a launcher\'s line reaches logs/brain_decisions.log', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const config = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 1 }] });
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:00.000Z'));
    const brain = new Brain({ paths, config, clock, say: () => {} });
    await brain.recover();
    const line = await DecisionLog.spool(paths, 'rig').write({ who: 'rig', what: 'RESTART', reason: 'gpu-0 died' });
    await brain.pass();
    assert.ok((await readFile(paths.decisionLog, 'utf8')).split('\n').includes(line));
    const again = await DecisionLog.spool(paths, 'rig').write({ who: 'rig', what: 'STOPPED' });
    await brain.pass();
    assert.ok(!(await readFile(paths.decisionLog, 'utf8')).includes(again), 'at most one merge a second on the brain clock');
    clock.advance(1000);
    await brain.pass();
    assert.ok((await readFile(paths.decisionLog, 'utf8')).split('\n').includes(again));
  } finally {
    await cleanup();
  }
});

test('an idle brain merges a line of its own host at once (a file event in the spool folder), not at its idle pace', { timeout: 60_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  // Passes every 30 s: only the merge's own rounds, timed or started by a file event, merge here.
  await writeTestConfig(paths, 1, { cycles: { internal_s: 30, external_s: 1 } });
  const brain = startBrain(paths);
  try {
    // Its first pass writes its metrics, after the merge's watch is set up.
    await waitFor('the brain running', async () => (await readFile(join(paths.metrics, 'brain.prom'), 'utf8').catch(() => '')).length > 0, 30_000);
    // Two lines 2.5 s apart, each in the log within 2 s: timed rounds MERGE_IDLE_MS apart cannot
    // take both (their windows span 4.5 s); rounds started by the lines' own appends do.
    for (const what of ['RESTART', 'STOPPED'] as const) {
      const line = await DecisionLog.spool(paths, 'rig').write({ who: 'rig', what, reason: 'gpu-0' });
      const t0 = performance.now();
      await waitFor(`${what} merged`, async () => (await readFile(paths.decisionLog, 'utf8').catch(() => '')).split('\n').includes(line), 10_000, 50);
      assert.ok(performance.now() - t0 < 2000, `${what} took ${Math.round(performance.now() - t0)} ms (idle pace ${MERGE_IDLE_MS} ms)`);
      await sleep(2500);
    }
  } finally {
    await stopAll([brain]);
    await cleanup();
  }
});
