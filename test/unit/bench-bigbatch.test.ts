// The bigbatch part's pure readings: its plan is a valid plan, the log figures skip the
// template's own lines, "done once" finds every missing, repeated or failed item, and the
// decision log's count finds an item claimed or done twice (a stopped run's evidence).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatDecision } from '../../agents/core/decisionLog.ts';
import { checkPlan } from '../../agents/plan/load.ts';
import { checkDoneOnce, itemRuns, logFigures, renderBigbatchPlan } from '../../tools/bench/bigbatch.ts';

test('the bigbatch plan passes the plan checks', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bench-bigbatch-'));
  try {
    await mkdir(join(dir, 'scripts'));
    await writeFile(join(dir, 'plan.md'), renderBigbatchPlan(1000));
    await writeFile(join(dir, 'scripts', 'items.mjs'), '');
    const { plan, problems } = await checkPlan(dir, {});
    assert.deepEqual(problems, []);
    assert.deepEqual(plan?.tasks.map((t) => t.name), ['items', 'work']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('log figures: the first item claim, the manifest claim, item releases; the template is no item', () => {
  const B = 'b1';
  const at = (s: number) => Date.parse('2026-01-01T00:00:00.000Z') + s * 1000;
  const lines = [
    formatDecision({ who: 'gpu-0', what: 'CLAIM', task: `${B}__items` }, at(1)),
    formatDecision({ who: 'brain', what: 'RELEASE', task: `${B}__work` }, at(2)),
    formatDecision({ who: 'brain', what: 'RELEASE', task: `${B}__work.1` }, at(3)),
    formatDecision({ who: 'brain', what: 'RELEASE', task: `${B}__work.2` }, at(5)),
    formatDecision({ who: 'gpu-1', what: 'CLAIM', task: `${B}__work.2` }, at(6)),
    formatDecision({ who: 'gpu-0', what: 'CLAIM', task: `${B}__work.1` }, at(4)),
    formatDecision({ who: 'gpu-0', what: 'CLAIM', task: `other__work.1` }, at(0)),
  ];
  assert.deepEqual(logFigures(lines, B), { firstItemClaim: at(4), manifestClaim: at(1), releases: 2, releaseSpanS: 2 });
});

test('done once: missing, repeated, out-of-range and unsuccessful items are all caught', () => {
  const ok = (index: number) => ({ index, success: true, claimed: 0, finished: 1 });
  assert.equal(checkDoneOnce([ok(0), ok(1), ok(2)], 3).ok, true);
  assert.deepEqual(checkDoneOnce([ok(0), ok(0), ok(2)], 3), { children: 3, distinct_items: 2, missing: 1, duplicates: 1, not_success: 0, ok: false });
  assert.equal(checkDoneOnce([ok(0), ok(1), ok(3)], 3).ok, false);
  assert.equal(checkDoneOnce([ok(0), ok(1), { ...ok(2), success: false }], 3).ok, false);
});

test('item runs: an item claimed or done twice is caught; the template, other batches and other lines are not items', () => {
  const B = 'b1';
  const line = (who: string, what: 'CLAIM' | 'DONE' | 'RELEASE', task: string) => formatDecision({ who, what, task }, Date.parse('2026-01-01T00:00:00.000Z'));
  const clean = [
    line('brain', 'RELEASE', `${B}__work.1`),
    line('gpu-0', 'CLAIM', `${B}__work.1`), line('gpu-0', 'DONE', `${B}__work.1`),
    line('gpu-1', 'CLAIM', `${B}__work.2`),
    line('gpu-1', 'CLAIM', `${B}__work`), line('gpu-1', 'DONE', `${B}__work`),
    line('gpu-1', 'CLAIM', `other__work.2`), line('gpu-1', 'CLAIM', `${B}__work.2x`),
    'not a decision line',
  ];
  assert.deepEqual(itemRuns(clean, B, 3), { claimed: 2, claimed_twice: 0, done: 1, done_twice: 0 });
  assert.deepEqual(itemRuns([...clean, line('gpu-0', 'CLAIM', `${B}__work.2`)], B, 3), { claimed: 2, claimed_twice: 1, done: 1, done_twice: 0 });
  assert.deepEqual(itemRuns([...clean, line('gpu-1', 'DONE', `${B}__work.1`)], B, 3), { claimed: 2, claimed_twice: 0, done: 1, done_twice: 1 });
  // Item i's child is work.<i+1> (childName): work.3 is the last of 3 items, work.4 and work.0 are none.
  assert.deepEqual(itemRuns([...clean, line('gpu-1', 'CLAIM', `${B}__work.3`)], B, 3), { claimed: 3, claimed_twice: 0, done: 1, done_twice: 0 });
  assert.equal(itemRuns([...clean, line('gpu-1', 'CLAIM', `${B}__work.4`)], B, 3).claimed_twice, 1, 'a number past the manifest is never right');
  assert.equal(itemRuns([...clean, line('gpu-1', 'CLAIM', `${B}__work.0`)], B, 3).claimed_twice, 1, 'nor is 0');
});
