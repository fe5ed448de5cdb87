// The pieces that keep a plan's cost and its messages bounded: suggestions under a budget,
// capped problem lists, dependency graphs walked without recursion, batch ids that cannot be
// mistaken, and the worker thread's heap limit and abort.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { batchIdProblem, newBatchId } from '../../agents/core/inbox.ts';
import { checkPlanBounded } from '../../agents/plan/boundedCheck.ts';
import { findCycles, longestChain } from '../../agents/plan/graph.ts';
import { capProblems, closestNames, didYouMean, editDistance, listNames } from '../../agents/plan/suggest.ts';
import type { PlanTaskSpec } from '../../agents/plan/types.ts';

const ROOT = join(import.meta.dirname, '../..');

test('closestNames: nearest first, at most max, and nothing once the budget of cells is spent', () => {
  const names = ['encode', 'encoder', 'decode', 'scan'];
  assert.deepEqual(closestNames('encdoe', names, 3), ['encode', 'encoder']);
  assert.deepEqual(closestNames('encdoe', names, 1), ['encode']);
  assert.deepEqual(closestNames('zzz', names, 3), []);
  const spent = { used: 0, cells: 0 };
  assert.deepEqual(closestNames('encdoe', names, 3, spent), []);
  // Every comparison costs, even one ruled out by length: a long list cannot be walked for free.
  const budget = { used: 0, cells: 1000 };
  closestNames('missing1', Array.from({ length: 100_000 }, (_, i) => `t${i}`), 3, budget);
  assert.ok(budget.used <= 1001, `${budget.used} cells`);
  assert.equal(editDistance('abcdef', 'badcfe'), 3);
  assert.equal(editDistance('abcdefgh', 'zzzzzzzz', 2), 3, 'stops at limit + 1');
});

test('didYouMean, listNames and capProblems keep messages short', () => {
  assert.equal(didYouMean([]), '');
  assert.equal(didYouMean(['a']), " (did you mean 'a'?)");
  assert.equal(didYouMean(['a', 'b', 'c']), " (did you mean 'a', 'b' or 'c'?)");
  assert.equal(listNames('tasks', ['a', 'b']), 'tasks: a, b');
  assert.equal(listNames('inputs', []), 'inputs: (none)');
  assert.equal(listNames('tasks', Array.from({ length: 3000 }, (_, i) => `t${i}`)), '3,000 tasks, too many to list');
  const capped = capProblems(Array.from({ length: 120 }, (_, i) => `p.md:${i}: ${'x'.repeat(i === 0 ? 5000 : 10)}`));
  assert.equal(capped.length, 51);
  assert.equal(capped[0]!.length, 600);
  assert.ok(capped[0]!.endsWith('…'));
  assert.equal(capped[50], '… and 70 more problems (the first 50 are listed)');
  assert.deepEqual(capProblems(['a', 'b']), ['a', 'b']);
});

function specs(deps: Array<[string, string[]]>): Map<string, PlanTaskSpec> {
  return new Map(deps.map(([name, depends_on], i) => [name, { name, line: i + 1, depends_on } as PlanTaskSpec]));
}

test('findCycles and longestChain: a 50,000-long chain without overflowing the stack; cycles as loops from the first task', () => {
  // Written last task first, so a depth-first walk from the first task goes 50,000 deep.
  const chain = specs(Array.from({ length: 50_000 }, (_, i): [string, string[]] => [`t${i}`, i < 49_999 ? [`t${i + 1}`] : []]));
  assert.deepEqual(findCycles(chain), []);
  const longest = longestChain(chain);
  assert.equal(longest.length, 50_000);
  assert.deepEqual([longest[0], longest.at(-1)], ['t0', 't49999']);
  const loops = specs([['a', ['c']], ['b', ['a']], ['c', ['b']], ['d', ['d']], ['e', ['a', 'missing']]]);
  assert.deepEqual(findCycles(loops), [['a', 'c', 'b', 'a'], ['d', 'd']]);
  assert.deepEqual(longestChain(loops), [], 'tasks in or after a cycle are left out (the cycle is reported)');
  assert.deepEqual(longestChain(specs([['x', []], ['y', ['x']], ['z', ['y', 'x']]])), ['z', 'y', 'x']);
});

test('batchIdProblem: the brain\'s own ids pass; __, unsafe and over-long ids are refused with the reason', () => {
  assert.equal(batchIdProblem(newBatchId(Date.parse('2026-11-26T08:15:00Z'))), null);
  assert.equal(batchIdProblem('nightly-run_3'), null);
  assert.match(batchIdProblem('a__b')!, /contains '__', which separates the batch from the task in task ids .* batch 'a'/);
  assert.match(batchIdProblem('../x')!, /not a safe name/);
  assert.match(batchIdProblem('x'.repeat(65))!, /65 characters, over the limit of 64/);
});

test('checkPlanBounded: a worker over its heap limit, or aborted, is a refusal naming why; a good plan comes back whole', { timeout: 60_000 }, async () => {
  const hello = join(ROOT, 'plans/hello');
  const ok = await checkPlanBounded(hello, {});
  assert.deepEqual([ok.plan?.tasks.map((t) => t.name), ok.problems], [['greet', 'count', 'report'], []]);
  const heap = await checkPlanBounded(hello, {}, { budget: { timeMs: 30_000, heapMb: 2 } });
  assert.equal(heap.plan, null);
  assert.match(heap.problems[0]!, /hello\/plan\.md: checking this plan needed more than 2 MB of memory, the limit for one plan, and was stopped/);
  const abort = new AbortController();
  abort.abort();
  const stopped = await checkPlanBounded(hello, {}, { signal: abort.signal });
  assert.match(stopped.problems[0]!, /the check of this plan was stopped before it finished/);
});
