// Gate tasks: the verdict's form (core/gate.ts), the worker's judgement of a gate that exited 0
// (worker/gateCheck.ts), and the brain's pure decisions behind a gate (brain/decide.ts with
// brain/gateSkip.ts): no → dependants skipped, transitively, batch complete; yes → released.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Config } from '../../agents/core/config.ts';
import { BatchRecord } from '../../agents/core/batch.ts';
import { MAX_GATE_REASON_CHARS, MAX_VERDICT_BYTES, clearVerdict, parseVerdict, readVerdict } from '../../agents/core/gate.ts';
import type { TaskFolder } from '../../agents/core/paths.ts';
import type { Task, WorkerResult } from '../../agents/core/task.ts';
import { type BrainAction, decideBatch, type TaskView } from '../../agents/brain/decide.ts';
import { awaitsGate, gateSkips } from '../../agents/brain/gateSkip.ts';
import { buildSummary } from '../../agents/brain/summary.ts';
import { judgeGate } from '../../agents/worker/gateCheck.ts';
import { parsePlan } from '../../agents/plan/parse.ts';
import { buildBatchTasks } from '../../agents/plan/build.ts';
import { makeTask } from '../helpers/mount.ts';

const config = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 11435 }] });

function result(t: Task, over: Partial<WorkerResult> = {}): WorkerResult {
  return {
    task_id: t.id, attempt: 1, outcome: 'success', failure_kind: null, exit_code: 0, signal: null, reason: null,
    started_at: 'x', finished_at: 'x', duration_ms: 1, stdout_path: null, stderr_path: null, ...over,
  };
}

/** A gate that completed with this verdict. */
function said(t: Task, proceed: boolean, reason: string | null = null): Task {
  return { ...t, attempt: 1, result: result(t, { gate: { proceed, reason } }) };
}

function skippedBy(t: Task, reason: string): Task {
  return { ...t, result: result(t, { outcome: 'skipped', exit_code: null, reason }) };
}

function failedForGood(t: Task): Task {
  const r = result(t, { outcome: 'failed', failure_kind: 'app', exit_code: 1, reason: 'exit code 1' });
  const attempts = [1, 2, 3].map((n) => ({ attempt: n, agent: 'gpu-0', claimed_at: 'x', finished_at: 'x', outcome: 'failed' as const, failure_kind: 'app' as const, reason: 'r', exit_code: 1 }));
  return { ...t, attempt: 3, attempts, result: { ...r, attempt: 3 } };
}

function batch(ids: string[]): BatchRecord {
  return BatchRecord.parse({
    id: 'b1', plan: 'p', plan_dir: '/p', batch_path: '/p/batches/b1', state: 'running', values: {},
    submitted_at: 'x', started_at: 'x', finished_at: null, task_ids: ids,
  });
}

const views = (entries: Array<[TaskFolder, Task]>) => new Map<string, TaskView>(entries.map(([folder, task]) => [task.id, { folder, task }]));
const show = (acts: BrainAction[]) => acts.map((a) => `${a.kind}:${'id' in a ? a.id.replace('b1__', '') : ''}${a.kind === 'skip' ? `:${a.reason}` : ''}`);

// check (gate) → build → publish; lint (no gate) → build; fan: a foreach behind the gate.
const check = makeTask({ name: 'check', gate: true });
const lint = makeTask({ name: 'lint' });
const build = makeTask({ name: 'build', depends_on: ['b1__check', 'b1__lint'] });
const publish = makeTask({ name: 'publish', depends_on: ['b1__build'] });
const fan = makeTask({ name: 'fan', depends_on: ['b1__check'], foreach: { path: '/p/batches/b1/m.json', key: 'items' } });
const summary = makeTask({ name: 'batch_summary', executor: 'brain', type: 'batch_summary', depends_on: ['b1__check', 'b1__lint', 'b1__build', 'b1__publish', 'b1__fan'] });
const ids = [check, lint, build, publish, fan, summary].map((t) => t.id);

const NO = 'gate check said no: input.txt is empty';

