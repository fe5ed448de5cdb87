// The doctor's rules, from constructed snapshots: exact lines, severities and repairs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TaskFolder } from '../../agents/core/paths.ts';
import type { Task } from '../../agents/core/task.ts';
import {
  type AgentView, type Finding,
  formatCount, formatFinding, judgeClaim, returnLostTask,
} from '../../agents/doctor/findings.ts';
import { findProblems } from '../../agents/doctor/findProblems.ts';
import { makeTask } from '../helpers/mount.ts';
import { MIN, NOW, active, agent, config, file, heartbeat, iso, record, result, snapshot } from '../helpers/doctorSnapshot.ts';

const lines = (fs: Finding[]) => fs.map(formatFinding);
const old = { created_at: iso(60 * MIN) };

/** A task claimed by gpu-1 for its first attempt, a minute ago. */
const claimed = makeTask({ ...old, name: 'run', attempt: 1, claimed_by: 'gpu-1', claimed_at: iso(MIN) });
const b1 = record({ id: 'b1', task_ids: [claimed.id] });

test('a clean mount has no findings', () => {
  const hb = heartbeat(1, { active_tasks: [active(claimed)] });
  const snap = snapshot({ batches: [b1], taskFiles: [file('processing', claimed)], agents: [agent(0, heartbeat(0)), agent(1, hb)] });
  assert.deepEqual(findProblems(snap), []);
  assert.equal(formatCount([]), 'doctor: no problems found');
});

test('a task in two folders: keep the most advanced copy, quarantine the others', () => {
  const t = makeTask({ ...old, name: 'a' });
  const cases: Array<[TaskFolder[], string]> = [
    [['queue', 'complete'], 'DUPLICATE_TASK b1__a: in tasks/complete and tasks/queue → keep tasks/complete/b1__a.json (the most advanced), move tasks/queue/b1__a.json to quarantine/'],
    [['private', 'failed', 'processing'], 'DUPLICATE_TASK b1__a: in tasks/failed and tasks/processing and brain/private_tasks → keep tasks/failed/b1__a.json (the most advanced), move tasks/processing/b1__a.json and brain/private_tasks/b1__a.json to quarantine/'],
  ];
  for (const [folders, line] of cases) {
    const fs = findProblems(snapshot({ batches: [record({ id: 'b1', task_ids: [t.id] })], taskFiles: folders.map((f) => file(f, t)) }));
    const dup = fs.filter((f) => f.kind === 'DUPLICATE_TASK');
    assert.deepEqual(lines(dup), [line]);
    assert.equal(dup[0]!.severity, 'repair');
  }
});

test('a processing task whose agent is gone is returned as lost; a live claim is left alone', () => {
  const stale = iso(10 * MIN);
  const cases: Array<[string, AgentView[], string | null]> = [
    ['no heartbeat', [agent(1, null)], 'claimed by gpu-1 (attempt 1), but no heartbeat at gpus/gpu_1/heartbeat.json'],
    ['dead pid and an old heartbeat', [agent(1, heartbeat(1, { last_updated: stale, active_tasks: [active(claimed)] }), false)],
      'claimed by gpu-1 (attempt 1), but its pid 4242 is not running and its heartbeat is 10 min old (limit 120 s)'],
    ['stopped without it', [agent(1, heartbeat(1, { state: 'stopping' }))], 'claimed by gpu-1 (attempt 1), but it stopped (heartbeat state stopping) without the task'],
    ['alive but not listing it', [agent(1, heartbeat(1))], 'claimed by gpu-1 (attempt 1), but its heartbeat does not list the task'],
    ['dead pid but a fresh heartbeat that lists it', [agent(1, heartbeat(1, { active_tasks: [active(claimed)] }), false)], null],
    ['alive, old heartbeat listing it (slow, not dead)', [agent(1, heartbeat(1, { last_updated: stale, active_tasks: [active(claimed)] }), true)], null],
    ['stopping but still finishing it', [agent(1, heartbeat(1, { state: 'stopping', active_tasks: [active(claimed)] }))], null],
    ['heartbeat older than the claim (written next)', [agent(1, heartbeat(1, { last_updated: iso(2 * MIN) }))], null],
    ['listed by another agent', [agent(0, heartbeat(0, { active_tasks: [active(claimed)] })), agent(1, null)], null],
  ];
  for (const [name, agents, problem] of cases) {
    const fs = findProblems(snapshot({ batches: [b1], taskFiles: [file('processing', claimed)], agents }));
    if (problem === null) assert.deepEqual(fs, [], name);
    else {
      assert.deepEqual(lines(fs), [
        `LOST_TASK tasks/processing/b1__run.json: ${problem} → record attempt 1 as lost (infra) and move it to tasks/failed/ so the brain retries it`,
      ], name);
      assert.deepEqual(fs[0]!.repair, { kind: 'return_lost', id: claimed.id, expectAttempt: 1, expectClaimedBy: 'gpu-1', reason: `found by doctor: agent gpu-1 gone (${problem.split(', but ')[1]})` });
    }
  }
});

