// Each of the doctor's rules on its own, from constructed snapshots: what it finds and what
// it leaves to other rules. findProblems runs them in RULES' order (doctor-findings.test.ts
// checks the whole report).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Task } from '../../agents/core/task.ts';
import type { Finding } from '../../agents/doctor/findings.ts';
import { RULES, type Rule, findProblems } from '../../agents/doctor/findProblems.ts';
import {
  BATCH_CHECKS, type BatchCheck, activeWithoutRecord, badRecord, batchRecords, finalBatchActive, unfinishedBatch, wrongStateBatch,
} from '../../agents/doctor/rules/batches.ts';
import {
  lateResults, oldTempFiles, staleApprovals, staleLocks, straySignals, unreadableEscalations, unreadableOwnedFiles,
} from '../../agents/doctor/rules/leftovers.ts';
import { configProblem, duplicateTasks, lostTasks, orphanTasks, unreadableTaskFiles } from '../../agents/doctor/rules/tasks.ts';
import { viewMount } from '../../agents/doctor/rules/view.ts';
import type { MountSnapshot } from '../../agents/doctor/snapshot.ts';
import { MIN, agent, file, heartbeat, iso, record, result, snapshot } from '../helpers/doctorSnapshot.ts';
import { makeTask } from '../helpers/mount.ts';

const old = { created_at: iso(60 * MIN) };
const a = makeTask({ ...old, name: 'a' });
const b1 = record({ id: 'b1', task_ids: [a.id] });
const claimed = makeTask({ ...old, name: 'run', attempt: 1, claimed_by: 'gpu-1', claimed_at: iso(MIN) });
const done = (t: Task): Task => ({ ...t, result: result(t, 'success') });
const failed = (t: Task): Task => ({ ...t, attempt: 3, result: result({ ...t, attempt: 3 }, 'failed', 'app') });
const stopped = { brain: { running: false, why: 'no brain holds brain/brain.lock' } };
const running = { brain: { running: true, why: 'brain pid 7 is running' } };
const active = (...ids: string[]) => ({ state: { active_batches: ids, updated_at: iso(MIN), brain_pid: null } });

/** `KIND subject` of each finding: what a rule found, without the texts doctor-findings.test.ts checks. */
function found(rule: Rule, over: Partial<MountSnapshot>): string[] {
  return rule(viewMount(snapshot(over))).map((f: Finding) => `${f.kind} ${f.subject}`);
}

test('RULES runs every rule, in the order of the report', () => {
  assert.deepEqual(RULES.map((r) => r.name), [
    'configProblem', 'unreadableTaskFiles', 'orphanTasks', 'duplicateTasks', 'lostTasks', 'batchRecords', 'activeWithoutRecord',
    'unreadableOwnedFiles', 'unreadableEscalations', 'oldTempFiles', 'straySignals', 'staleApprovals', 'staleLocks', 'lateResults',
  ]);
  assert.deepEqual(BATCH_CHECKS.map((c) => c.name), ['badRecord', 'unfinishedBatch', 'wrongStateBatch', 'finalBatchActive']);
});

