import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DECISION_VERBS, type Decision, MAX_FIELD_CHARS, MAX_REASON_CHARS, formatDecision, parseDecisionLine, printable,
} from '../../agents/core/decisionLog.ts';

const T = Date.parse('2026-01-01T00:00:00Z');
const ISO = '2026-01-01T00:00:00.000Z';

test('formatDecision: the fields in their order, each only when given', () => {
  const rows: Array<[string, Decision, string]> = [
    ['verb only', { who: 'brain', what: 'RECOVER' }, `${ISO} brain  RECOVER`],
    ['reason', { who: 'brain', what: 'RECOVER', reason: '1 active batch(es)' }, `${ISO} brain  RECOVER — 1 active batch(es)`],
    ['batch', { who: 'brain', what: 'START', batch: 'b1', reason: 'plan p' }, `${ISO} brain  START batch=b1 — plan p`],
    ['task', { who: 'brain', what: 'RELEASE', task: 'b1__a', reason: 'no dependencies' }, `${ISO} brain  RELEASE task=b1__a — no dependencies`],
    ['batch before task', { who: 'brain', what: 'SUMMARY', task: 'b1__s', batch: 'b1' }, `${ISO} brain  SUMMARY batch=b1 task=b1__s`],
    ['attempt N of M', { who: 'brain', what: 'RETRY', task: 'b1__a', attempt: { n: 2, of: 3 }, reason: 'exit 1' }, `${ISO} brain  RETRY task=b1__a attempt 2 of 3 — exit 1`],
    ['null fields left out', { who: 'gpu-0', what: 'EXIT', task: null, batch: null, attempt: null, reason: null }, `${ISO} gpu-0  EXIT`],
    ['empty reason left out', { who: 'rig', what: 'STOPPED', reason: '' }, `${ISO} rig    STOPPED`],
  ];
  for (const [name, d, want] of rows) assert.equal(formatDecision(d, T), want, name);
});

test('formatDecision: who is padded to six characters, and a longer one is kept whole', () => {
  const rows: Array<[string, string]> = [
    ['rig', `${ISO} rig    START`],
    ['brain', `${ISO} brain  START`],
    ['gpu-0', `${ISO} gpu-0  START`],
    ['doctor', `${ISO} doctor START`],
    ['gpu-10', `${ISO} gpu-10 START`],
    ['gpu-100', `${ISO} gpu-100 START`],
  ];
  for (const [who, want] of rows) assert.equal(formatDecision({ who, what: 'START' }, T), want, who);
});

test('formatDecision: unsafe characters never make a second line nor a second field', () => {
  const rows: Array<[string, Decision, RegExp]> = [
    ['newline in a task id', { who: 'gpu-0', what: 'ABORT', task: 'b1__x\nforged' }, / task=b1__x⏎forged$/],
    ['space in a task id', { who: 'gpu-0', what: 'ABORT', task: 'b1__x task=y' }, / task=b1__x␠task=y$/],
    ['tab in a batch id', { who: 'brain', what: 'START', batch: 'b\t1' }, / batch=b␠1$/],
    ['escape in who', { who: 'gpu\x1b[31m', what: 'START' }, /^\S+ gpu\\x1b\[31m START$/],
    ['bidi override in a reason', { who: 'brain', what: 'REJECT', reason: 'a\u202eb' }, / — a\\u202eb$/],
    ['CRLF in a reason', { who: 'brain', what: 'REJECT', reason: 'one\r\ntwo' }, / — one⏎two$/],
    ['spaces around breaks trimmed', { who: 'brain', what: 'REJECT', reason: '  one  \n  two  ' }, / — one⏎two$/],
    ['line separator', { who: 'brain', what: 'REJECT', reason: 'one\u2028two' }, / — one⏎two$/],
  ];
  for (const [name, d, want] of rows) {
    const line = formatDecision(d, T);
    assert.equal(line.split(/[\r\n\u2028\u2029\u0085]/).length, 1, `${name}: one line`);
    assert.match(line, want, name);
  }
});

test('formatDecision: fields and reasons are cut with an ellipsis at their limits', () => {
  const task = /task=(\S+)/.exec(formatDecision({ who: 'brain', what: 'RELEASE', task: 'a'.repeat(500) }, T))![1]!;
  assert.equal([...task].length, MAX_FIELD_CHARS);
  assert.ok(task.endsWith('…'));
  const reason = formatDecision({ who: 'brain', what: 'REJECT', reason: 'z'.repeat(5000) }, T).split(' — ')[1]!;
  assert.equal([...reason].length, MAX_REASON_CHARS);
  assert.equal(printable('short', 10), 'short', 'within the limit: unchanged');
  assert.equal(printable('abcdef', 4), 'abc…');
});

test('parseDecisionLine: a round trip of what formatDecision wrote', () => {
  const rows: Array<[Decision, { who: string; what: string; task: string | null }]> = [
    [{ who: 'brain', what: 'GIVE_UP', task: 'b1__a', attempt: { n: 3, of: 3 }, reason: 'failed 3 of 3 attempts' }, { who: 'brain', what: 'GIVE_UP', task: 'b1__a' }],
    [{ who: 'brain', what: 'FINISH', batch: 'b1', reason: 'complete: 3 complete' }, { who: 'brain', what: 'FINISH', task: null }],
    [{ who: 'gpu-0', what: 'KILL', batch: 'b1', task: 'b1__x', reason: 'task=other in the reason' }, { who: 'gpu-0', what: 'KILL', task: 'b1__x' }],
    [{ who: 'rig', what: 'START' }, { who: 'rig', what: 'START', task: null }],
    [{ who: 'gpu-1', what: 'ABORT_IGNORED', task: 'b1__x\ny' }, { who: 'gpu-1', what: 'ABORT_IGNORED', task: 'b1__x⏎y' }],
  ];
  for (const [d, want] of rows) {
    const line = formatDecision(d, T);
    const got = parseDecisionLine(line);
    assert.deepEqual(got, { t: T, ...want, text: line }, line);
  }
});

test('parseDecisionLine: lines formatDecision did not write are null', () => {
  for (const line of ['', 'hello', 'not-a-time brain START', '2026-13-45T99:00:00Z brain START', `${ISO}`, `${ISO} brain`]) {
    assert.equal(parseDecisionLine(line), null, JSON.stringify(line));
  }
});

test('decision verbs: one upper-case word each, listed once, one word per meaning (GIVE_UP, not GAVE_UP; START, not STARTED)', () => {
  const all = [...DECISION_VERBS];
  assert.equal(new Set(all).size, all.length, 'no verb listed twice');
  for (const v of all) assert.match(v, /^[A-Z]+(_[A-Z]+)*$/, v);
  // The drifted pairs: one word per meaning.
  assert.ok(DECISION_VERBS.includes('GIVE_UP') && DECISION_VERBS.includes('START'));
  for (const old of ['GAVE_UP', 'STARTED'] as const) assert.ok(!(DECISION_VERBS as readonly string[]).includes(old), `${old} is not a current verb`);
});
