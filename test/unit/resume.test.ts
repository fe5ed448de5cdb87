// Checkpoint folders and resume, the pure parts: the plan fields (inputs, outputs,
// {CHECKPOINT_DIR}), what --resume runs again, and the input key over real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkpointDir, prepareCheckpointDir } from '../../agents/core/checkpoint.ts';
import { Config } from '../../agents/core/config.ts';
import { digestTaskFiles, taskInputKey } from '../../agents/core/keyFiles.ts';
import type { Task } from '../../agents/core/task.ts';
import { buildBatchTasks } from '../../agents/plan/build.ts';
import { expandForeach } from '../../agents/plan/expand.ts';
import { parsePlan } from '../../agents/plan/parse.ts';
import { resumeRefusal } from '../../agents/plan/resumeRequest.ts';
import { sortProblems, validatePlan } from '../../agents/plan/validate.ts';
import { cacheOf } from '../../agents/brain/cacheResults.ts';
import { type ResumeFacts, type ResumeTask, planResume, resumeKeysNeeded } from '../../agents/brain/resumePlan.ts';
import { makeTask } from '../helpers/mount.ts';

const FILE = '/p/demo/plan.md';
const problemsOf = (lines: string[]) => {
  const { plan, problems } = parsePlan(lines.join('\n'), FILE, '/p/demo');
  return sortProblems([...problems, ...validatePlan(plan, {})]);
};
const tasks = (...lines: string[]) => ['## Inputs', '- **NAME**: a', '## Tasks', ...lines];

test('inputs, outputs and {CHECKPOINT_DIR}: what a plan may write, and the exact problems', () => {
  const rows: Array<[string[], string[]]> = [
    [tasks('### x', '- **command**: `node s.mjs {CHECKPOINT_DIR}`', '- **inputs**: scripts/s.mjs, {BATCH_PATH}/in/{NAME}.json', '- **outputs**: {BATCH_PATH}/out.json'), []],
    [tasks('### x', '- **command**: `a`', '- **inputs**: /etc/passwd'), [`${FILE}:6: task 'x': inputs path '/etc/passwd' must be inside the plan folder (a path relative to it, e.g. scripts/process.mjs) or the batch folder ({BATCH_PATH}/...); copy a file from elsewhere into the plan folder`]],
    [tasks('### x', '- **command**: `a`', '- **inputs**: ../other/x'), [`${FILE}:6: task 'x': inputs path '../other/x' must stay inside its folder; remove '..'`]],
    [tasks('### x', '- **command**: `a`', '- **outputs**: out.json'), [`${FILE}:6: task 'x': outputs path 'out.json' must be under {BATCH_PATH}/ (a task writes only into its batch folder), e.g. {BATCH_PATH}/outputs/x.json`]],
    [tasks('### x', '- **command**: `a`', '- **outputs**: {BATCH_PATH}/{ITEM.id}.json'), [`${FILE}:6: task 'x': {ITEM.id} is only filled in a task with a foreach; add '- **foreach**: {BATCH_PATH}/manifest.json:items' or remove the placeholder`]],
    [tasks('### x', '- **command**: `a`', '- **inputs**: {BATCH_PATH}/{NAMES}'), [`${FILE}:6: task 'x': placeholder {NAMES} in inputs names no input (did you mean 'NAME'?); inputs: NAME; declare it in '## Inputs' as '- **NAMES**: default', or fix the name`]],
    [tasks('### x', '- **command**: `a`', '- **outputs**: {BATCH_PATH}/{CHECKPOINT_DIR}/x'), [`${FILE}:6: task 'x': {CHECKPOINT_DIR} cannot be used in outputs: the checkpoint folder holds progress, not results; name the files under {BATCH_PATH}/ instead`]],
    [tasks('### x', '- **type**: generate', '- **prompt**: hi', '- **model**: m-{CHECKPOINT_DIR}'), [`${FILE}:7: task 'x': {CHECKPOINT_DIR} cannot be used in model: it is the task's own checkpoint folder, known only once the task exists; use {BATCH_PATH} and inputs only`]],
    [['## Inputs', '- **CHECKPOINT_DIR**: x', '## Tasks', '### x', '- **command**: `a`'], [`${FILE}:2: input 'CHECKPOINT_DIR' is reserved: {CHECKPOINT_DIR} is filled by the rig; give the input another name`]],
  ];
  for (const [lines, expected] of rows) assert.deepEqual(problemsOf(lines), expected, lines.join('\n'));
});