test('claims no agent recorded, agents not configured, and finished tasks never moved', () => {
  const ghost = makeTask({ ...old, name: 'ghost', attempt: 1, claimed_by: 'gpu-9', claimed_at: iso(MIN) });
  const fresh = makeTask({ ...old, name: 'fresh' }); // renamed into processing, claim never written
  const doneRun = { ...claimed, attempts: [{ attempt: 1, agent: 'gpu-1', claimed_at: iso(MIN), finished_at: iso(1000), outcome: 'success' as const, failure_kind: null, reason: null, exit_code: 0 }] };
  const finished: Task = { ...doneRun, result: result(doneRun, 'success') };
  const rec = record({ id: 'b1', task_ids: [ghost.id, fresh.id, finished.id] });
  const fs = findProblems(snapshot({ batches: [rec], taskFiles: [file('processing', ghost), file('processing', fresh), file('processing', finished)] }));
  assert.deepEqual(lines(fs), [
    'LOST_TASK tasks/processing/b1__ghost.json: claimed by gpu-9 (attempt 1), but gpu-9 is not an agent in config.json → record attempt 1 as lost (infra) and move it to tasks/failed/ so the brain retries it',
    'LOST_TASK tasks/processing/b1__fresh.json: claimed (attempt 0), but no agent recorded its claim → record attempt 1 as lost (infra) and move it to tasks/failed/ so the brain retries it',
    'LOST_TASK tasks/processing/b1__run.json: claimed by gpu-1 (attempt 1), but attempt 1 finished (success) and the task was never moved out of processing → move it to tasks/complete/ as its result says',
  ]);
});

test('returnLostTask writes the attempt record and result the agent would write', () => {
  const reason = 'found by doctor: agent gpu-1 gone (no heartbeat at gpus/gpu_1/heartbeat.json)';
  const { task, to } = returnLostTask(claimed, reason, NOW);
  assert.equal(to, 'failed');
  assert.equal(task.attempt, 1);
  assert.deepEqual(task.attempts, [{
    attempt: 1, agent: 'gpu-1', claimed_at: iso(MIN), finished_at: iso(0), outcome: 'lost', failure_kind: 'infra', reason, exit_code: null, peak_vram_mb: null,
  }]);
  assert.deepEqual(task.result, {
    task_id: claimed.id, attempt: 1, outcome: 'lost', failure_kind: 'infra', exit_code: null, signal: null, reason,
    started_at: iso(MIN), finished_at: iso(0), duration_ms: MIN, stdout_path: null, stderr_path: null,
  });
  // A claim nobody recorded becomes the next attempt, by an unknown agent.
  const fresh = returnLostTask(makeTask({ name: 'fresh' }), 'found by doctor: no agent recorded its claim', NOW).task;
  assert.equal(fresh.attempt, 1);
  assert.equal(fresh.attempts[0]!.agent, 'unknown');
  // Judged again after the repair, the task is no longer anyone's claim to judge.
  assert.equal(judgeClaim(claimed, [agent(1, null)], config, NOW)?.agent, 'gpu-1');
});

