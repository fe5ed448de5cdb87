// Adapter versions, the pure parts: model names with #adapter:version, the runtime's name for
// them, current.json's schema, resolving a name against it, promote and rollback, when a hot
// agent switches, the config's and the plan's checks. Then the mount: promote and rollback on
// real files under the lock, a bad current.json left alone, and a version read from a file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { baseFolderName, parseModelRef, sameModelRef, servedModelName } from '../../agents/core/adapterRef.ts';
import { adapterConfigProblems, declaredModelMb } from '../../agents/core/adapterConfig.ts';
import { CurrentAdapters, currentFile, promoteIn, promoteVersion, readCurrent, resolveModel, rollbackBase, rollbackIn } from '../../agents/core/adapters.ts';
import { checkSchema } from '../../agents/core/zodIssues.ts';
import { decideAdapterSwitch } from '../../agents/gpu/adapterSwitch.ts';
import { parsePlan } from '../../agents/plan/parse.ts';
import { validatePlan } from '../../agents/plan/validate.ts';
import { runAdapterTask } from '../../agents/worker/adapterTask.ts';
import { writeAdapterVersion } from '../helpers/adapters.ts';
import { makeTask, tempMount } from '../helpers/mount.ts';

const T0 = Date.parse('2026-12-02T08:00:00Z');

test('model names: base, or base#adapter:version; anything else says what is wrong and shows the form', () => {
  const table: Array<[string, unknown]> = [
    ['qwen2.5:7b', { base: 'qwen2.5:7b', pinned: null }],
    ['library/llama3', { base: 'library/llama3', pinned: null }],
    ['qwen2.5:7b#support:v2', { base: 'qwen2.5:7b', pinned: { adapter: 'support', version: 'v2' } }],
    ['llama3#tone-2:2026.12.01', { base: 'llama3', pinned: { adapter: 'tone-2', version: '2026.12.01' } }],
    ['#support:v2', "'#support:v2': no base model before #; write BASE#ADAPTER:VERSION, e.g. qwen2.5:7b or qwen2.5:7b#support:v2"],
    ['qwen2.5:7b#support', "'qwen2.5:7b#support': no version after the adapter 'support'; write BASE#ADAPTER:VERSION, e.g. qwen2.5:7b or qwen2.5:7b#support:v2"],
    ['qwen2.5:7b#a:v1#b:v2', "'qwen2.5:7b#a:v1#b:v2': more than one #; write BASE#ADAPTER:VERSION, e.g. qwen2.5:7b or qwen2.5:7b#support:v2"],
    ['m#../x:v1', "'m#../x:v1': adapter name '../x' must be letters, digits, '_', '.' or '-' (at most 64, starting with a letter or digit); write BASE#ADAPTER:VERSION, e.g. qwen2.5:7b or qwen2.5:7b#support:v2"],
    ['m#a:', "'m#a:': version '' must be letters, digits, '_', '.' or '-' (at most 64, starting with a letter or digit); write BASE#ADAPTER:VERSION, e.g. qwen2.5:7b or qwen2.5:7b#support:v2"],
  ];
  for (const [text, want] of table) {
    const r = parseModelRef(text);
    assert.deepEqual(r.ok ? r.ref : r.problem, want, text);
  }
});

test('the runtime name of an adapter version is a valid Ollama name; base folders are one per base and stay inside adapters/', () => {
  assert.equal(servedModelName('qwen2.5:7b', { adapter: 'support', version: 'v3' }), 'qwen2.5:7b-support-v3');
  assert.equal(servedModelName('llama3', { adapter: 'support', version: 'v3' }), 'llama3:latest-support-v3');
  assert.equal(servedModelName('ns/model:q4', { adapter: 'a', version: 'v1' }), 'ns/model:q4-a-v1');
  const long = servedModelName('m:t', { adapter: 'a'.repeat(60), version: 'v'.repeat(40) });
  assert.ok(long.length === 'm:'.length + 80 && /^m:t-a+-v+-[0-9a-f]{8}$/.test(long), long);
  assert.equal(baseFolderName('qwen2.5:7b'), 'qwen2.5%3A7b');
  assert.equal(baseFolderName('qwen2.5'), 'qwen2.5%3Alatest');
  assert.equal(baseFolderName('ns/../m:t'), 'ns%2F..%2Fm%3At');
  assert.ok(sameModelRef('llama3', 'llama3:latest'));
  assert.ok(sameModelRef('llama3#a:v1', 'llama3:latest#a:v1'));
  assert.ok(!sameModelRef('llama3#a:v1', 'llama3#a:v2'));
  assert.ok(!sameModelRef('llama3', 'llama3#a:v1'));
});

