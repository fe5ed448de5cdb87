import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Config } from '../../agents/core/config.ts';
import { UserInputError } from '../../agents/core/errors.ts';
import { Task } from '../../agents/core/task.ts';
import { buildBatchTasks, resolveValues } from '../../agents/plan/build.ts';
import { expandForeach, readManifestItems } from '../../agents/plan/expand.ts';
import { inferTaskClass } from '../../agents/plan/infer.ts';
import { loadPlan } from '../../agents/plan/load.ts';
import { parsePlan } from '../../agents/plan/parse.ts';

const CONFIG = Config.parse({
  gpus: [{ id: 0, name: 'gpu-0', model: 'qwen2.5:7b', port: 11435 }],
  resource_limits: { default_script_vram_mb: 1500 },
  timeouts: { task_default_s: 900, model_load_s: 240 },
  retries: { max_attempts: 4 },
});
const NOW = Date.parse('2026-02-07T10:00:00Z');
const BATCH = '20260207-100000-abcdef';
const BATCH_PATH = `/mnt/plans/video/batches/${BATCH}`;

async function videoPlan() {
  const { plan, problems } = await loadPlan(fileURLToPath(new URL('../../plans/video', import.meta.url)));
  assert.deepEqual(problems, []);
  return plan!;
}

test('buildBatchTasks: the video plan becomes valid task files plus batch_summary', async () => {
  const plan = await videoPlan();
  const tasks = buildBatchTasks(plan, { batchId: BATCH, batchPath: BATCH_PATH, values: { COUNT: '3' }, config: CONFIG, now: NOW });
  assert.deepEqual(tasks.map((t) => t.id), [`${BATCH}__scan`, `${BATCH}__transcribe`, `${BATCH}__aggregate`, `${BATCH}__batch_summary`]);
  for (const t of tasks) Task.parse(t); // every one is a valid task file

  const [scan, transcribe, aggregate, summary] = tasks as [Task, Task, Task, Task];
  assert.deepEqual(scan.argv, ['node', 'scripts/scan.mjs', '3', `${BATCH_PATH}/manifest.json`]);
  assert.equal(scan.command, 'node scripts/scan.mjs {COUNT} {BATCH_PATH}/manifest.json');
  assert.equal(scan.cwd, plan.dir);
  assert.equal(scan.batch_path, BATCH_PATH);
  assert.equal(scan.plan, 'video');
  assert.equal(scan.batch, BATCH);
  assert.equal(scan.task_class, 'cpu');
  assert.equal(scan.vram_estimate_mb, 0);
  assert.equal(scan.timeout_s, 900);
  assert.equal(scan.max_attempts, 4);
  assert.equal(scan.created_at, '2026-02-07T10:00:00.000Z');
  assert.deepEqual(scan.depends_on, []);

  assert.deepEqual(transcribe.argv, [
    'node', 'scripts/transcribe.mjs', '--work-ms', '150', '--vram-mb', '600', '--', '{ITEM.id}', '{ITEM.path}', `${BATCH_PATH}/results`,
  ]);
  assert.deepEqual(transcribe.foreach, { path: `${BATCH_PATH}/manifest.json`, key: 'videos' });
  assert.deepEqual(transcribe.depends_on, [`${BATCH}__scan`]);
  assert.equal(transcribe.task_class, 'script');
  assert.equal(transcribe.vram_estimate_mb, 1024, 'the plan estimate wins over the default');
  assert.equal(transcribe.timeout_s, 120);
  assert.deepEqual(aggregate.depends_on, [`${BATCH}__transcribe`]);

  assert.equal(summary.name, 'batch_summary');
  assert.equal(summary.executor, 'brain');
  assert.equal(summary.type, 'batch_summary');
  assert.equal(summary.task_class, 'cpu');
  assert.equal(summary.command, null);
  assert.equal(summary.argv, null);
  assert.deepEqual(summary.depends_on, [`${BATCH}__scan`, `${BATCH}__transcribe`, `${BATCH}__aggregate`]);
});

test('buildBatchTasks: defaults by class and type, inferred classes, model and prompt filled', () => {
  const text = [
    '## Inputs',
    '- **TOPIC**: rain',
    '- **MODEL**: qwen2.5:7b',
    '## Tasks',
    '### gpu',
    '- **command**: `python3 scripts/whisper_run.py x`',
    '### plain',
    '- **command**: `node a.mjs`',
    '### load',
    '- **type**: load_llm',
    '- **model**: {MODEL}',
    '### gen',
    '- **type**: generate',
    '- **prompt**: About {TOPIC}, {"json": "stays"}',
    '- **depends_on**: load',
  ].join('\n');
  const { plan, problems } = parsePlan(text, '/p/x/plan.md', '/p/x');
  assert.deepEqual(problems, []);
  const tasks = buildBatchTasks(plan, { batchId: 'b', batchPath: '/m/b', values: { TOPIC: 'snow' }, config: CONFIG, now: NOW });
  const by = Object.fromEntries(tasks.map((t) => [t.name, t]));
  assert.deepEqual([by.gpu!.task_class, by.gpu!.vram_estimate_mb, by.gpu!.timeout_s], ['script', 1500, 900]);
  assert.deepEqual([by.plain!.task_class, by.plain!.vram_estimate_mb], ['cpu', 0]);
  assert.deepEqual([by.load!.task_class, by.load!.executor, by.load!.timeout_s, by.load!.model, by.load!.argv], ['meta', 'agent', 240, 'qwen2.5:7b', null]);
  assert.deepEqual([by.gen!.task_class, by.gen!.vram_estimate_mb, by.gen!.prompt], ['llm', 0, 'About snow, {"json": "stays"}']);
});

