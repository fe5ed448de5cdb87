// The steps of parsePlan on their own: front matter, sections (goal, inputs, scripts), tasks
// and the typed task, each with its exact problems and the line numbers they carry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ListItem } from 'mdast';
import { readFrontMatter } from '../../agents/plan/frontMatter.ts';
import { parseMarkdown } from '../../agents/plan/markdown.ts';
import { readGoal, readInputs, readScripts, splitSections } from '../../agents/plan/parseSections.ts';
import { readTasks } from '../../agents/plan/parseTasks.ts';
import { sourceText } from '../../agents/plan/sourceText.ts';
import { typedTask } from '../../agents/plan/taskFields.ts';

/** Parses `lines` (after `offset` lines of front matter) and collects what the step reports. */
function prepare(lines: string[], offset = 0) {
  const body = lines.join('\n');
  const problems: string[] = [];
  return { tree: parseMarkdown(body), src: sourceText(body, offset), problems, report: (line: number, message: string) => problems.push(`${line}: ${message}`) };
}

test('readFrontMatter: YAML is read with the offset of the body; code and broken YAML are reported', () => {
  const table: Array<[string, string, { offset: number; data: Record<string, unknown>; problem: string | null; stopped?: true }]> = [
    ['none', '# T\n', { offset: 0, data: {}, problem: null }],
    ['YAML', '---\ntitle: T\nn: 2\n---\n# T\n', { offset: 4, data: { title: 'T', n: 2 }, problem: null }],
    ['---yaml', '---yaml\ntitle: T\n---\n# T\n', { offset: 3, data: { title: 'T' }, problem: null }],
    ['code', '---js\nmodule.exports = {}\n---\n# T\n', {
      offset: 0, data: {}, stopped: true,
      problem: "front matter must be YAML (lines of 'key: value' between two '---' lines); this one opens with '---js', which is not read: nothing in it was run",
    }],
    ['broken YAML', '---\na: [\n---\n# T\n', { offset: 0, data: {}, problem: 'front matter is not valid YAML' }],
  ];
  for (const [what, text, want] of table) {
    const fm = readFrontMatter(text);
    assert.equal(fm.offset, want.offset, what);
    assert.deepEqual(fm.data, want.data, what);
    assert.equal(fm.stopped, want.stopped, what);
    if (want.problem === null) assert.equal(fm.problem, null, what);
    else assert.ok(fm.problem?.line === 1 && fm.problem.message.startsWith(want.problem), `${what}: ${fm.problem?.message}`);
    assert.ok(text.endsWith(fm.body), what);
  }
});

test('sourceText.readField: one colon inside or after the **, values as written, lines with the offset', () => {
  const table: Array<[string, { name: string; value: string; line: number; extra: string | null } | null]> = [
    ['- **command**: `a_b *c*`', { name: 'command', value: '`a_b *c*`', line: 3, extra: null }],
    ['- **command:** `a`', { name: 'command', value: '`a`', line: 3, extra: null }],
    ['- **command** `a`', null],
    ['- **command:**: `a`', null],
    ['- command: `a`', null],
    ['- **description**: one\n\n  two', { name: 'description', value: 'one', line: 3, extra: 'two' }],
    ['- **prompt**:\n\n  ```\n  hi\n  ```', { name: 'prompt', value: 'hi', line: 3, extra: null }],
  ];
  for (const [text, want] of table) {
    const { tree, src } = prepare([text], 2);
    const item = (tree.children[0] as { children: ListItem[] }).children[0]!;
    assert.deepEqual(src.readField(item, false), want, text);
  }
});

test('splitSections: known ## headings in any of their spellings, the title from # or the front matter', () => {
  const { tree, src } = prepare(['# Title', '## 3. Tasks:', 'a', '## Notes', '## Available scripts', '## Goals (short)', 'b'], 1);
  const { title, sections } = splitSections(tree, src, null);
  assert.equal(title, 'Title');
  assert.deepEqual(sections.map((s) => [s.kind, s.line, s.nodes.length]), [[null, 2, 0], ['tasks', 3, 1], [null, 5, 0], ['scripts', 6, 0], ['goal', 7, 1]]);
  assert.equal(splitSections(tree, src, 'From front matter').title, 'From front matter');
  assert.equal(readGoal(sections[4]!.nodes, src), 'b');
  assert.equal(readGoal([], src), null);
});

test('readInputs: defaults, required markers, descriptions, and items that are not inputs', () => {
  const { tree, src, problems, report } = prepare([
    '- **A**: 3',
    '- **B**: (required)',
    '- **C**:',
    '- **D**: ""',
    '- **E**: x — the e',
    '- **F**: `a — b` — the f',
    '- just text',
  ]);
  const inputs = readInputs(tree.children, src, report);
  assert.deepEqual(inputs.map((i) => [i.name, i.default, i.description, i.line]), [
    ['A', '3', null, 1],
    ['B', null, null, 2],
    ['C', null, null, 3],
    ['D', '', null, 4],
    ['E', 'x', 'the e', 5],
    ['F', 'a — b', 'the f', 6],
  ]);
  assert.deepEqual(problems, ["7: expected an input written '- **NAME**: default' (or '- **NAME**: (required)' for one with no default), found '- just text'"]);
});