test('decide: what the tasks behind a gate do, by the gate and their other dependencies', () => {
  const rows: Array<{ name: string; tasks: Array<[TaskFolder, Task]>; want: string[] }> = [
    {
      name: 'gate said no: its direct dependants skipped at once (a foreach is not expanded), the gate itself stays complete',
      tasks: [['complete', said(check, false, 'input.txt is empty')], ['complete', lint], ['private', build], ['private', publish], ['private', fan], ['private', summary]],
      want: [`skip:build:${NO}`, `skip:fan:${NO}`],
    },
    {
      name: 'a task behind a skipped one is skipped with the same reason (transitive)',
      tasks: [['complete', said(check, false, 'input.txt is empty')], ['complete', lint], ['complete', skippedBy(build, NO)], ['private', publish], ['complete', skippedBy(fan, NO)], ['private', summary]],
      want: [`skip:publish:${NO}`],
    },
    {
      name: 'gate said no while another dependency still runs: skipped without waiting',
      tasks: [['complete', said(check, false, 'input.txt is empty')], ['processing', lint], ['private', build], ['private', publish], ['private', fan], ['private', summary]],
      want: [`skip:build:${NO}`, `skip:fan:${NO}`],
    },
    {
      name: 'gate said no and another dependency failed for good: not run (the failure decides)',
      tasks: [['complete', said(check, false, 'input.txt is empty')], ['failed', failedForGood(lint)], ['private', build], ['private', publish], ['private', fan], ['private', summary]],
      want: ['give_up:lint', 'not_run:build', `skip:fan:${NO}`],
    },
    {
      name: 'gate said yes: dependants released (and the foreach expanded) as always',
      tasks: [['complete', said(check, true, 'all good')], ['complete', lint], ['private', build], ['private', publish], ['private', fan], ['private', summary]],
      want: ['release:build', 'expand:fan'],
    },
    {
      name: 'gate said yes, the other dependency still runs: wait',
      tasks: [['complete', said(check, true)], ['queue', lint], ['private', build], ['private', publish], ['private', fan], ['private', summary]],
      want: ['expand:fan'],
    },
    {
      name: 'a gate with no valid verdict failed (the worker says so): dependants not run, never skipped',
      tasks: [['failed', failedForGood(check)], ['complete', lint], ['private', build], ['private', publish], ['private', fan], ['private', summary]],
      want: ['give_up:check', 'not_run:build', 'not_run:fan'],
    },
    {
      name: 'a skip written in private/ by a brain that stopped before moving it is moved on, with its reason',
      tasks: [['complete', said(check, false, 'input.txt is empty')], ['complete', lint], ['private', skippedBy(build, NO)], ['private', publish], ['complete', skippedBy(fan, NO)], ['private', summary]],
      want: [`skip:build:${NO}`, `skip:publish:${NO}`],
    },
    {
      name: 'a gate complete without a verdict on its result (an older worker ran it): dependants not run, never a guess',
      tasks: [['complete', { ...check, attempt: 1, result: result(check) }], ['complete', lint], ['private', build], ['private', publish], ['private', fan], ['private', summary]],
      want: ['not_run:build', 'not_run:fan'],
    },
    {
      name: 'a task that is no gate cannot say no: a verdict on it is ignored',
      tasks: [['complete', said({ ...check, gate: false }, false)], ['complete', lint], ['private', build], ['private', publish], ['private', fan], ['private', summary]],
      want: ['release:build', 'expand:fan'],
    },
  ];
  for (const row of rows) assert.deepEqual(show(decideBatch(batch(ids), views(row.tasks), new Set(), config)), row.want, row.name);
});

test('decide: a batch whose only unrun tasks a gate skipped is complete, with skipped counted apart and grouped by gate', () => {
  const tasks = views([
    ['complete', said(check, false, 'input.txt is empty')], ['complete', lint], ['complete', skippedBy(build, NO)],
    ['complete', skippedBy(publish, NO)], ['complete', skippedBy(fan, NO)], ['private', summary],
  ]);
  assert.deepEqual(show(decideBatch(batch(ids), tasks, new Set(), config)), ['summarize:batch_summary']);
  tasks.set(summary.id, { folder: 'complete', task: { ...summary, result: result(summary) } });
  const finish = decideBatch(batch(ids), tasks, new Set(), config).find((a) => a.kind === 'finish_batch');
  assert.ok(finish && finish.kind === 'finish_batch');
  assert.equal(finish.state, 'complete');
  assert.deepEqual(finish.counts, { total: 6, waiting: 0, queued: 0, processing: 0, complete: 3, failed: 0, skipped: 3 });
  assert.deepEqual(finish.skipped, { b1__check: { reason: NO, tasks: ['b1__build', 'b1__publish', 'b1__fan'] } });
  // The summary: skipped rows with the gate's reason, not failures.
  const s = buildSummary(batch(ids), tasks, summary.id, config);
  assert.equal(s.state, 'complete');
  assert.deepEqual(s.tasks.filter((t) => t.state === 'skipped').map((t) => [t.name, t.reason]), [['build', NO], ['publish', NO], ['fan', NO]]);
});

test('gateSkips: two gates that said no, each with its own tasks', () => {
  const other = makeTask({ name: 'other', gate: true });
  const behind = makeTask({ name: 'behind', depends_on: ['b1__other'] });
  const tasks = views([
    ['complete', said(check, false, 'a')], ['complete', said(other, false, null)], ['complete', skippedBy(build, 'x')],
    ['complete', skippedBy(publish, 'x')], ['complete', skippedBy(behind, 'y')],
  ]);
  assert.deepEqual(gateSkips([...tasks.keys()], tasks), {
    b1__check: { reason: 'gate check said no: a', tasks: ['b1__build', 'b1__publish'] },
    b1__other: { reason: 'gate other said no: no reason given', tasks: ['b1__behind'] },
  });
});

