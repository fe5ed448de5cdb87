import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTaskPidLine, parseTaskPidLine } from '../../agents/core/workerProtocol.ts';

test('the task-pid line: what the worker writes, the agent reads back; other stderr is no pid', () => {
  assert.equal(formatTaskPidLine(4242), 'task pid 4242 (its own process group)', 'the line stays human-readable');
  const cases: Array<[string, number | null]> = [
    [formatTaskPidLine(4242), 4242],
    // As it arrives: inside the worker's log prefix, among other lines.
    [`2026-01-01T00:00:00.000Z worker[17]: running b1__t1 attempt 1\n2026-01-01T00:00:00.001Z worker[17]: ${formatTaskPidLine(99)}\n`, 99],
    ['2026-01-01T00:00:00.000Z worker[17]: running b1__t1 attempt 1\n', null],
    ['task pid 12 (not its group)', null],
    ['', null],
  ];
  for (const [text, pid] of cases) assert.equal(parseTaskPidLine(text), pid, JSON.stringify(text));
});