test('batch records that disagree with their tasks or with brain/state.json', () => {
  const done = makeTask({ ...old, batch: 'b2', name: 'x' });
  const doneResult = { ...done, result: result(done, 'success') };
  const broke = makeTask({ ...old, batch: 'b3', name: 'y', attempt: 3 });
  const brokeFinal = {
    ...broke, result: result(broke, 'failed', 'app'),
    attempts: [1, 2, 3].map((n) => ({ attempt: n, agent: 'gpu-0', claimed_at: 'x', finished_at: 'x', outcome: 'failed' as const, failure_kind: 'app' as const, reason: 'r', exit_code: 1 })),
  };
  const archivedBad = { ...makeTask({ ...old, batch: 'b4', name: 'z' }), result: result(makeTask({ batch: 'b4', name: 'z', attempt: 1 }), 'failed', 'app') };
  const base = {
    batches: [
      record({ id: 'b2', state: 'running', task_ids: [done.id] }),
      record({ id: 'b3', state: 'complete', task_ids: [broke.id] }),
      record({ id: 'b4', state: 'complete', task_ids: [archivedBad.id] }),
      record({ id: 'b5', state: 'failed', task_ids: [] }),
    ],
    taskFiles: [file('complete', doneResult), file('failed', brokeFinal)],
    archived: { b4: [archivedBad], b3: [], b5: [] },
    state: { active_batches: ['b2', 'b5', 'b6'], updated_at: iso(MIN), brain_pid: null },
  };
  const stopped = findProblems(snapshot(base));
  assert.deepEqual(lines(stopped), [
    'BATCH_NOT_FINISHED b2: record says running but its only task is complete or failed for good → nothing: the brain is not running (no brain holds brain/brain.lock); start the rig and the brain finishes it on its first pass',
    'BATCH_WRONG_STATE b3: record says complete but 1 task failed (b3__y) → set the record\'s state to failed',
    'BATCH_WRONG_STATE b4: record says complete but 1 task failed (b4__z) → set the record\'s state to failed',
    'FINAL_BATCH_ACTIVE b5: record says failed but brain/state.json still lists it as active (the brain stopped while archiving it) → remove it from active_batches',
    'ACTIVE_WITHOUT_RECORD b6: brain/state.json lists it as active but brain/batches/b6.json does not exist → remove it from active_batches',
  ]);
  assert.deepEqual(stopped.map((f) => f.severity), ['manual', 'repair', 'repair', 'repair', 'repair']);
  assert.deepEqual(stopped[1]!.repair, {
    kind: 'set_batch_failed', batch: 'b3', failed: ['b3__y'], counts: { total: 1, waiting: 0, queued: 0, processing: 0, complete: 0, failed: 1, skipped: 0 },
  });

  const running = findProblems(snapshot({ ...base, brain: { running: true, why: 'brain pid 7 is running' } }));
  assert.deepEqual(lines(running).filter((l) => !l.startsWith('BATCH_WRONG_STATE')), [
    'BATCH_NOT_FINISHED b2: record says running but its only task is complete or failed for good → nothing: the brain (brain pid 7 is running) finishes it on its next pass',
    'FINAL_BATCH_ACTIVE b5: record says failed but brain/state.json still lists it as active (the brain stopped while archiving it) → nothing while the brain runs (brain pid 7 is running; it rewrites brain/state.json from memory): stop the rig, then run doctor --repair',
    'ACTIVE_WITHOUT_RECORD b6: brain/state.json lists it as active but brain/batches/b6.json does not exist → nothing while the brain runs (brain pid 7 is running; it rewrites brain/state.json from memory): stop the rig, then run doctor --repair',
  ]);
  assert.deepEqual(running.map((f) => f.severity), ['info', 'repair', 'repair', 'manual', 'manual']);
});

test('a final batch still active: its finished tasks are archived before it leaves active_batches', () => {
  const t = { ...makeTask({ ...old, batch: 'b7', name: 'x' }) };
  const fs = findProblems(snapshot({
    batches: [record({ id: 'b7', state: 'complete', task_ids: [t.id] })], taskFiles: [file('complete', { ...t, result: result(t, 'success') })],
    state: { active_batches: ['b7'], updated_at: iso(MIN), brain_pid: null },
  }));
  assert.deepEqual(lines(fs), [
    'FINAL_BATCH_ACTIVE b7: record says complete but brain/state.json still lists it as active (the brain stopped while archiving it) → move its 1 finished task to tasks/archive/b7/ and remove it from active_batches',
  ]);
  assert.deepEqual(fs[0]!.repair, { kind: 'archive_and_drop', batch: 'b7', tasks: [{ folder: 'complete', id: 'b7__x' }] });
});