test('readScripts: as headings with text and code, or as one list', () => {
  const headings = prepare(['### scripts/a.py', 'Scans.', '', '`python scripts/a.py X`']);
  assert.deepEqual(readScripts(headings.tree.children, headings.src), [{ name: 'scripts/a.py', run: 'python scripts/a.py X', description: 'Scans.', line: 1 }]);
  const list = prepare(['- **scripts/b.mjs**: sums, run `node scripts/b.mjs`', '- `c.sh` — cleans']);
  assert.deepEqual(readScripts(list.tree.children, list.src), [
    { name: 'scripts/b.mjs', run: 'node scripts/b.mjs', description: 'sums, run `node scripts/b.mjs`', line: 1 },
    { name: 'c.sh', run: null, description: '`c.sh` — cleans', line: 2 },
  ]);
});

test('readTasks: tasks, groups, and the shape problems of headings and fields', () => {
  const { tree, src, problems, report } = prepare([
    '### phase',
    '#### a',
    'Text for people.',
    '- **Command**: `x`',
    '- **command**: `y`',
    '- **comand**: `z`',
    '- not a field',
    '### empty',
    '### b',
    '- **prompt**: line one',
    '  line two',
  ]);
  const tasks = readTasks(tree.children, src, report);
  assert.deepEqual(tasks.map((t) => [t.name, t.line, t.raw, t.fieldLines, t.description]), [
    ['a', 2, { command: 'x' }, { command: 4 }, 'Text for people.'],
    ['b', 9, { prompt: 'line one\nline two' }, { prompt: 10 }, null],
  ]);
  assert.deepEqual(problems, [
    "5: task 'a': field 'command' is given twice (first at line 4); keep one",
    "6: task 'a': unknown field 'comand' (did you mean 'command'?); allowed: executor, task_class, type, command, depends_on, foreach, vram_estimate_mb, timeout_s, max_attempts, retry_delay_s, prompt, output_schema, model, inputs, outputs, adapter, version, description, gate",
    "7: task 'a': expected a field written '- **name**: value', found '- not a field'; fields: executor, task_class, type, command, depends_on, foreach, vram_estimate_mb, timeout_s, max_attempts, retry_delay_s, prompt, output_schema, model, inputs, outputs, adapter, version, description, gate",
    "8: heading 'empty' has no fields: a task is a '### name' heading followed by '- **field**: value' items (at least a command, or a prompt for generate/parse); to group tasks in a phase, put them one heading level deeper (#### name)",
  ]);
});

test('typedTask: what can be read is typed, the rest falls back and stays in raw', () => {
  const table: Array<[Record<string, string>, Partial<ReturnType<typeof typedTask>>]> = [
    [{}, { type: 'shell', executor: 'worker', task_class: null, command: null, depends_on: [], foreach: null, vram_estimate_mb: null, timeout_s: null, output_schema: null }],
    [{ type: 'LOAD_LLM' }, { type: 'load_llm', executor: 'agent' }],
    [{ type: 'load_llm', executor: 'Worker' }, { executor: 'worker' }],
    [{ type: 'bash', task_class: 'gpu', executor: 'gpu' }, { type: 'shell', task_class: null, executor: 'worker' }],
    [{ task_class: 'LLM' }, { task_class: 'llm' }],
    [{ depends_on: '[a, `b`]', foreach: '{BATCH_PATH}/m.json:items' }, { depends_on: ['a', 'b'], foreach: { path: '{BATCH_PATH}/m.json', key: 'items' } }],
    [{ vram_estimate_mb: '512 MiB', timeout_s: '30s' }, { vram_estimate_mb: 512, timeout_s: 30 }],
    [{ vram_estimate_mb: '1.5GB', timeout_s: 'ten' }, { vram_estimate_mb: null, timeout_s: null }],
    [{ output_schema: '{"type": "object"}' }, { output_schema: { type: 'object' } }],
    [{ output_schema: '[1]' }, { output_schema: null }],
    [{ output_schema: '{bad' }, { output_schema: null }],
    [{ description: 'own' }, { description: 'own' }],
  ];
  for (const [raw, want] of table) {
    const task = typedTask('t', 1, raw, {}, 'under the heading');
    assert.equal(task.raw, raw);
    for (const [k, v] of Object.entries(want)) assert.deepEqual(task[k as keyof typeof task], v, `${JSON.stringify(raw)} ${k}`);
  }
  assert.equal(typedTask('t', 1, {}, {}, 'under the heading').description, 'under the heading');
});
