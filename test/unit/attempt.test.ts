import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attemptRecord, closeAttempt } from '../../agents/core/attempt.ts';
import type { AttemptRecord, WorkerResult } from '../../agents/core/task.ts';
import { makeTask } from '../helpers/mount.ts';

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T00:01:00.000Z';
const T2 = '2026-01-01T00:02:00.000Z';

function result(over: Partial<WorkerResult> = {}): WorkerResult {
  return {
    task_id: 'b1__t1', attempt: 2, outcome: 'failed', failure_kind: 'app', exit_code: 1, signal: null, reason: 'exit 1',
    started_at: T1, finished_at: T2, duration_ms: 60_000, stdout_path: null, stderr_path: null, ...over,
  };
}

const earlier: AttemptRecord = { attempt: 1, agent: 'gpu-1', claimed_at: 'a', finished_at: 'b', outcome: 'lost', failure_kind: 'infra', reason: 'agent lost', exit_code: null, peak_vram_mb: null };
const claimed = makeTask({ attempt: 2, claimed_by: 'gpu-0', claimed_at: T0, attempts: [earlier] });

test('attemptRecord: the result\'s figures under its attempt number; claimed_at from the closer, the task, else the result', () => {
  const cases: Array<[string, Parameters<typeof attemptRecord>, Partial<AttemptRecord>]> = [
    ['the task\'s claim time', [claimed, result(), { agent: 'gpu-0' }], { attempt: 2, agent: 'gpu-0', claimed_at: T0, finished_at: T2, outcome: 'failed', failure_kind: 'app', reason: 'exit 1', exit_code: 1, peak_vram_mb: null }],
    ['the closer\'s claim time wins', [claimed, result(), { agent: 'gpu-0', claimedAt: 'x' }], { claimed_at: 'x' }],
    ['never claimed: the result\'s start', [makeTask({ claimed_at: null }), result(), { agent: 'unknown' }], { claimed_at: T1, agent: 'unknown' }],
    ['the measured peak is kept', [claimed, result({ peak_vram_mb: 812 }), { agent: 'gpu-0' }], { peak_vram_mb: 812 }],
    ['a lost attempt', [claimed, result({ outcome: 'lost', failure_kind: 'infra', exit_code: null, reason: 'gone' }), { agent: 'gpu-0' }], { outcome: 'lost', failure_kind: 'infra', exit_code: null, reason: 'gone' }],
  ];
  for (const [name, args, want] of cases) {
    const got = attemptRecord(...args);
    for (const [k, v] of Object.entries(want)) assert.deepEqual(got[k as keyof AttemptRecord], v, `${name}: ${k}`);
  }
});

test('closeAttempt: result, finished_at and attempt set; the attempt\'s record replaces any earlier one of the same number', () => {
  const cases: Array<{ name: string; task: typeof claimed; result: WorkerResult; attempts: number[]; attempt: number }> = [
    { name: 'first close of attempt 2', task: claimed, result: result(), attempts: [1, 2], attempt: 2 },
    { name: 'closing again leaves one record', task: closeAttempt(claimed, result(), { agent: 'gpu-0' }), result: result({ reason: 'again' }), attempts: [1, 2], attempt: 2 },
    // doctor's lost task that was never recorded as claimed: the next number.
    { name: 'an unrecorded claim takes the next number', task: makeTask({ attempt: 1, attempts: [{ ...earlier }] }), result: result({ attempt: 2 }), attempts: [1, 2], attempt: 2 },
  ];
  for (const c of cases) {
    const got = closeAttempt(c.task, c.result, { agent: 'gpu-0' });
    assert.deepEqual(got.attempts.map((a) => a.attempt), c.attempts, c.name);
    assert.equal(got.attempt, c.attempt, c.name);
    assert.deepEqual(got.result, c.result, c.name);
    assert.equal(got.finished_at, c.result.finished_at, c.name);
    assert.equal(got.attempts.at(-1)!.reason, c.result.reason, `${c.name}: the new record is the one kept`);
    assert.deepEqual(got.attempts[0], earlier, `${c.name}: other attempts untouched`);
  }
  assert.equal(claimed.result, null, 'the task given is not changed');
});
