import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { tokenizeCommand } from '../../agents/plan/tokenize.ts';
import {
  encodeTemplate,
  fillTemplate,
  findPlaceholders,
  itemField,
  substituteArgv,
  substituteText,
} from '../../agents/plan/substitute.ts';
import { parsePlan } from '../../agents/plan/parse.ts';
import { buildBatchTasks } from '../../agents/plan/build.ts';
import { expandForeach } from '../../agents/plan/expand.ts';
import { Config } from '../../agents/core/config.ts';
import { Task } from '../../agents/core/task.ts';

test('tokenizeCommand splits words like a POSIX shell, without expanding anything', () => {
  const table: Array<[string, string[]]> = [
    ['node scripts/a.mjs {BATCH_PATH}/out', ['node', 'scripts/a.mjs', '{BATCH_PATH}/out']],
    ['  a\t b  ', ['a', 'b']],
    [`echo 'single $HOME | "x"'`, ['echo', 'single $HOME | "x"']],
    [`echo "double \\" \\\\ \\$ \\\` kept: \\n"`, ['echo', 'double " \\ $ ` kept: \\n']],
    [`echo a\\ b c\\|d`, ['echo', 'a b', 'c|d']],
    [`printf '' "" x`, ['printf', '', '', 'x']],
    [`a'b'"c"d`, ['abcd']],
    [`sh -c 'sort "$1" | uniq > "$2"' sh {ITEM.path} {BATCH_PATH}/out.txt`, ['sh', '-c', 'sort "$1" | uniq > "$2"', 'sh', '{ITEM.path}', '{BATCH_PATH}/out.txt']],
    [`python -c 'import json; print(json.dumps({"a": 1}))'`, ['python', '-c', 'import json; print(json.dumps({"a": 1}))']],
    [`echo price$ a#b x=1 "lone $"`, ['echo', 'price$', 'a#b', 'x=1', 'lone $']],
  ];
  for (const [cmd, want] of table) {
    const r = tokenizeCommand(cmd);
    assert.ok(r.ok, `${cmd}: ${JSON.stringify(r)}`);
    assert.deepEqual(r.argv, want, cmd);
  }
});

test('tokenizeCommand refuses shell syntax, naming the column and the way to do it', () => {
  const table: Array<[string, number, RegExp]> = [
    ['a | b', 3, /^unquoted '\|' is a shell operator.*sh -c '\.\.\. "\$1" \.\.\.' sh \{VALUE\}/],
    ['a || b', 3, /^unquoted '\|\|'/],
    ['a && b', 3, /^unquoted '&&'/],
    ['a & b', 3, /^unquoted '&'/],
    ['a; b', 2, /^unquoted ';'/],
    ['a > out', 3, /^unquoted '>'/],
    ['a >> out', 3, /^unquoted '>>'/],
    ['a < in', 3, /^unquoted '<'/],
    ['a `date`', 3, /^unquoted '`'/],
    ['a $(date)', 3, /^unquoted '\$\(' is command substitution/],
    ['a (b)', 3, /^unquoted '\('/],
    ['a b)', 4, /^unquoted '\)'/],
    ['echo $HOME', 6, /^unquoted '\$H' would be expanded/],
    ['echo "$HOME"', 7, /inside double quotes would be expanded/],
    ['echo "`date`"', 7, /inside double quotes would be command substitution/],
    ['ls *.txt', 4, /would be a glob/],
    ['echo #comment', 6, /begins a comment/],
    ['cat ~/x', 5, /home folder/],
    ["echo 'open", 6, /single quote opened here is never closed/],
    ['echo "open', 6, /double quote opened here is never closed/],
    ['echo x\\', 7, /ends with a backslash/],
    ['a\nb', 2, /line break/],
    ['   ', 1, /the command is empty/],
    ['FOO=1 node x', 1, /env FOO=1 \.\.\./],
  ];
  for (const [cmd, column, message] of table) {
    const r = tokenizeCommand(cmd);
    assert.equal(r.ok, false, cmd);
    if (r.ok) continue;
    assert.equal(r.column, column, `${cmd}: ${r.error}`);
    assert.match(r.error, message, cmd);
  }
});

test('placeholder grammar: {NAME}, {ITEM}, {ITEM.a.b}; other braces are text', () => {
  assert.deepEqual(
    findPlaceholders('{A} {B_2} {_X} {ITEM} {ITEM.path} {ITEM.a.b-c} {"a":1} {lower} { A } {ITEM.} {2X} {A.b}').map((p) => p.name),
    ['A', 'B_2', '_X', 'ITEM', 'ITEM.path', 'ITEM.a.b-c'],
  );
  assert.equal(substituteText(`{"a": {A}, "b": {B}}`, { A: '1' }), `{"a": 1, "b": {B}}`);
});

/** Values that a shell would split, expand or run; each must arrive as one literal argument. */
const HOSTILE = [
  'two words',
  `it's "quoted"`,
  'a; rm -rf /',
  '$(rm -rf /)',
  '`reboot`',
  'line one\nline two',
  '-rf',
  '--help',
  '{ITEM.x}',
  '{NAME}',
  '{{ITEM.x}}',
  '$HOME ~ * ? [a] | & > <',
  '\\ back\\slash \\',
  '',
  ' ',
  '{',
  'ünïcødé ✓',
];