const cases: Array<[string, Rule, Partial<MountSnapshot>, string[]]> = [
  ['config: present', configProblem, {}, []],
  ['config: missing', configProblem, { config: null }, ['NO_CONFIG config.json']],
  ['config: invalid', configProblem, { config: null, configProblem: 'gpus: required' }, ['BAD_CONFIG config.json']],

  ['task files: all readable', unreadableTaskFiles, { taskFiles: [file('queue', a)] }, []],
  ['task files: unreadable then foreign, in listing order', unreadableTaskFiles, {
    taskFiles: [
      { folder: 'queue', name: 'x.json', rel: 'tasks/queue/x.json', id: 'x', task: null, problem: 'bad' },
      { folder: 'queue', name: 'y.txt', rel: 'tasks/queue/y.txt', id: null, task: null, problem: null },
    ],
  }, ['UNREADABLE_TASK tasks/queue/x.json', 'FOREIGN_FILE tasks/queue/y.txt']],

  ['orphans: batch recorded', orphanTasks, { batches: [b1], taskFiles: [file('queue', a)] }, []],
  ['orphans: no record, old', orphanTasks, { taskFiles: [file('queue', a)] }, ['ORPHAN_TASK tasks/queue/b1__a.json']],
  ['orphans: no record, young', orphanTasks, { taskFiles: [file('queue', makeTask({ created_at: iso(MIN), name: 'a' }))] }, []],
  ['orphans: submission pending', orphanTasks, { taskFiles: [file('queue', a)], pendingSubmissions: ['b1'] }, []],

  ['duplicates: one copy', duplicateTasks, { batches: [b1], taskFiles: [file('queue', a)] }, []],
  ['duplicates: two copies', duplicateTasks, { batches: [b1], taskFiles: [file('queue', a), file('complete', a)] }, ['DUPLICATE_TASK b1__a']],
  ['duplicates: orphans are only orphans', duplicateTasks, { taskFiles: [file('queue', a), file('complete', a)] }, []],

  ['lost: agent gone', lostTasks, { batches: [b1], taskFiles: [file('processing', claimed)], agents: [agent(1, null)] }, ['LOST_TASK tasks/processing/b1__run.json']],
  ['lost: no config, no agents to judge by', lostTasks, { config: null, batches: [b1], taskFiles: [file('processing', claimed)], agents: [] }, []],
  ['lost: a processing copy a duplicate drops', lostTasks, {
    batches: [b1], taskFiles: [file('processing', claimed), file('complete', claimed)], agents: [agent(1, null)],
  }, []],
  ['lost: not in processing', lostTasks, { batches: [b1], taskFiles: [file('queue', claimed)], agents: [agent(1, null)] }, []],

  ['active without record: recorded', activeWithoutRecord, { batches: [b1], ...active('b1') }, []],
  ['active without record: none', activeWithoutRecord, { ...active('b6') }, ['ACTIVE_WITHOUT_RECORD b6']],

  ['owned files: readable', unreadableOwnedFiles, {}, []],
  ['owned files: state.json, then heartbeats', unreadableOwnedFiles, {
    unreadable: [{ rel: 'brain/state.json', where: 'brain', problem: 'garbage' }],
    agents: [{ ...agent(1, null), heartbeatProblem: 'garbage' }],
  }, ['UNREADABLE_FILE brain/state.json', 'UNREADABLE_FILE gpus/gpu_1/heartbeat.json']],

  ['escalations', unreadableEscalations, {
    escalations: [{ rel: 'brain/escalations/ok.json', name: 'ok.json', problem: null }, { rel: 'brain/escalations/bad.json', name: 'bad.json', problem: 'garbage' }],
  }, ['UNREADABLE_FILE brain/escalations/bad.json']],

  ['temporaries: from ten minutes old', oldTempFiles, {
    tempFiles: [{ rel: 'tasks/.a.tmp', name: '.a.tmp', ageMs: 10 * MIN }, { rel: 'tasks/.b.tmp', name: '.b.tmp', ageMs: 10 * MIN - 1 }],
  }, ['TEMP_FILE tasks/.a.tmp']],

  ['signals: known agent, unknown agent, not a signal', straySignals, {
    signals: [{ rel: 'signals/gpu-1.kill', name: 'gpu-1.kill', ageMs: 0 }, { rel: 'signals/gpu-2.stop', name: 'gpu-2.stop', ageMs: 0 }, { rel: 'signals/x', name: 'x', ageMs: 0 }],
  }, ['STRAY_SIGNAL signals/gpu-2.stop', 'STRAY_SIGNAL signals/x']],
  ['signals: no config, no agents to judge by', straySignals, { config: null, signals: [{ rel: 'signals/x', name: 'x', ageMs: 0 }] }, []],

  ['approvals: task present, young, gone', staleApprovals, {
    taskFiles: [file('private', a)],
    approvals: [{ rel: 'approvals/b1__a', name: 'b1__a', ageMs: 60 * MIN }, { rel: 'approvals/b1__y', name: 'b1__y', ageMs: MIN }, { rel: 'approvals/b1__z', name: 'b1__z', ageMs: 60 * MIN }],
  }, ['STALE_APPROVAL approvals/b1__z']],

  ['locks: old, old with a live owner, fresh', staleLocks, {
    locks: [{ rel: 'l1', ageMs: 10 * MIN, ownerAlive: false }, { rel: 'l2', ageMs: 60 * MIN, ownerAlive: true }, { rel: 'l3', ageMs: MIN, ownerAlive: null }],
  }, ['STALE_LOCK l1']],

  ['late results', lateResults, { lateResults: [{ rel: 'tasks/late_results/r.json', name: 'r.json', ageMs: 0 }] }, ['LATE_RESULT tasks/late_results/r.json']],
];