test('orphan tasks: no record, old enough, and no submission on its way', () => {
  const orphan = makeTask({ ...old, batch: 'b9', name: 'x' });
  const young = makeTask({ created_at: iso(MIN), batch: 'b10', name: 'x' });
  const submitted = makeTask({ ...old, batch: 'b11', name: 'x' });
  const broken = makeTask({ ...old, batch: 'b12', name: 'x' });
  const fs = findProblems(snapshot({
    taskFiles: [file('queue', orphan), file('private', young), file('private', submitted), file('private', broken)],
    pendingSubmissions: ['b11'],
    batches: [{ id: 'b12', rel: 'brain/batches/b12.json', record: null, problem: 'not a valid batch record' }],
  }));
  assert.deepEqual(lines(fs), [
    'ORPHAN_TASK tasks/queue/b9__x.json: batch b9 has no record in brain/batches/ → move it to quarantine/',
    'BAD_BATCH_RECORD brain/batches/b12.json: not a valid batch record → nothing: fix or remove it by hand (its tasks are not treated as orphans meanwhile)',
  ]);
});

test('unreadable and foreign files in the task folders, unreadable escalation records', () => {
  const fs = findProblems(snapshot({
    escalations: [
      { rel: 'brain/escalations/b1__a.json', name: 'b1__a.json', problem: null },
      { rel: 'brain/escalations/b1__c.json', name: 'b1__c.json', problem: 'not valid JSON: Unexpected end of JSON input' },
    ],
    taskFiles: [
      { folder: 'queue', name: 'b1__bad.json', rel: 'tasks/queue/b1__bad.json', id: 'b1__bad', task: null, problem: 'not valid JSON: Unexpected end of JSON input' },
      { folder: 'failed', name: 'notes.txt', rel: 'tasks/failed/notes.txt', id: null, task: null, problem: null },
    ],
  }));
  assert.deepEqual(lines(fs), [
    'UNREADABLE_TASK tasks/queue/b1__bad.json: not valid JSON: Unexpected end of JSON input → move it to quarantine/ with the reason',
    'FOREIGN_FILE tasks/failed/notes.txt: not a task file (expected <task id>.json) → move it to quarantine/',
    'UNREADABLE_FILE brain/escalations/b1__c.json: not valid JSON: Unexpected end of JSON input → move it to quarantine/ with the reason',
  ]);
  assert.deepEqual(fs.map((f) => f.repair?.kind), ['quarantine_unreadable', 'quarantine_file', 'quarantine_other']);
});

test('special files: a FIFO in a task folder, a directory as brain/state.json or a heartbeat: each a finding with its repair', () => {
  const fs = findProblems(snapshot({
    taskFiles: [
      { folder: 'queue', name: 'b1__f.json', rel: 'tasks/queue/b1__f.json', id: 'b1__f', task: null, problem: 'is a FIFO, not a regular file (a task is a file <task id>.json)' },
      { folder: 'queue', name: 'junk', rel: 'tasks/queue/junk', id: null, task: null, problem: 'is a directory, not a regular file (a task is a file <task id>.json)' },
    ],
    unreadable: [{ rel: 'brain/state.json', where: 'brain', problem: 'is a directory, not a regular file' }],
    agents: [{ ...agent(0, null), heartbeatProblem: 'is a directory, not a regular file' }, agent(1, heartbeat(1))],
  }));
  assert.deepEqual(lines(fs), [
    'UNREADABLE_TASK tasks/queue/b1__f.json: is a FIFO, not a regular file (a task is a file <task id>.json) → move it to quarantine/ with the reason',
    'FOREIGN_FILE tasks/queue/junk: is a directory, not a regular file (a task is a file <task id>.json) → move it to quarantine/',
    'UNREADABLE_FILE brain/state.json: is a directory, not a regular file → move it to quarantine/ with the reason (the brain writes it again from brain/batches/)',
    'UNREADABLE_FILE gpus/gpu_0/heartbeat.json: is a directory, not a regular file → move it to quarantine/ with the reason (gpu-0 writes a new one)',
  ]);
  assert.deepEqual(fs.map((f) => f.repair?.kind), ['quarantine_unreadable', 'quarantine_file', 'quarantine_other', 'quarantine_other']);
});