test('buildBatchTasks: an llm task\'s model is its own, else the plan\'s front matter model, else left to the config', () => {
  const text = ['---', 'model: llama3.1:8b', '---', '## Tasks', '### a', '- **type**: generate', '- **prompt**: x', '### b', '- **type**: generate', '- **prompt**: y', '- **model**: qwen2.5:7b', '### c', '- **command**: `node a.mjs`'].join('\n');
  const { plan, problems } = parsePlan(text, '/p/x/plan.md', '/p/x');
  assert.deepEqual(problems, []);
  const by = Object.fromEntries(buildBatchTasks(plan, { batchId: 'b', batchPath: '/m/b', values: {}, config: CONFIG, now: NOW }).map((t) => [t.name, t.model]));
  assert.deepEqual([by.a, by.b, by.c], ['llama3.1:8b', 'qwen2.5:7b', null]);
  const { plan: bare } = parsePlan(text.split('\n').slice(3).join('\n'), '/p/x/plan.md', '/p/x');
  assert.equal(buildBatchTasks(bare, { batchId: 'b', batchPath: '/m/b', values: {}, config: CONFIG, now: NOW }).find((t) => t.name === 'a')!.model, null);
});

test('buildBatchTasks refuses a plan that does not validate, with every problem', () => {
  const { plan } = parsePlan(['## Inputs', '- **N**:', '## Tasks', '### a', '- **command**: `x {N}`', '- **depends_on**: zz'].join('\n'), '/p/x/plan.md', '/p/x');
  assert.throws(
    () => buildBatchTasks(plan, { batchId: 'b', batchPath: '/m/b', values: {}, config: CONFIG, now: NOW }),
    (err: unknown) => err instanceof UserInputError && err.problems.length === 2,
  );
});

test('resolveValues: defaults, then given values, then BATCH_PATH', () => {
  const { plan } = parsePlan(['## Inputs', '- **A**: 1', '- **B**: 2', '- **C**:'].join('\n'), '/p/x/plan.md', '/p/x');
  assert.deepEqual(resolveValues(plan, { B: 'two', C: 'three' }, '/m/b'), { A: '1', B: 'two', C: 'three', BATCH_PATH: '/m/b' });
});

test('expandForeach: one child per item, named <template>.<n>, with the item filled in', async () => {
  const plan = await videoPlan();
  const tasks = buildBatchTasks(plan, { batchId: BATCH, batchPath: BATCH_PATH, values: {}, config: CONFIG, now: NOW });
  const template = Task.parse(tasks[1]);
  const items = [{ id: 'v1', path: 'videos/a b.mp4' }, { id: '-v2', path: '$(rm -rf /)' }];
  const { tasks: children, problems } = expandForeach(template, items, NOW + 1000);
  assert.deepEqual(problems, []);
  assert.deepEqual(children.map((c) => [c.id, c.name, c.template, c.item_index]), [
    [`${BATCH}__transcribe.1`, 'transcribe.1', 'transcribe', 0],
    [`${BATCH}__transcribe.2`, 'transcribe.2', 'transcribe', 1],
  ]);
  assert.deepEqual(children[1]!.argv!.slice(7), ['-v2', '$(rm -rf /)', `${BATCH_PATH}/results`]);
  for (const c of children) {
    const t = Task.parse(c);
    assert.equal(t.foreach, null);
    assert.equal(t.task_class, 'script');
    assert.equal(t.vram_estimate_mb, 1024);
    assert.equal(t.timeout_s, 120);
    assert.deepEqual(t.depends_on, [`${BATCH}__scan`]);
    assert.equal(t.created_at, '2026-02-07T10:00:01.000Z');
  }
});

test('expandForeach: a missing field is a problem and no child is made', async () => {
  const plan = await videoPlan();
  const template = Task.parse(buildBatchTasks(plan, { batchId: BATCH, batchPath: BATCH_PATH, values: {}, config: CONFIG, now: NOW })[1]);
  const { tasks, problems } = expandForeach(template, [{ id: 'v1', path: 'p' }, { id: 'v2' }, 'scalar'], NOW);
  assert.deepEqual(tasks, []);
  assert.deepEqual(problems, [
    `task 'transcribe', ${BATCH_PATH}/manifest.json:videos: item 2 has no field 'path' (or it is null), needed by {ITEM.path}; the item is {"id":"v2"}`,
    `task 'transcribe', ${BATCH_PATH}/manifest.json:videos: item 3 is a string, not an object, needed by {ITEM.id}; the item is "scalar"`,
    `task 'transcribe', ${BATCH_PATH}/manifest.json:videos: item 3 is a string, not an object, needed by {ITEM.path}; the item is "scalar"`,
  ]);
});