test('substituteArgv: each value stays inside its one argument, never scanned again', () => {
  for (const v of HOSTILE) {
    const argv = substituteArgv(['prog', '{NAME}', 'pre-{NAME}-post', '{ITEM.x}'], { NAME: v, 'ITEM.x': 'ITEM' });
    assert.deepEqual(argv, ['prog', v, `pre-${v}-post`, 'ITEM'], JSON.stringify(v));
  }
});

test('template encoding: a value filled at build is never taken for an {ITEM} placeholder at expansion', () => {
  // A property over many generated strings built from the characters that matter.
  const alphabet = ['{', '}', '{{', 'ITEM', '.x', '{ITEM.x}', 'a', ' ', '$', '"'];
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  for (let i = 0; i < 500; i++) {
    const parts = Array.from({ length: rand(8) }, () => alphabet[rand(alphabet.length)]!);
    const value = parts.join('');
    const template = encodeTemplate('<{V}|{ITEM.x}|{{literal}>', { V: value });
    const filled = fillTemplate(template, (name) => (name === 'ITEM.x' ? 'X' : undefined));
    assert.deepEqual(filled, { text: `<${value}|X|{{literal}>`, missing: [] }, JSON.stringify(value));
  }
});

test('itemField: strings as they are, numbers as text, objects as JSON, missing as undefined', () => {
  const item = { path: 'a b', n: 3, ok: false, nested: { deep: 'd' }, list: [1, 2], nil: null };
  assert.equal(itemField(item, 'ITEM.path'), 'a b');
  assert.equal(itemField(item, 'ITEM.n'), '3');
  assert.equal(itemField(item, 'ITEM.ok'), 'false');
  assert.equal(itemField(item, 'ITEM.nested.deep'), 'd');
  assert.equal(itemField(item, 'ITEM.list'), '[1,2]');
  assert.equal(itemField(item, 'ITEM.list.1'), '2');
  assert.equal(itemField(item, 'ITEM.nil'), undefined);
  assert.equal(itemField(item, 'ITEM.missing'), undefined);
  assert.equal(itemField('scalar', 'ITEM'), 'scalar');
  assert.equal(itemField('scalar', 'ITEM.x'), undefined);
});

const CONFIG = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'qwen2.5:7b', port: 11435 }] });
// '--' ends node's own options, so a value starting with '-' is an argument (PLAN_FORMAT.md).
const ECHO = `node -e 'process.stdout.write(JSON.stringify(process.argv.slice(1)))' --`;

/** A plan whose tasks echo their arguments: one plain, one foreach. */
function echoPlan() {
  const text = [
    '## Inputs',
    '- **NAME**: x',
    '## Tasks',
    '### plain',
    `- **command**: \`${ECHO} {NAME} pre-{NAME} -- {NAME}\``,
    '### each',
    `- **command**: \`${ECHO} {NAME} {ITEM.x} {ITEM.x}{NAME} '{literal}'\``,
    '- **depends_on**: plain',
    '- **foreach**: {BATCH_PATH}/m.json:items',
  ].join('\n');
  const { plan, problems } = parsePlan(text, '/p/echo/plan.md', '/p/echo');
  assert.deepEqual(problems, []);
  return plan;
}

test('build then expand: hostile input and item values each arrive as one literal argument', () => {
  const plan = echoPlan();
  for (const v of HOSTILE) {
    const tasks = buildBatchTasks(plan, { batchId: 'b1', batchPath: '/m/b1', values: { NAME: v }, config: CONFIG, now: 0 });
    assert.deepEqual(tasks[0]!.argv!.slice(4), [v, `pre-${v}`, '--', v]);
    const children = expandForeach(Task.parse(tasks[1]), [{ x: v }], 0);
    assert.deepEqual(children.problems, []);
    assert.deepEqual(children.tasks[0]!.argv!.slice(4), [v, v, `${v}${v}`, '{literal}'], JSON.stringify(v));
  }
});

test('the process receives hostile values byte for byte (run through execa, no shell)', async () => {
  // One input and one item field per hostile value, all in one command: two processes in all.
  const names = HOSTILE.map((_, i) => `V${i}`);
  const text = [
    '## Inputs',
    ...names.map((n) => `- **${n}**: x`),
    '## Tasks',
    '### plain',
    `- **command**: \`${ECHO} ${names.map((n) => `{${n}}`).join(' ')}\``,
    '### each',
    `- **command**: \`${ECHO} ${names.map((n) => `{${n}} {ITEM.${n}}`).join(' ')}\``,
    '- **depends_on**: plain',
    '- **foreach**: {BATCH_PATH}/m.json:items',
  ].join('\n');
  const { plan, problems } = parsePlan(text, '/p/echo/plan.md', '/p/echo');
  assert.deepEqual(problems, []);
  const values = Object.fromEntries(names.map((n, i) => [n, HOSTILE[i]!]));
  const tasks = buildBatchTasks(plan, { batchId: 'b1', batchPath: '/m/b1', values, config: CONFIG, now: 0 });
  const item = Object.fromEntries(names.map((n, i) => [n, `item:${HOSTILE[i]}`]));
  const child = expandForeach(Task.parse(tasks[1]), [item], 0).tasks[0]!;
  const expected = [HOSTILE, HOSTILE.flatMap((v) => [v, `item:${v}`])];
  for (const [i, argv] of [tasks[0]!.argv!, child.argv!].entries()) {
    const [, ...args] = argv; // node itself: the running one, whatever PATH holds
    const r = await execa(process.execPath, args, { shell: false });
    assert.deepEqual(JSON.parse(r.stdout), expected[i]);
  }
});
