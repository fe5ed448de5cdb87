import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parsePlan, splitDependencies, splitForeach, suggest, unwrapBackticks } from '../../agents/plan/parse.ts';

const FILE = '/plans/demo/plan.md';
const DIR = '/plans/demo';
const parse = (text: string) => parsePlan(text, FILE, DIR);
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/plans/${name}/plan.md`, import.meta.url));

test('a plan written like the architecture document parses, with real line numbers', () => {
  const file = fixture('seed');
  const { plan, problems } = parsePlan(readFileSync(file, 'utf8'), file, '/x/seed');
  assert.deepEqual(problems, []);
  assert.equal(plan.name, 'seed');
  assert.equal(plan.title, 'Video transcription');
  assert.equal(plan.goal, 'Transcribe every video in VIDEO_DIR.');
  assert.deepEqual(
    plan.inputs.map((i) => [i.name, i.default, i.line]),
    [
      ['VIDEO_DIR', '/data/videos', 9],
      ['MODEL', 'whisper-base', 10],
    ],
  );
  assert.deepEqual(
    plan.scripts.map((s) => [s.name, s.run]),
    [
      ['scripts/scan.py', 'python scripts/scan.py {VIDEO_DIR}'],
      ['scripts/transcribe.py', 'python scripts/transcribe.py PATH --output DIR'],
    ],
  );
  assert.deepEqual(plan.tasks.map((t) => [t.name, t.line]), [['scan', 18], ['transcribe', 23], ['aggregate', 30]]);
  const t = plan.tasks[1]!;
  assert.equal(t.executor, 'worker');
  assert.equal(t.task_class, 'script');
  assert.equal(t.type, 'shell');
  assert.equal(t.command, 'python scripts/transcribe.py {ITEM.path} --output {BATCH_PATH}/results/');
  assert.deepEqual(t.depends_on, ['scan']);
  assert.deepEqual(t.foreach, { path: '{BATCH_PATH}/manifest.json', key: 'videos' });
  assert.deepEqual(t.fieldLines, { executor: 24, task_class: 25, command: 26, depends_on: 27, foreach: 28 });
  assert.equal(plan.tasks[2]!.task_class, null, 'absent task_class stays null for inference');
  assert.deepEqual(plan.sectionLines, { goal: 5, inputs: 8, scripts: 12, tasks: 16 });
});

test('front matter is read and shifts every line number by its length', () => {
  const text = ['---', 'title: From front matter', 'owner: ops', '---', '', '## Tasks', '', '### one', '- **command**: `node a.mjs`', ''].join('\n');
  const { plan, problems } = parse(text);
  assert.deepEqual(problems, []);
  assert.deepEqual(plan.frontMatter, { title: 'From front matter', owner: 'ops' });
  assert.equal(plan.title, 'From front matter');
  assert.equal(plan.tasks[0]!.line, 8);
  assert.equal(plan.tasks[0]!.fieldLines.command, 9);
});

test('front matter that is not YAML is a problem on line 1', () => {
  const { problems } = parse(['---', 'a: [unclosed', '---', '## Tasks', '### x', '- **command**: `node a.mjs`'].join('\n'));
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /^\/plans\/demo\/plan\.md:1: front matter is not valid YAML/);
});

test('inputs: default conventions', () => {
  const text = [
    '## Inputs',
    '- **PLAIN**: some value',
    '- **DESCRIBED**: 20 — how many videos',
    '- **NONE**:',
    '- **REQUIRED**: (required)',
    '- **EMPTY**: ""',
    '- **LITERAL**: `a — b * c` the literal text',
    '- **SPACES**: ` two words `',
    '- **COLON**: http://host:8080/x',
  ].join('\n');
  const { plan, problems } = parse(text);
  assert.deepEqual(problems, []);
  assert.deepEqual(
    plan.inputs.map((i) => [i.name, i.default, i.description, i.line]),
    [
      ['PLAIN', 'some value', null, 2],
      ['DESCRIBED', '20', 'how many videos', 3],
      ['NONE', null, null, 4],
      ['REQUIRED', null, null, 5],
      ['EMPTY', '', null, 6],
      ['LITERAL', 'a — b * c', 'the literal text', 7],
      ['SPACES', 'two words', null, 8],
      ['COLON', 'http://host:8080/x', null, 9],
    ],
  );
});

test('inputs: an item not written as **NAME**: default is a problem', () => {
  const { problems } = parse(['## Inputs', '- COUNT = 5'].join('\n'));
  assert.deepEqual(problems, [
    `${FILE}:2: expected an input written '- **NAME**: default' (or '- **NAME**: (required)' for one with no default), found '- COUNT = 5'`,
  ]);
});

test('task fields: every field, with its typed value', () => {
  const text = [
    '# T',
    '## Tasks',
    '### ask',
    'Asks the model.',
    '- **executor**: worker',
    '- **task_class**: LLM',
    '- **type**: parse',
    '- **prompt**: Extract the year from',
    '  {SENTENCE} please',
    '- **output_schema**: `{"type": "object", "properties": {"year": {"type": "integer"}}}`',
    '- **model**: qwen2.5:7b',
    '- **vram_estimate_mb**: 2048 MB',
    '- **timeout_s**: 300',
    '- **depends_on**: [a, `b`]',
    '### load',
    '- **type**: load_llm',
    '- **command:** `ollama pull x`',
  ].join('\n');
  const { plan, problems } = parse(text);
  assert.deepEqual(problems, []);
  const [ask, load] = plan.tasks;
  assert.equal(ask!.description, 'Asks the model.');
  assert.equal(ask!.task_class, 'llm');
  assert.equal(ask!.type, 'parse');
  assert.equal(ask!.prompt, 'Extract the year from\n{SENTENCE} please');
  assert.deepEqual(ask!.output_schema, { type: 'object', properties: { year: { type: 'integer' } } });
  assert.equal(ask!.model, 'qwen2.5:7b');
  assert.equal(ask!.vram_estimate_mb, 2048);
  assert.equal(ask!.timeout_s, 300);
  assert.deepEqual(ask!.depends_on, ['a', 'b']);
  assert.equal(ask!.fieldLines.output_schema, 10);
  assert.equal(load!.executor, 'agent', 'meta tasks default to the agent');
  assert.equal(load!.command, 'ollama pull x', "'**command:**' (colon inside the bold) is accepted too");
});

test('a prompt may be a code block under the field', () => {
  const text = ['## Tasks', '### gen', '- **type**: generate', '- **prompt**:', '  ```', '  Line one {TOPIC}', '  Line two', '  ```'].join('\n');
  const { plan, problems } = parse(text);
  assert.deepEqual(problems, []);
  assert.equal(plan.tasks[0]!.prompt, 'Line one {TOPIC}\nLine two');
  assert.equal(plan.tasks[0]!.fieldLines.prompt, 4);
});

test('a command keeps every character as written (markdown does not eat _ or *)', () => {
  const text = ['## Tasks', '### x', "- **command**: `python my_script_x.py --glob '*.py' __init__`"].join('\n');
  assert.equal(parse(text).plan.tasks[0]!.command, "python my_script_x.py --glob '*.py' __init__");
  const doubled = ['## Tasks', '### x', "- **command**: `` sh -c 'echo `date`' ``"].join('\n');
  assert.equal(parse(doubled).plan.tasks[0]!.command, "sh -c 'echo `date`'");
});

test('unknown fields, duplicate fields and non-field items are problems with their lines', () => {
  const text = [
    '## Tasks',
    '### x',
    '- **command**: `node a.mjs`',
    '- **depend_on**: y',
    '- **command**: `node b.mjs`',
    '- just a note',
  ].join('\n');
  const { plan, problems } = parse(text);
  assert.deepEqual(problems, [
    `${FILE}:4: task 'x': unknown field 'depend_on' (did you mean 'depends_on'?); allowed: executor, task_class, type, command, depends_on, foreach, vram_estimate_mb, timeout_s, max_attempts, retry_delay_s, prompt, output_schema, model, inputs, outputs, adapter, version, description, gate`,
    `${FILE}:5: task 'x': field 'command' is given twice (first at line 3); keep one`,
    `${FILE}:6: task 'x': expected a field written '- **name**: value', found '- just a note'; fields: executor, task_class, type, command, depends_on, foreach, vram_estimate_mb, timeout_s, max_attempts, retry_delay_s, prompt, output_schema, model, inputs, outputs, adapter, version, description, gate`,
  ]);
  assert.equal(plan.tasks[0]!.command, 'node a.mjs');
});

test('tasks may be grouped in phases one heading level deeper; ## Workflow and ## TASKS both work', () => {
  const text = [
    '## Workflow',
    'Runs init, then processing.',
    '### init',
    'Prepares things.',
    '#### scan',
    '- **command**: `node scan.mjs`',
    '### processing',
    '#### work',
    '- **command**: `node work.mjs`',
    '- **depends_on**: scan',
    '## Notes',
    '### not a task',
    'Free text.',
    '## TASKS',
    '### last',
    '- **command**: `node last.mjs`',
  ].join('\n');
  const { plan, problems } = parse(text);
  assert.deepEqual(problems, []);
  assert.deepEqual(plan.tasks.map((t) => [t.name, t.line]), [['scan', 5], ['work', 8], ['last', 15]]);
});

test('a heading with no fields that groups nothing is a problem', () => {
  const { problems } = parse(['## Tasks', '### Phase 1', 'Some text.', '### scan', '- **command**: `node s.mjs`'].join('\n'));
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /^\/plans\/demo\/plan\.md:2: heading 'Phase 1' has no fields: a task is a '### name' heading/);
});

test('an unreadable value keeps its raw text for validation', () => {
  const { plan } = parse(['## Tasks', '### x', '- **task_class**: gpu', '- **vram_estimate_mb**: lots', '- **command**: `a`'].join('\n'));
  assert.equal(plan.tasks[0]!.task_class, null);
  assert.equal(plan.tasks[0]!.vram_estimate_mb, null);
  assert.deepEqual(plan.tasks[0]!.raw, { task_class: 'gpu', vram_estimate_mb: 'lots', command: 'a' });
});

test('depends_on forms', () => {
  const table: Array<[string, string[]]> = [
    ['scan', ['scan']],
    ['a, b ,c', ['a', 'b', 'c']],
    ['[a, b]', ['a', 'b']],
    ['`a`, `b`', ['a', 'b']],
    ['none', []],
    ['None', []],
    ['-', []],
    ['', []],
    ['a,,b,', ['a', 'b']],
  ];
  for (const [input, want] of table) assert.deepEqual(splitDependencies(input), want, input);
});

test('foreach splits at the last colon', () => {
  assert.deepEqual(splitForeach('{BATCH_PATH}/manifest.json:videos'), { path: '{BATCH_PATH}/manifest.json', key: 'videos' });
  assert.deepEqual(splitForeach('{BATCH_PATH}/a:b/m.json:data.items'), { path: '{BATCH_PATH}/a:b/m.json', key: 'data.items' });
  assert.deepEqual(splitForeach('{BATCH_PATH}/list.json:'), { path: '{BATCH_PATH}/list.json', key: '' });
  assert.equal(splitForeach('{BATCH_PATH}/manifest.json'), null);
});

test('unwrapBackticks', () => {
  const table: Array<[string, string]> = [
    ['`a b`', 'a b'],
    ['a b', 'a b'],
    ['`` a ` b ``', 'a ` b'],
    ['`a` and `b`', '`a` and `b`'],
    ['` padded `', 'padded'],
    ['`', '`'],
  ];
  for (const [input, want] of table) assert.equal(unwrapBackticks(input), want, input);
});

test('the example plans parse without problems', () => {
  for (const name of ['hello', 'video', 'llm', 'nightly', 'nightly-adapter']) {
    const file = fileURLToPath(new URL(`../../plans/${name}/plan.md`, import.meta.url));
    const { plan, problems } = parsePlan(readFileSync(file, 'utf8'), file, `/p/${name}`);
    assert.deepEqual(problems, [], name);
    assert.ok(plan.tasks.length >= 3, name);
  }
});

test('section headings are matched loosely: numbering, a colon, a note in parentheses', () => {
  const text = ['## 1. Inputs:', '- **A**: 1', '## Tasks (in order)', '### x', '- **command**: `node a.mjs {A}`'].join('\n');
  const { plan, problems } = parse(text);
  assert.deepEqual(problems, []);
  assert.deepEqual([plan.inputs.length, plan.tasks.length, plan.sectionLines], [1, 1, { inputs: 1, tasks: 3 }]);
});

test('suggestions: a typo away, never for short unrelated names', () => {
  assert.equal(suggest('CUONT', ['COUNT', 'NAME']), " (did you mean 'COUNT'?)");
  assert.equal(suggest('gpu', ['cpu', 'script', 'llm', 'meta']), " (did you mean 'cpu'?)");
  assert.equal(suggest('depend_on', ['depends_on', 'foreach']), " (did you mean 'depends_on'?)");
  assert.equal(suggest('x', ['a', 'b']), '');
  assert.equal(suggest('missing', ['a', 'b', 'c']), '');
});