test('each rule finds its kind of problem and leaves the rest alone', () => {
  for (const [name, rule, over, expected] of cases) assert.deepEqual(found(rule, over), expected, name);
});

test('every rule of RULES has a case above that finds something', () => {
  const tested = new Set(cases.filter(([, , , expected]) => expected.length > 0).map(([, rule]) => rule));
  for (const rule of RULES) if (rule !== batchRecords) assert.ok(tested.has(rule), rule.name);
});

test('each check of a batch record, alone and through batchRecords', () => {
  const x = makeTask({ ...old, batch: 'b2', name: 'x' });
  const views = {
    unreadable: { id: 'b9', rel: 'brain/batches/b9.json', record: null, problem: 'garbage' },
    runningDone: record({ id: 'b2', state: 'running', task_ids: [x.id] }),
    completeFailed: record({ id: 'b2', state: 'complete', task_ids: [x.id] }),
    failedActive: record({ id: 'b2', state: 'failed', task_ids: [x.id] }),
  };
  const table: Array<[string, BatchCheck, keyof typeof views, Partial<MountSnapshot>, string[]]> = [
    ['bad record', badRecord, 'unreadable', {}, ['BAD_BATCH_RECORD brain/batches/b9.json manual']],
    ['bad record: a valid one', badRecord, 'runningDone', {}, []],
    ['unfinished: all done, no brain', unfinishedBatch, 'runningDone', { taskFiles: [file('complete', done(x))], ...stopped }, ['BATCH_NOT_FINISHED b2 manual']],
    ['unfinished: all done, brain runs', unfinishedBatch, 'runningDone', { taskFiles: [file('complete', done(x))], ...running }, ['BATCH_NOT_FINISHED b2 info']],
    ['unfinished: a task still queued', unfinishedBatch, 'runningDone', { taskFiles: [file('queue', x)] }, []],
    ['wrong state: a failed task', wrongStateBatch, 'completeFailed', { taskFiles: [file('failed', failed(x))] }, ['BATCH_WRONG_STATE b2 repair']],
    ['wrong state: a failed archived task', wrongStateBatch, 'completeFailed', { archived: { b2: [failed(x)] } }, ['BATCH_WRONG_STATE b2 repair']],
    ['wrong state: all complete', wrongStateBatch, 'completeFailed', { taskFiles: [file('complete', done(x))] }, []],
    ['wrong state: an archived task a gate skipped is no failure', wrongStateBatch, 'completeFailed', { archived: { b2: [{ ...x, result: result(x, 'skipped') }] } }, []],
    ['final active: no brain', finalBatchActive, 'failedActive', { ...active('b2'), ...stopped }, ['FINAL_BATCH_ACTIVE b2 repair']],
    ['final active: brain runs', finalBatchActive, 'failedActive', { ...active('b2'), ...running }, ['FINAL_BATCH_ACTIVE b2 manual']],
    ['final active: not listed', finalBatchActive, 'failedActive', {}, []],
  ];
  for (const [name, check, which, over, expected] of table) {
    const b = views[which];
    const view = viewMount(snapshot({ batches: [b], ...over }));
    assert.deepEqual(check(b, view).map((f) => `${f.kind} ${f.subject} ${f.severity}`), expected, name);
    const all = batchRecords(view).filter((f) => f.kind === expected[0]?.split(' ')[0]);
    assert.equal(all.length, expected.length, `${name}: through batchRecords`);
  }
});

test("a record's findings stay together, in BATCH_CHECKS' order", () => {
  const x = makeTask({ ...old, batch: 'b2', name: 'x' });
  const y = makeTask({ ...old, batch: 'b3', name: 'y' });
  const fs = findProblems(snapshot({
    batches: [record({ id: 'b2', state: 'complete', task_ids: [x.id] }), record({ id: 'b3', state: 'complete', task_ids: [y.id] })],
    taskFiles: [file('failed', failed(x)), file('failed', failed(y))],
    ...active('b2', 'b3'),
  }));
  assert.deepEqual(fs.map((f) => `${f.kind} ${f.subject}`), [
    'BATCH_WRONG_STATE b2', 'FINAL_BATCH_ACTIVE b2', 'BATCH_WRONG_STATE b3', 'FINAL_BATCH_ACTIVE b3',
  ]);
});
