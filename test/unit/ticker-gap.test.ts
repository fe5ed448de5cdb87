import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ticker } from '../../agents/core/loop.ts';

test('a ticker with minGapMs runs a poke after a quiet spell at once, and folds a burst of pokes into one run per gap', async () => {
  const starts: number[] = [];
  const t = new Ticker(async () => {
    starts.push(performance.now());
  }, { intervalMs: 60_000, onError: (e) => assert.fail(String(e)), minGapMs: 150 });
  t.start();
  // Stopped whatever fails: a running ticker would keep the test file alive.
  try {
    await sleep(20);
    assert.equal(starts.length, 1, 'the first run starts at once');
    // A burst right after: none runs before the gap ends, and all of them share one run.
    for (let i = 0; i < 20; i++) {
      t.poke();
      await sleep(2);
    }
    assert.equal(starts.length, 1, 'no run inside the gap');
    await sleep(200);
    assert.equal(starts.length, 2, 'one run for the whole burst');
    // Timers may fire a few ms early against performance.now(): the gap is what counts, not the last ms.
    assert.ok(starts[1]! - starts[0]! >= 140, `the second run waited for the gap (${starts[1]! - starts[0]!} ms)`);
    // After a quiet spell longer than the gap, a poke runs at once.
    await sleep(200);
    const before = performance.now();
    t.poke();
    await sleep(10);
    assert.equal(starts.length, 3);
    assert.ok(starts[2]! - before < 100, 'no wait for the gap after a quiet spell');
  } finally {
    await t.stop();
  }
});

test('a ticker without minGapMs runs again right after a run that was poked during it', async () => {
  let runs = 0;
  let release!: () => void;
  const t = new Ticker(async () => {
    runs++;
    if (runs === 1) await new Promise<void>((r) => (release = r));
  }, { intervalMs: 60_000, onError: (e) => assert.fail(String(e)) });
  t.start();
  await sleep(5);
  t.poke();
  t.poke();
  release();
  await sleep(20);
  assert.equal(runs, 2, 'pokes during a run fold into exactly one more run');
  await t.stop();
});