test('expandForeach: scalar items with {ITEM}; no items, no children', () => {
  const text = ['## Tasks', '### s', '- **command**: `a`', '### each', '- **command**: `echo {ITEM}`', '- **depends_on**: s', '- **foreach**: {BATCH_PATH}/list.json:'].join('\n');
  const { plan } = parsePlan(text, '/p/x/plan.md', '/p/x');
  const template = Task.parse(buildBatchTasks(plan, { batchId: 'b', batchPath: '/m/b', values: {}, config: CONFIG, now: NOW })[1]);
  assert.deepEqual(template.foreach, { path: '/m/b/list.json', key: '' });
  assert.deepEqual(expandForeach(template, ['x y', 2], NOW).tasks.map((t) => t.argv), [['echo', 'x y'], ['echo', '2']]);
  assert.deepEqual(expandForeach(template, [], NOW), { tasks: [], problems: [] });
});

test('readManifestItems: the array, or an error that says what is wrong', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'forge-manifest-'));
  try {
    const file = join(dir, 'manifest.json');
    await writeFile(file, JSON.stringify({ data: { videos: [{ id: 1 }] }, n: 3 }));
    assert.deepEqual(await readManifestItems(file, 'data.videos'), { ok: true, items: [{ id: 1 }] });
    // A manifest not there may only not be visible yet through a stale cache: looked for again for a while first.
    const none = await readManifestItems(join(dir, 'none.json'), 'videos', dir, { retry: { missingToo: true, giveUpMs: 300 } });
    assert.match(none.ok ? '' : none.error, new RegExp(`^foreach manifest ${join(dir, 'none.json')} does not exist \\(looked \\d+ times over 0\\.\\d s\\): the task it depends on should have written it; check that task's command and output path$`));
    const table: Array<[string, string, string]> = [
      [file, 'videos', `foreach manifest ${file}:videos: no key 'videos'; found keys: data, n`],
      [file, 'data.clips', `foreach manifest ${file}:data.clips: no key 'data.clips'; found keys: videos`],
      [file, 'n', `foreach manifest ${file}:n: 'n' is a number, expected an array of items`],
      [file, 'n.x', `foreach manifest ${file}:n.x: 'n' is a number, not an object holding 'x'`],
      [file, '', `foreach manifest ${file}: '(top level)' is an object, expected an array of items`],
    ];
    for (const [f, key, error] of table) assert.deepEqual(await readManifestItems(f, key), { ok: false, error }, key);
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{"videos": [');
    const r = await readManifestItems(bad, 'videos');
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.error, /^foreach manifest .*bad\.json is not valid JSON \(.*\); expected e\.g\. \{"videos"/);
    const top = join(dir, 'top.json');
    await writeFile(top, '["a", "b"]');
    assert.deepEqual(await readManifestItems(top, ''), { ok: true, items: ['a', 'b'] });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('inferTaskClass: fixed rules, with the reason', () => {
  const table: Array<[Parameters<typeof inferTaskClass>[0], string, RegExp]> = [
    [{ type: 'generate', command: null }, 'llm', /type generate needs an LLM/],
    [{ type: 'parse', command: null }, 'llm', /type parse/],
    [{ type: 'load_llm', command: null }, 'meta', /GPU agent/],
    [{ type: 'unload_llm', command: null }, 'meta', /GPU agent/],
    [{ type: 'shell', command: 'python scripts/transcribe_whisper.py x' }, 'script', /python and mentions 'whisper'/],
    [{ type: 'shell', command: 'python3 -c "import torch"' }, 'script', /'torch'/],
    [{ type: 'shell', command: 'python train.py --device cuda' }, 'script', /'cuda'/],
    [{ type: 'shell', command: 'python scripts/sum.py' }, 'cpu', /no GPU tool/],
    [{ type: 'shell', command: '/usr/bin/nvidia-smi -L' }, 'script', /nvidia-smi/],
    [{ type: 'shell', command: 'ffmpeg -hwaccel cuda -i a.mp4 b.mp4' }, 'script', /ffmpeg with 'cuda'/],
    [{ type: 'shell', command: 'ffmpeg -i a.mp4 b.mp4' }, 'cpu', /no GPU tool/],
    [{ type: 'shell', command: 'node scripts/whisper.mjs' }, 'cpu', /no GPU tool/],
  ];
  for (const [spec, cls, rule] of table) {
    const r = inferTaskClass(spec);
    assert.equal(r.task_class, cls, spec.command ?? spec.type);
    assert.match(r.rule, rule);
  }
});