const CONFIG = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'qwen2.5:7b', port: 11435 }] });
const BATCH = '20260207-100000-abcdef';
const BP = `/mnt/plans/demo/batches/${BATCH}`;

test('{CHECKPOINT_DIR} is the task\'s own folder, per foreach child too; declared paths become absolute; a value stays one literal argument', () => {
  const { plan } = parsePlan(
    ['## Inputs', '- **NAME**: a', '## Tasks',
      '### x', '- **command**: `node s.mjs {CHECKPOINT_DIR} {NAME}`', '- **inputs**: data/{NAME}.txt', '- **outputs**: {BATCH_PATH}/x.json',
      '### each', '- **command**: `node e.mjs {CHECKPOINT_DIR} {ITEM.id}`', '- **depends_on**: x', '- **foreach**: {BATCH_PATH}/m.json:items', '- **inputs**: {BATCH_PATH}/in/{ITEM.id}'].join('\n'),
    FILE, '/p/demo');
  const built = buildBatchTasks(plan, { batchId: BATCH, batchPath: BP, values: { NAME: '{CHECKPOINT_DIR}' }, config: CONFIG, now: 0 }) as Task[];
  const [x, each] = built as [Task, Task];
  assert.deepEqual(x.argv, ['node', 's.mjs', `${BP}/checkpoints/x`, '{CHECKPOINT_DIR}']);
  assert.deepEqual(x.inputs, ['/p/demo/data/{CHECKPOINT_DIR}.txt']);
  assert.deepEqual(x.outputs, [`${BP}/x.json`]);
  const { tasks: children } = expandForeach({ ...each, attempts: [], result: null } as Task, [{ id: 'a' }, { id: '{CHECKPOINT_DIR}' }], 0);
  assert.deepEqual(children.map((c) => c.argv), [
    ['node', 'e.mjs', `${BP}/checkpoints/each.1`, 'a'],
    ['node', 'e.mjs', `${BP}/checkpoints/each.2`, '{CHECKPOINT_DIR}'],
  ]);
  assert.deepEqual(children.map((c) => c.inputs), [[`${BP}/in/a`], [`${BP}/in/{CHECKPOINT_DIR}`]]);
  assert.throws(() => checkpointDir(BP, '../x'), /not a safe name/);
  assert.throws(() => checkpointDir(BP, 'a/b'), /not a safe name/);
});