test('current.json: the schema names the field that is wrong; a bare name resolves to the current version, a pinned one to itself', () => {
  const bad = checkSchema(CurrentAdapters, { 'qwen2.5:7b': { adapter: 'support', version: '../v1', promoted_at: 'x' } });
  assert.equal(bad.ok, false);
  assert.match(bad.ok ? '' : bad.problems.join('\n'), /qwen2\.5:7b\.version/);
  assert.equal(checkSchema(CurrentAdapters, { 'a#b:c': { adapter: 'x', version: 'y', promoted_at: 'z' } }).ok, false);
  const current = CurrentAdapters.parse({ 'qwen2.5:7b': { adapter: 'support', version: 'v3', promoted_at: 'x' }, llama3: { adapter: 'tone', version: 'v1', promoted_at: 'x' } });
  const table: Array<[string, unknown]> = [
    ['qwen2.5:7b', { base: 'qwen2.5:7b', adapter: { adapter: 'support', version: 'v3' }, via: 'current' }],
    ['llama3:latest', { base: 'llama3:latest', adapter: { adapter: 'tone', version: 'v1' }, via: 'current' }],
    ['qwen2.5:7b#support:v1', { base: 'qwen2.5:7b', adapter: { adapter: 'support', version: 'v1' }, via: 'pinned' }],
    ['mistral:7b', { base: 'mistral:7b', adapter: null, via: 'none' }],
  ];
  for (const [model, want] of table) assert.deepEqual(resolveModel(model, current), want, model);
});

test('promote keeps what it replaced for rollback; promoting the current one again and a guarded rollback change nothing; the last rollback leaves no adapter', () => {
  const v = (version: string) => ({ adapter: 'support', version });
  let c: CurrentAdapters = {};
  const step = (r: ReturnType<typeof promoteIn>) => {
    assert.ok(r.ok, r.ok ? '' : r.problem);
    c = r.next;
    return r;
  };
  assert.equal(step(promoteIn(c, 'qwen2.5:7b', v('v1'), { now: T0 })).message, 'qwen2.5:7b: support v1 is current (was no adapter)');
  assert.equal(step(promoteIn(c, 'qwen2.5:7b', v('v2'), { now: T0 + 1000, score: 0.9, by: 'b1__promote' })).message, 'qwen2.5:7b: support v2 is current (was support v1)');
  assert.deepEqual(c['qwen2.5:7b']?.previous, [{ adapter: 'support', version: 'v1', promoted_at: '2026-12-02T08:00:00.000Z' }]);
  assert.equal(step(promoteIn(c, 'qwen2.5:7b:latest'.replace(':latest', ''), v('v2'), { now: T0 + 2000 })).changed, false);
  const guarded = step(rollbackIn(c, 'qwen2.5:7b', { now: T0, expect: v('v1') }));
  assert.equal(guarded.changed, false);
  assert.equal(guarded.message, 'qwen2.5:7b: support v2 is current, not support v1: nothing rolled back');
  assert.equal(step(rollbackIn(c, 'qwen2.5:7b', { now: T0 + 3000 })).message, 'qwen2.5:7b: support v2 rolled back to support v1');
  assert.deepEqual([c['qwen2.5:7b']?.version, c['qwen2.5:7b']?.previous], ['v1', []]);
  assert.equal(step(rollbackIn(c, 'qwen2.5:7b', { now: T0 })).message, 'qwen2.5:7b: support v1 rolled back; no adapter now (there was none before it)');
  assert.deepEqual(c, {});
  const none = rollbackIn(c, 'qwen2.5:7b', { now: T0 });
  assert.deepEqual(none, { ok: false, problem: 'qwen2.5:7b: no adapter is current, nothing to roll back (forge adapters lists what there is)' });
});