test('leftovers: old temporaries, stray signals, stale approvals and locks; late results are informational', () => {
  const t = makeTask({ ...old, name: 'a' });
  const fs = findProblems(snapshot({
    batches: [record({ id: 'b1', task_ids: [t.id] })],
    taskFiles: [file('private', t)],
    tempFiles: [
      { rel: 'tasks/queue/.b1__a.json.77.ab12cd34.tmp', name: '.b1__a.json.77.ab12cd34.tmp', ageMs: 42 * MIN },
      { rel: 'tasks/queue/.b1__b.json.78.ab12cd34.tmp', name: '.b1__b.json.78.ab12cd34.tmp', ageMs: 9 * MIN },
    ],
    signals: [
      { rel: 'signals/gpu-7.stop', name: 'gpu-7.stop', ageMs: 0 },
      { rel: 'signals/gpu-0.abort', name: 'gpu-0.abort', ageMs: 0 },
      { rel: 'signals/hello', name: 'hello', ageMs: 0 },
    ],
    approvals: [
      { rel: 'approvals/b1__a', name: 'b1__a', ageMs: 60 * MIN },
      { rel: 'approvals/b0__gone', name: 'b0__gone', ageMs: 60 * MIN },
      { rel: 'approvals/b9__soon', name: 'b9__soon', ageMs: MIN },
    ],
    locks: [
      { rel: 'gpus/.model-load.lock', ageMs: 30 * MIN, ownerAlive: null },
      { rel: 'brain/brain.lock', ageMs: 30 * MIN, ownerAlive: true },
      { rel: 'logs/training_samples.jsonl.lock', ageMs: 5000, ownerAlive: null },
    ],
    lateResults: [{ rel: 'tasks/late_results/b1__a.attempt1.gpu-0.json', name: 'b1__a.attempt1.gpu-0.json', ageMs: MIN }],
  }));
  assert.deepEqual(lines(fs), [
    'TEMP_FILE tasks/queue/.b1__a.json.77.ab12cd34.tmp: temporary file of a write that never finished, last written 42 min ago → delete it',
    'STRAY_SIGNAL signals/gpu-7.stop: no agent gpu-7 in config.json (agents: gpu-0, gpu-1) → delete it',
    'STRAY_SIGNAL signals/hello: not a signal file (expected <agent>.stop, <agent>.abort or <agent>.kill) → delete it',
    'STALE_APPROVAL approvals/b0__gone: no task b0__gone in the task folders (finished and archived, or never submitted) → delete it',
    'STALE_LOCK gpus/.model-load.lock: not refreshed for 30 min (a holder refreshes it every few seconds) → remove it',
    'LATE_RESULT tasks/late_results/b1__a.attempt1.gpu-0.json: a result that arrived after its claim had passed on (kept, never applied) → nothing (informational: read it, then delete it by hand)',
  ]);
  assert.deepEqual(fs.map((f) => f.severity), ['repair', 'repair', 'repair', 'repair', 'repair', 'info']);
  assert.equal(formatCount(fs), 'doctor: 5 problems found (5 --repair can fix), 1 informational');
});

test('without a config: reported for a person, and agent and signal checks are skipped', () => {
  const fs = findProblems(snapshot({
    config: null, taskFiles: [file('processing', claimed)], batches: [b1], agents: [],
    signals: [{ rel: 'signals/gpu-7.stop', name: 'gpu-7.stop', ageMs: 0 }],
  }));
  assert.deepEqual(lines(fs), [
    'NO_CONFIG config.json: no config file; agent, heartbeat and signal checks were skipped → nothing: npm run rig writes a default one',
  ]);
  const bad = findProblems(snapshot({ config: null, configProblem: '/m/config.json: gpus: configure at least one GPU', agents: [] }));
  assert.deepEqual(lines(bad), [
    'BAD_CONFIG config.json: /m/config.json: gpus: configure at least one GPU; agent, heartbeat and signal checks were skipped → nothing: fix the field named above',
  ]);
  assert.equal(formatCount(bad), 'doctor: 1 problem found (1 for a person)');
});
