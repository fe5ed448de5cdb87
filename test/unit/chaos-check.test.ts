// The chaos checker's rules on hand-made inputs: the checker is pure, so each rule is tried
// without a rig. The seeded trials with real processes are in test/long/chaos.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchRecord } from '../../agents/core/batch.ts';
import { Task, type AttemptRecord } from '../../agents/core/task.ts';
import { type TrialInput, checkTrial } from '../../tools/chaos/check.ts';
import type { ChaosEvent } from '../../tools/chaos/events.ts';
import { Rng } from '../../tools/chaos/prng.ts';
import type { MountSnapshot, RunLine } from '../../tools/chaos/snapshot.ts';
import { parseDecisionLine } from '../../agents/core/decisionLog.ts';
import { parseRunLog } from '../../tools/chaos/snapshot.ts';

const B = '20260101-000000-aaaaaa';
const T0 = Date.parse('2026-01-01T00:00:10.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

function attempt(n: number, outcome: AttemptRecord['outcome'], at: number, over: Partial<AttemptRecord> = {}): AttemptRecord {
  const kind = outcome === 'success' ? null : outcome === 'failed' ? 'app' : 'infra';
  return { attempt: n, agent: 'gpu-0', claimed_at: iso(at), finished_at: iso(at + 500), outcome, failure_kind: kind, reason: null, exit_code: null, ...over };
}

function task(name: string, attempts: AttemptRecord[], over: Record<string, unknown> = {}): Task {
  const last = attempts[attempts.length - 1];
  return Task.parse({
    id: `${B}__${name}`, batch: B, plan: 'chaos-1', name, task_class: 'cpu', command: 'x', argv: ['x'], cwd: '/tmp', batch_path: '/tmp/b',
    vram_estimate_mb: 0, timeout_s: 60, max_attempts: 3, created_at: iso(T0), attempt: last?.attempt ?? 0, attempts,
    result: { task_id: `${B}__${name}`, attempt: Math.max(1, last?.attempt ?? 1), outcome: 'success', failure_kind: null, exit_code: 0, signal: null, reason: null, started_at: iso(T0), finished_at: iso(T0), duration_ms: 0, stdout_path: null, stderr_path: null },
    ...over,
  });
}

const run = (name: string, n: number, pid: number, start: number, end: number | null, status = 'ok'): RunLine[] => {
  const lines: RunLine[] = [{ t: start, task: `${B}__${name}`, attempt: n, pid, what: 'START', status: null }];
  if (end !== null) lines.push({ t: end, task: `${B}__${name}`, attempt: n, pid, what: 'END', status: status as 'ok' | 'fail' });
  return lines;
};

/** A batch of two tasks, a and b, each run once; `edit` changes the mount before the check. */
function input(edit: (s: MountSnapshot, events: ChaosEvent[]) => void = () => {}): TrialInput {
  const ids = ['a', 'b', 'batch_summary'].map((n) => `${B}__${n}`);
  const snapshot: MountSnapshot = {
    batches: {
      [B]: BatchRecord.parse({ id: B, plan: 'chaos-1', plan_dir: '/p', batch_path: '/tmp/b', state: 'complete', values: {}, submitted_at: iso(T0), started_at: iso(T0), finished_at: iso(T0 + 5000), task_ids: ids }),
    },
    archive: { [B]: [task('a', [attempt(1, 'success', T0)]), task('b', [attempt(1, 'success', T0)]), task('batch_summary', [], { executor: 'brain', type: 'batch_summary' })] },
    unreadable: [],
    folders: { private: [], queue: [], processing: [], complete: [], failed: [] },
    inbox: [], rejected: [], quarantine: [], lateResults: [],
    runs: [...run('a', 1, 100, T0 + 100, T0 + 400), ...run('b', 1, 101, T0 + 100, T0 + 400)],
    badRunLines: [],
    decisions: [{ t: T0 + 5000, who: 'brain', what: 'FINISH', task: null, text: `${iso(T0 + 5000)} brain  FINISH batch=${B} — complete` }],
    tempFiles: [],
  };
  const events: ChaosEvent[] = [{ t: T0 - 5000, kind: 'start', role: 'agent', gpu: 0, pid: 50 }];
  edit(snapshot, events);
  return { snapshot, events, expected: [{ id: B, plan: 'chaos-1', names: ['a', 'b', 'batch_summary'] }], aliveRunPids: [], finishedInTime: true, logDir: '/logs' };
}

const archived = (s: MountSnapshot, name: string, t: Task) => {
  s.archive[B] = s.archive[B]!.map((x) => (x.name === name ? t : x));
};

test('checker: a clean trial passes', () => {
  const v = checkTrial(input());
  assert.deepEqual(v.problems, []);
  assert.equal(v.ok, true);
  assert.equal(v.tasksChecked, 3);
});

test('checker: a task left in processing/ is lost', () => {
  const v = checkTrial(input((s) => {
    s.archive[B] = s.archive[B]!.filter((t) => t.name !== 'b');
    s.folders.processing.push(`${B}__b.json`);
  }));
  assert.equal(v.tasksLost, 1);
  assert.match(v.problems.join('\n'), /__b: lost: expected once in tasks\/archive\/\S+, found in processing\//);
});

test('checker: a second run of one attempt is an unexplained duplicate; a killed run recorded as infra is not', () => {
  const dup = checkTrial(input((s) => s.runs.push(...run('a', 1, 102, T0 + 200, T0 + 450))));
  assert.equal(dup.unexplainedDuplicates, 1);
  assert.match(dup.problems.join('\n'), /attempt 1 ran 2 times \(pids 100, 102\)/);

  const killed = checkTrial(input((s) => {
    archived(s, 'a', task('a', [attempt(1, 'killed', T0), attempt(2, 'success', T0 + 1000)]));
    s.runs = [...run('a', 1, 100, T0 + 100, null), ...run('a', 2, 103, T0 + 1100, T0 + 1400), ...run('b', 1, 101, T0 + 100, T0 + 400)];
  }));
  assert.deepEqual(killed.problems, []);
  assert.equal(killed.extraRuns.killed, 1);
  assert.equal(killed.unexplainedDuplicates, 0);
});

test('checker: a run with no attempt record is unexplained; a killed run recorded as an app failure is wrong', () => {
  const v = checkTrial(input((s) => {
    archived(s, 'a', task('a', [attempt(1, 'failed', T0), attempt(2, 'success', T0 + 1000)]));
    s.runs = [...run('a', 1, 100, T0 + 100, null), ...run('a', 2, 103, T0 + 1100, T0 + 1400), ...run('a', 3, 104, T0 + 1100, T0 + 1400), ...run('b', 1, 101, T0 + 100, T0 + 400)];
  }));
  assert.equal(v.unexplainedDuplicates, 1);
  assert.match(v.problems.join('\n'), /attempt 3 \(pid 104\) ran \(END ok\) but has no attempt record/);
  assert.match(v.problems.join('\n'), /attempt 1 \(pid 100\) was killed before its END, yet recorded as failed \(app\)/);
});

test('checker: a task that outlives its dead worker, or its agent\'s restart, is a stray run; a presumed-dead agent\'s late run is not', () => {
  // The agent recorded attempt 1 as an error at T0+500; its task went on until T0+900.
  const afterWorker = checkTrial(input((s) => {
    archived(s, 'a', task('a', [attempt(1, 'error', T0), attempt(2, 'success', T0 + 1000)]));
    s.runs = [...run('a', 1, 100, T0 + 100, T0 + 900), ...run('a', 2, 103, T0 + 1100, T0 + 1400), ...run('b', 1, 101, T0 + 100, T0 + 400)];
  }));
  assert.equal(afterWorker.strayRuns, 1);
  assert.match(afterWorker.problems.join('\n'), /stray run: ran on until .* after gpu-0 recorded the attempt as error/);

  // The brain presumed gpu-0 dead; gpu-0 restarted (pid 60) at T0+700; the old task ended at T0+900.
  const afterRestart = checkTrial(input((s, events) => {
    archived(s, 'a', task('a', [attempt(1, 'lost', T0, { reason: 'agent gpu-0 presumed dead (silent)', finished_at: iso(T0 + 300) }), attempt(2, 'success', T0 + 1000)]));
    s.runs = [...run('a', 1, 100, T0 + 100, T0 + 900), ...run('a', 2, 103, T0 + 1100, T0 + 1400), ...run('b', 1, 101, T0 + 100, T0 + 400)];
    events.push({ t: T0 + 400, kind: 'start', role: 'agent', gpu: 0, pid: 60 });
    s.decisions.unshift({ t: T0 + 700, who: 'gpu-0', what: 'START', task: null, text: `${iso(T0 + 700)} gpu-0  START — pid 60, GPU 0` });
  }));
  assert.equal(afterRestart.strayRuns, 1);
  assert.match(afterRestart.problems.join('\n'), /after gpu-0 restarted at/);

  // Presumed dead but alive all along: its run finishes, its result is kept aside.
  const late = checkTrial(input((s) => {
    archived(s, 'a', task('a', [attempt(1, 'lost', T0, { reason: 'agent gpu-0 presumed dead (silent)', finished_at: iso(T0 + 300) }), attempt(2, 'success', T0 + 1000, { agent: 'gpu-1' })]));
    s.runs = [...run('a', 1, 100, T0 + 100, T0 + 900), ...run('a', 2, 103, T0 + 1100, T0 + 1400), ...run('b', 1, 101, T0 + 100, T0 + 400)];
    s.lateResults.push(`${B}__a.attempt1.gpu-0.json`);
  }));
  assert.deepEqual(late.problems, []);
  assert.equal(late.extraRuns.late, 1);
});

test('checker: garbage must be quarantined with a reason, and nothing else may be', () => {
  const drop = (folder: 'queue' | 'failed', name: string): ChaosEvent => ({ t: T0 + 1000, kind: 'garbage', folder, name, garbage: 'random', batch: B });
  const ok = checkTrial(input((s, events) => {
    events.push(drop('queue', 'junk-aa.bin'));
    s.quarantine.push({ where: 'queue', name: '1767225611000-77-junk-aa.bin', why: 'not a task file' });
  }));
  assert.deepEqual(ok.problems, []);
  assert.equal(ok.garbage.quarantined, 1);

  const missed = checkTrial(input((s, events) => {
    events.push(drop('queue', 'junk-bb.bin'));
    s.folders.queue.push('junk-bb.bin');
    s.quarantine.push({ where: 'complete', name: `1767225611000-77-${B}__b.json`, why: 'not valid JSON' });
  }));
  assert.match(missed.problems.join('\n'), /garbage queue\/junk-bb.bin \(random\): not quarantined; still in queue\//);
  assert.match(missed.problems.join('\n'), /a file the chaos run did not drop was quarantined: not valid JSON/);

  // Dropped into failed/ after the batch's last pass: the brain no longer looks there.
  const unseen = checkTrial(input((s, events) => {
    events.push({ ...drop('failed', 'junk-cc.bin'), t: T0 + 4800 });
    s.folders.failed.push('junk-cc.bin');
  }));
  assert.deepEqual(unseen.problems, []);
  assert.equal(unseen.garbage.unseen, 1);
});

test('checker: a crash, a batch that ended failed, and a deadline are each a problem', () => {
  const v = checkTrial({
    ...input((s, events) => {
      s.batches[B] = { ...s.batches[B]!, state: 'failed' };
      events.push({ t: T0 + 2000, kind: 'exit', role: 'brain', gpu: null, pid: 40, code: 70, signal: null, expected: false });
    }),
    finishedInTime: false,
  });
  assert.equal(v.crashes, 1);
  const text = v.problems.join('\n');
  assert.match(text, /brain \(pid 40\) exited by itself \(exit 70\)/);
  assert.match(text, /batch \S+: ended failed, expected complete/);
  assert.match(text, /not every batch reached a final state before the deadline/);
});

test('checker: recovery runs from a kill to the next start of the task it interrupted', () => {
  const v = checkTrial(input((s, events) => {
    archived(s, 'a', task('a', [attempt(1, 'killed', T0), attempt(2, 'success', T0 + 1000)]));
    s.runs = [...run('a', 1, 100, T0 + 100, null), ...run('a', 2, 103, T0 + 1750, T0 + 1900), ...run('b', 1, 101, T0 + 100, T0 + 400)];
    events.push({ t: T0 + 250, kind: 'kill', target: 'task', pid: 100, gpu: 0, agent: 'gpu-0', hit: [{ task_id: `${B}__a`, attempt: 1, worker_pid: 99, task_pgid: 100 }] });
  }));
  assert.deepEqual(v.problems, []);
  assert.equal(v.kills.task, 1);
  assert.equal(v.longestRecoveryMs, 1500);
});

test('runs.log and decision lines parse; a torn line is reported, not guessed', () => {
  const { runs, bad } = parseRunLog(`1 ${B}__a 1 100 START\n2 ${B}__a 1 100 END ok\n3 ${B}__a 1 1\n`);
  assert.equal(runs.length, 2);
  assert.deepEqual(bad, [`3 ${B}__a 1 1`]);
  const d = parseDecisionLine('2026-01-01T00:00:00.000Z gpu-0  ORPHAN task=x__y — returned');
  assert.deepEqual(d && { who: d.who, what: d.what, task: d.task }, { who: 'gpu-0', what: 'ORPHAN', task: 'x__y' });
});

test('the seeded generator repeats itself, and its streams do not disturb each other', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  assert.deepEqual([a.int(0, 1000), a.int(0, 1000)], [b.int(0, 1000), b.int(0, 1000)]);
  const used = new Rng(7);
  used.next();
  assert.equal(used.fork('faults').next(), new Rng(7).fork('faults').next());
});