test('awaitsGate: tasks behind a gate that has not finished (directly or not) are no demand for a model yet', () => {
  const rows: Array<[string, Array<[TaskFolder, Task]>, Record<string, boolean>]> = [
    ['gate running', [['processing', check], ['complete', lint], ['private', build], ['private', publish]], { build: true, publish: true, lint: false, check: false }],
    ['gate done', [['complete', said(check, true)], ['complete', lint], ['private', build], ['private', publish]], { build: false, publish: false }],
    ['no gate before it, only a running task', [['complete', said(check, true)], ['processing', lint], ['private', build], ['private', publish]], { build: false, publish: false }],
  ];
  for (const [name, entries, want] of rows) {
    const tasks = views(entries);
    for (const [t, w] of Object.entries(want)) assert.equal(awaitsGate(`b1__${t}`, tasks), w, `${name}: ${t}`);
  }
});

test('parseVerdict: the forms a gate may write, and what is wrong with the others', () => {
  const long = 'x'.repeat(MAX_GATE_REASON_CHARS + 50);
  const rows: Array<[string, string, unknown]> = [
    ['shell', '{"proceed": true}', { proceed: true, reason: null }],
    ['shell', '{"proceed": false, "reason": " empty input "}', { proceed: false, reason: 'empty input' }],
    ['parse', '{"proceed": false, "reason": "r", "score": 2}', { proceed: false, reason: 'r' }],
    ['shell', `{"proceed": false, "reason": "${long}"}`, { proceed: false, reason: `${long.slice(0, MAX_GATE_REASON_CHARS - 1)}…` }],
    ['generate', JSON.stringify({ text: '```json\n{"proceed": true, "reason": "ok"}\n```' }), { proceed: true, reason: 'ok' }],
    ['shell', '{"proceed": "yes"}', /^not a gate verdict \{"proceed": true\|false, "reason": "\.\.\."\} \(reason optional\): proceed: .*boolean/],
    ['shell', '{"reason": "r"}', /^not a gate verdict .*proceed/],
    ['shell', 'proceed', /^not valid JSON: .*expected a gate verdict/],
    ['generate', JSON.stringify({ text: 'Yes, go ahead.' }), /^the answer is not valid JSON/],
  ];
  for (const [type, text, want] of rows) {
    const got = parseVerdict(text, type);
    if (want instanceof RegExp) {
      assert.ok(!got.ok, text);
      assert.match(got.problem, want, text);
    } else assert.deepEqual(got, { ok: true, verdict: want }, text);
  }
});

test('readVerdict and judgeGate: exit 0 with a verdict carries it; without one the gate fails as its own fault, naming the file and the form', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'forge-gate-'));
  try {
    const gate = { ...check, batch_path: dir };
    const file = join(dir, 'outputs', 'check.json');
    const ok = result(gate);

    const missing = judgeGate(gate, ok, await readVerdict(dir, 'check', 'shell'));
    assert.equal(missing.outcome, 'failed');
    assert.equal(missing.failure_kind, 'app');
    assert.equal(missing.reason, `gate task 'check' exited 0 but gave no valid verdict: ${file}: it does not exist; a gate writes {"proceed": true|false, "reason": "..."} (reason optional) there (whole: to a temporary name, then renamed)`);

    await mkdir(join(dir, 'outputs'));
    await writeFile(file, ' '.repeat(MAX_VERDICT_BYTES + 1));
    const big = judgeGate(gate, ok, await readVerdict(dir, 'check', 'shell'));
    assert.equal(big.outcome, 'failed');
    assert.match(big.reason ?? '', /check\.json.*(bytes|large|limit)/);

    await writeFile(file, '{"proceed": false, "reason": "nothing new"}');
    assert.deepEqual(judgeGate(gate, ok, await readVerdict(dir, 'check', 'shell')).gate, { proceed: false, reason: 'nothing new' });
    // A gate that failed stays failed: its verdict file is not read into it.
    const crashed = result(gate, { outcome: 'failed', failure_kind: 'app', exit_code: 2, reason: 'exit code 2' });
    assert.deepEqual(judgeGate(gate, crashed, { ok: true, verdict: { proceed: true, reason: null } }), crashed);

    // An earlier attempt's verdict is removed before the gate runs again; removing none is fine.
    await clearVerdict(dir, 'check');
    await clearVerdict(dir, 'check');
    assert.equal((await readVerdict(dir, 'check', 'shell')).ok, false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('plan: gate: true reaches the task file; left out it is false', () => {
  const text = ['## Tasks', '### check', '- **command**: `node check.mjs`', '- **gate**: true', '### build', '- **command**: `node build.mjs`', '- **depends_on**: check'].join('\n');
  const { plan, problems } = parsePlan(text, '/p/g/plan.md', '/p/g');
  assert.deepEqual(problems, []);
  const tasks = buildBatchTasks(plan, { batchId: 'b1', batchPath: '/p/g/batches/b1', values: {}, config, now: 0 });
  assert.deepEqual(tasks.map((t) => [t.name, t.gate ?? false]), [['check', true], ['build', false], ['batch_summary', false]]);
});