test('a hot agent switches only between llm tasks, holds llm claims until then, and keeps its version when the new one failed', () => {
  const pending = { from: 'm (no adapter)', to: 'm with a v2', served: 'm:latest-a-v2' };
  const base: Parameters<typeof decideAdapterSwitch>[0] = { held: 'm', pending, llmRunning: 0, loading: false, failed: null };
  const table: Array<[Partial<typeof base>, string]> = [
    [{ held: null }, 'none'],
    [{ pending: null }, 'none'],
    [{}, 'switch'],
    [{ llmRunning: 2 }, 'hold'],
    [{ loading: true }, 'hold'],
    [{ failed: 'm:latest-a-v2' }, 'keep'],
    [{ failed: 'm:latest-a-v1' }, 'switch'],
  ];
  for (const [over, want] of table) assert.equal(decideAdapterSwitch({ ...base, ...over }).do, want, JSON.stringify(over));
  assert.deepEqual(decideAdapterSwitch({ ...base, llmRunning: 1 }), {
    do: 'hold', reason: 'm: m with a v2 is current; 1 llm task on m (no adapter) finish first, no new llm task is claimed meanwhile',
  });
});

test('config: model names are checked, and an adapter version needs an ollama runtime', () => {
  const problems = adapterConfigProblems({
    gpus: [{ model: 'qwen2.5:7b#support:v2', runtime: 'ollama' }, { model: 'qwen2.5:7b#support:v2', runtime: 'openai' }, { model: 'm#x', runtime: 'ollama' }],
    default_model: 'qwen2.5:7b#support:v1', models: { 'q#a:b': {} },
  }, 'config.json');
  assert.deepEqual(problems, [
    `config.json: gpus.1.model: 'qwen2.5:7b#support:v2' names an adapter version, which needs "runtime": "ollama"; an openai server serves the one model it was started with (give its serve command the adapter, e.g. llama-server --lora FILE, and name the base model here)`,
    "config.json: gpus.2.model: 'm#x': no version after the adapter 'x'; write BASE#ADAPTER:VERSION, e.g. qwen2.5:7b or qwen2.5:7b#support:v2",
  ]);
});

test('a model with an adapter version is as big as its base, unless config models says otherwise', () => {
  const models = { 'qwen2.5:7b': { vram_mb: 5000 }, 'qwen2.5:7b#big:v1': { vram_mb: 6000 }, llama3: { vram_mb: 4000 } };
  const table: Array<[string, number | null]> = [['qwen2.5:7b', 5000], ['qwen2.5:7b#support:v2', 5000], ['qwen2.5:7b#big:v1', 6000], ['llama3:latest#a:v1', 4000], ['mistral#a:v1', null]];
  for (const [model, mb] of table) assert.equal(declaredModelMb(models, model), mb, model);
});

test('plans: adapter tasks need their fields, take no command, and a version is a name or a JSON file under {BATCH_PATH}', () => {
  const md = [
    '# p', '## Tasks',
    '### promote', '- **type**: promote_adapter', '- **model**: qwen2.5:7b', '- **adapter**: support', '- **version**: {BATCH_PATH}/outputs/train.json',
    '### bad', '- **type**: promote_adapter', '- **model**: qwen2.5:7b#support:v1', '- **version**: ../v1', '- **command**: `x`',
    '### back', '- **type**: rollback_adapter', '- **model**: qwen2.5:7b', '- **version**: v1',
    '### ask', '- **type**: generate', '- **prompt**: hi', '- **model**: qwen2.5:7b#support', '- **adapter**: support',
  ].join('\n');
  const { plan } = parsePlan(md, '/p/plan.md', '/p');
  const problems = validatePlan(plan!, {}).map((p) => p.replace(/^\/p\/plan\.md:/, ''));
  assert.deepEqual(problems, [
    "8: task 'bad': a promote_adapter task needs '- **adapter**: ...'; e.g.\n  - **type**: promote_adapter\n  - **model**: qwen2.5:7b\n  - **adapter**: support\n  - **version**: {BATCH_PATH}/outputs/train.json",
    "10: task 'bad': a promote_adapter task's model is the base model alone, e.g. qwen2.5:7b; the adapter and version go in their own fields; found 'qwen2.5:7b#support:v1'",
    "11: task 'bad': version '../v1': a version name (letters, digits, '_', '.' or '-', e.g. v3), or a JSON file an earlier task writes, {BATCH_PATH}/<path>.json, holding {\"version\": \"v3\"}",
    "12: task 'bad': a promote_adapter task runs no command; remove command",
    "13: task 'back': rollback_adapter takes adapter and version together (roll back only while that version is current), or neither",
    "20: task 'ask': 'qwen2.5:7b#support': no version after the adapter 'support'; write BASE#ADAPTER:VERSION, e.g. qwen2.5:7b or qwen2.5:7b#support:v2",
    "21: task 'ask': adapter is a field of promote_adapter and rollback_adapter tasks, not of a generate task; to run a model with an adapter version, name it in model, e.g. qwen2.5:7b#support:v2",
  ]);
});