test('prepareCheckpointDir keeps what an attempt left, and refuses a checkpoints folder replaced by a symlink', async () => {
  const root = await mkdtemp(join(tmpdir(), 'forge-ckpt-'));
  try {
    const dir = await prepareCheckpointDir(root, 'x');
    await writeFile(join(dir, 'done'), '3');
    assert.equal(await prepareCheckpointDir(root, 'x'), dir);
    const other = join(root, 'other');
    await mkdir(join(other, 'checkpoints'), { recursive: true });
    await symlink(join(root, 'checkpoints'), join(other, 'checkpoints', 'y'));
    await assert.rejects(prepareCheckpointDir(other, 'y'), /checkpoints\/y is a symlink; a checkpoint folder must be a real folder/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

// A plan: prepare -> check -> report; side alone; a foreach each (over prepare's manifest) -> gather.
const T = (id: string, over: Partial<ResumeTask> = {}): ResumeTask => ({ id, name: id, depends_on: [], role: 'work', children: null, windowed: false, complete: true, outcome: 'success', ...over });
const PLAN: ResumeTask[] = [
  T('prepare'),
  T('check', { depends_on: ['prepare'] }),
  T('report', { depends_on: ['check'] }),
  T('side'),
  T('load', { role: 'meta' }),
  T('each', { role: 'template', depends_on: ['prepare'], children: ['each.1', 'each.2'] }),
  T('each.1', { role: 'child', depends_on: ['prepare'] }),
  T('each.2', { role: 'child', depends_on: ['prepare'] }),
  T('gather', { depends_on: ['each'] }),
  T('batch_summary', { role: 'summary', depends_on: ['prepare', 'check', 'report', 'side', 'load', 'each', 'gather'] }),
];
const KEYED = ['prepare', 'check', 'report', 'side', 'each.1', 'each.2', 'gather'];

function facts(over: { keysNow?: Record<string, string | null>; missing?: Record<string, string[]>; uncached?: string[] } = {}): ResumeFacts {
  const cached = new Map(KEYED.filter((id) => !over.uncached?.includes(id)).map((id) => [id, { key: `k-${id}`, outputs: [] }]));
  const keysNow = new Map<string, string | null>(KEYED.map((id) => [id, `k-${id}`]));
  for (const [id, k] of Object.entries(over.keysNow ?? {})) keysNow.set(id, k);
  return { cached, keysNow, missingOutputs: new Map(Object.entries(over.missing ?? {})) };
}

const summary = (vs: ReturnType<typeof planResume>) => Object.fromEntries(vs.map((v) => [v.id, v.verdict === 'keep' ? 'keep' : `${v.verdict}: ${v.reason}`]));

test('planResume: what runs again, and why, one scenario per row', () => {
  const rows: Array<[string, ResumeTask[], ResumeFacts, Record<string, string>]> = [
    ['check failed: it and report run again, the rest is kept', PLAN.map((t) => (t.id === 'check' ? { ...t, complete: false, outcome: 'failed' } : t.id === 'report' ? { ...t, complete: false, outcome: 'not_run' } : t)), facts(), {
      prepare: 'keep', check: 'rerun: it ended failed', report: 'rerun: it was not run', side: 'keep', load: 'keep', each: 'keep', 'each.1': 'keep', 'each.2': 'keep', gather: 'keep',
      batch_summary: 'rerun: the summary is written again for every run',
    }],
    ['a changed script of a complete task: it and its dependants run again', PLAN, facts({ keysNow: { check: 'k-edited' } }), {
      prepare: 'keep', check: 'rerun: its inputs changed (its command, prompt, model, or a file it declares or names)', report: 'rerun: dependency check runs again', side: 'keep', load: 'keep', each: 'keep', 'each.1': 'keep', 'each.2': 'keep', gather: 'keep',
      batch_summary: 'rerun: the summary is written again for every run',
    }],
    ['prepare changed: everything after it, the foreach made again without its children', PLAN, facts({ keysNow: { prepare: 'k-new' } }), {
      prepare: 'rerun: its inputs changed (its command, prompt, model, or a file it declares or names)', check: 'rerun: dependency prepare runs again', report: 'rerun: dependency check runs again', side: 'keep', load: 'keep',
      each: 'reexpand: dependency prepare runs again, so its manifest is read again', gather: 'rerun: dependency each runs again', batch_summary: 'rerun: the summary is written again for every run',
    }],
    ['one foreach item lost its output: that item, the template and gather run again', PLAN, facts({ missing: { 'each.2': ['/b/outputs/each.2.json'] } }), {
      prepare: 'keep', check: 'keep', report: 'keep', side: 'keep', load: 'keep', each: 'rerun: 1 of 2 items run again', 'each.1': 'keep', 'each.2': 'rerun: its output /b/outputs/each.2.json is missing',
      gather: 'rerun: dependency each runs again', batch_summary: 'rerun: the summary is written again for every run',
    }],
    ['no key recorded, or the files unreadable now: run again', PLAN, facts({ uncached: ['side'], keysNow: { prepare: null } }), {
      prepare: 'rerun: its input files could not be read', check: 'rerun: dependency prepare runs again', report: 'rerun: dependency check runs again', side: 'rerun: no input key was recorded for its run', load: 'keep',
      each: 'reexpand: dependency prepare runs again, so its manifest is read again', gather: 'rerun: dependency each runs again', batch_summary: 'rerun: the summary is written again for every run',
    }],
    ['a windowed foreach is kept whole when complete, made again whole when not', [T('a'), T('w', { role: 'template', depends_on: ['a'], children: [], windowed: true, complete: false, outcome: 'not_run' })], { cached: new Map([['a', { key: 'k', outputs: [] }]]), keysNow: new Map([['a', 'k']]), missingOutputs: new Map() }, {
      a: 'keep', w: 'reexpand: it was not run; its items, made a window at a time, all run again',
    }],
  ];
  for (const [what, ts, f, expected] of rows) assert.deepEqual(summary(planResume(ts, f)), expected, what);
  const dropped = planResume(PLAN, facts({ keysNow: { prepare: 'k-new' } })).find((v) => v.id === 'each');
  assert.deepEqual(dropped?.verdict === 'reexpand' && dropped.dropped, ['each.1', 'each.2']);
  assert.deepEqual(resumeKeysNeeded(PLAN, facts().cached), KEYED);
});

test('resumeRefusal and cacheOf: which batches resume; what the cache records', () => {
  assert.equal(resumeRefusal('b', 'failed'), null);
  assert.equal(resumeRefusal('b', 'cancelled'), null);
  assert.equal(resumeRefusal('b', 'complete'), 'batch b completed: nothing to resume; submit its plan again for a new run');
  assert.equal(resumeRefusal('b', 'running'), 'batch b is running: only a failed or cancelled batch can be resumed; wait for it to end, or forge cancel b first');
  const ok = makeTask({ name: 'a', result: { task_id: 'b1__a', attempt: 1, outcome: 'success', failure_kind: null, exit_code: 0, signal: null, reason: null, started_at: '', finished_at: '', duration_ms: 1, stdout_path: null, stderr_path: null, input_key: 'k1', outputs: ['/b/o.json'] } });
  const bad = makeTask({ name: 'c', result: { ...ok.result!, task_id: 'b1__c', outcome: 'failed' } });
  const views = new Map([[ok.id, { folder: 'complete' as const, task: ok }], [bad.id, { folder: 'failed' as const, task: bad }]]);
  assert.deepEqual(cacheOf('b1', [ok.id, bad.id], views, 'T').tasks, { [ok.id]: { key: 'k1', outputs: ['/b/o.json'] } });
});

test('the input key: an edited script or declared input changes it; batches/, links out and big files are handled as documented', async () => {
  const root = await mkdtemp(join(tmpdir(), 'forge-key-'));
  try {
    const plan = join(root, 'plan');
    const bp = join(plan, 'batches', 'b1');
    await mkdir(join(plan, 'scripts'), { recursive: true });
    await mkdir(bp, { recursive: true });
    await writeFile(join(plan, 'scripts', 'run.mjs'), 'v1');
    await writeFile(join(bp, 'in.json'), '{}');
    await writeFile(join(bp, 'out.json'), 'written by the task');
    await writeFile(join(root, 'secret'), 'x');
    await symlink(join(root, 'secret'), join(plan, 'link'));
    const task = makeTask({ cwd: plan, batch_path: bp, argv: ['node', 'scripts/run.mjs', `${bp}/out.json`, 'link', '-v'], inputs: [`${bp}/in.json`, join(plan, 'scripts')] });
    const key1 = await taskInputKey(task, CONFIG);
    const files = await digestTaskFiles(task);
    assert.deepEqual(files.map((f) => [f.path.slice(root.length), f.digest.replace(/[0-9a-f]{64}/, 'H')]), [
      ['/plan/batches/b1/in.json', 'sha256:H'],
      ['/plan/scripts', 'dir'],
      ['/plan/scripts/run.mjs', 'sha256:H'],
    ], 'out.json under batches/ and the link out of the plan folder are not keyed from the command');
    assert.equal(await taskInputKey(task, CONFIG), key1, 'the same files, the same key');
    await writeFile(join(plan, 'scripts', 'run.mjs'), 'v2');
    const key2 = await taskInputKey(task, CONFIG);
    assert.notEqual(key2, key1, 'an edited script changes the key');
    await writeFile(join(bp, 'in.json'), '{"a": 1}');
    assert.notEqual(await taskInputKey(task, CONFIG), key2, 'an edited declared input changes the key');
    const limited = await digestTaskFiles({ ...task, inputs: [join(plan, 'link'), `${bp}/none`, `${bp}/in.json`] }, new Map(), { bytesPerTask: 4, files: 256, argvScanned: 10 });
    assert.deepEqual(limited.map((f) => f.digest.replace(/:\d+$/, ':T')), ['outside', 'missing', 'stat:8:T', 'sha256:' + limited[3]!.digest.slice(7)]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