test('on the mount: promote checks the version folder, two promotions at once both land, a bad current.json is left alone', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const now = () => T0;
    const missing = await promoteVersion(paths, 'qwen2.5:7b', { adapter: 'support', version: 'v9' }, { now, by: null });
    assert.ok(!missing.ok && /no version v9 of adapter support \(.*meta\.json is missing; forge adapters lists the versions\)/.test(missing.problem), JSON.stringify(missing));
    await writeAdapterVersion(paths, 'qwen2.5:7b', 'support', 'v1', { score: 0.5 });
    await writeAdapterVersion(paths, 'qwen2.5:7b', 'support', 'v2', { score: 0.7 });
    await Promise.all(['v1', 'v2'].map((version) => promoteVersion(paths, 'qwen2.5:7b', { adapter: 'support', version }, { now, by: 'test' })));
    const read = await readCurrent(paths);
    assert.ok(read.ok);
    const e = read.value['qwen2.5:7b']!;
    assert.deepEqual([e.version, ...e.previous.map((p) => p.version)].sort(), ['v1', 'v2'], 'each promotion saw the other\'s write');
    const back = await rollbackBase(paths, 'qwen2.5:7b', { now, by: 'test' });
    assert.ok(back.ok && back.changed);

    await writeFile(currentFile(paths), '{"qwen2.5:7b": {"adapter": 1}}');
    const refused = await promoteVersion(paths, 'qwen2.5:7b', { adapter: 'support', version: 'v2' }, { now, by: 'test' });
    assert.ok(!refused.ok && refused.problem.startsWith(`${currentFile(paths)}: not the current adapters`) && refused.problem.endsWith('fix or remove it first (nothing was changed)'), JSON.stringify(refused));
    assert.equal(await readFile(currentFile(paths), 'utf8'), '{"qwen2.5:7b": {"adapter": 1}}');
  } finally {
    await cleanup();
  }
});

test('a promote_adapter task reads its version from an earlier task\'s file and writes its result; a missing file fails the task, not the rig', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    await writeAdapterVersion(paths, 'qwen2.5:7b', 'support', 'v4');
    const batch = join(paths.root, 'plans', 'p', 'batches', 'b1');
    await mkdir(join(batch, 'outputs'), { recursive: true });
    await writeFile(join(batch, 'outputs', 'train.json'), JSON.stringify({ version: 'v4', adapter: 'support' }));
    const task = makeTask({ name: 'promote', type: 'promote_adapter', task_class: 'cpu', model: 'qwen2.5:7b', adapter: 'support', version: join(batch, 'outputs', 'train.json'), batch_path: batch, attempt: 1 });
    const who = { taskId: task.id, attempt: 1, startedAt: T0 };
    const r = await runAdapterTask(task, { shared: paths.root, who, now: () => T0 });
    assert.equal(r.outcome, 'success', r.reason ?? '');
    assert.deepEqual(JSON.parse(await readFile(join(batch, 'outputs', 'promote.json'), 'utf8')), {
      base: 'qwen2.5:7b', adapter: 'support', version: 'v4', changed: true, message: 'qwen2.5:7b: support v4 is current (was no adapter)', current_file: currentFile(paths),
    });
    const gone = await runAdapterTask({ ...task, version: join(batch, 'outputs', 'none.json') }, { shared: paths.root, who });
    assert.equal(gone.outcome, 'failed');
    assert.equal(gone.failure_kind, 'app');
    assert.match(gone.reason ?? '', /^promote_adapter: version file: .*none\.json does not exist.*\(the task that writes it has not, or wrote it elsewhere\)$/);
  } finally {
    await cleanup();
  }
});
