import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parsePlan } from '../../agents/plan/parse.ts';
import { inlineCodeArgs, sortProblems, validatePlan } from '../../agents/plan/validate.ts';
import { checkPlan } from '../../agents/plan/load.ts';

const FILE = '/p/demo/plan.md';

/** Parse and validate problems together, the way submit reports them. */
function problemsOf(lines: string[], values: Record<string, string> = {}): string[] {
  const { plan, problems } = parsePlan(lines.join('\n'), FILE, '/p/demo');
  return sortProblems([...problems, ...validatePlan(plan, values)]);
}

/** A plan with the given task lines under '## Tasks' (line 1 is '## Tasks'). */
const tasks = (...lines: string[]) => ['## Tasks', ...lines];

test('a cycle, an unknown dependency and an unknown task_class are all reported, on their lines', async () => {
  const dir = fileURLToPath(new URL('../fixtures/plans/broken', import.meta.url));
  const { problems } = await checkPlan(dir, {});
  const file = `${dir}/plan.md`;
  assert.deepEqual(problems, [
    `${file}:9: dependency cycle: a -> c -> b -> a (each task waits for the next, so none of them can start); remove one of these dependencies`,
    `${file}:12: task 'b': unknown task_class 'gpu' (did you mean 'cpu'?); allowed: cpu, script, llm, meta`,
    `${file}:18: task 'c': depends_on names 'missing', which is not a task of this plan; tasks: a, b, c`,
  ]);
});

test('the example plans and the seed-shaped plan validate', async () => {
  for (const dir of ['../../plans/hello', '../../plans/video', '../../plans/llm', '../fixtures/plans/seed']) {
    const { plan, problems } = await checkPlan(fileURLToPath(new URL(dir, import.meta.url)), {});
    assert.ok(plan, dir);
    assert.deepEqual(problems, [], dir);
  }
});

// One broken thing per row: [what, plan lines, values, expected problems (exact)].
const TABLE: Array<[string, string[], Record<string, string>, string[]]> = [
  ['no tasks', ['# Empty', '## Goal', 'Nothing.'], {}, [
    `${FILE}:1: the plan has no tasks: add a '## Tasks' section with one '### name' heading per task, each followed by fields such as '- **command**: \`node scripts/run.mjs {BATCH_PATH}\`'`,
  ]],
  ['missing command', tasks('### x', '- **task_class**: cpu'), {}, [
    `${FILE}:2: task 'x' has no command: a shell task needs '- **command**: \`program arguments\`', e.g. \`node scripts/run.mjs {BATCH_PATH}\``,
  ]],
  ['duplicate task', tasks('### x', '- **command**: `a`', '### x', '- **command**: `b`'), {}, [
    `${FILE}:4: task 'x' is defined twice (first at line 2); task names must be unique`,
  ]],
  ['dot in a name', tasks('### x.1', '- **command**: `a`'), {}, [
    `${FILE}:2: task name 'x.1' is not valid: '.' is reserved for foreach children (<template>.<n>); use letters, digits, '_' and '-'`,
  ]],
  ['bad name', tasks('### my task', '- **command**: `a`'), {}, [
    `${FILE}:2: task name 'my task' is not valid: use letters, digits, '_' and '-', starting with a letter or digit, at most 64 characters (e.g. my_task)`,
  ]],
  ['reserved name', tasks('### batch_summary', '- **command**: `a`'), {}, [
    `${FILE}:2: task name 'batch_summary' is reserved: the rig adds a batch_summary task to every batch; give this task another name`,
  ]],
  ['unknown executor and type', tasks('### x', '- **executor**: gpu', '- **type**: bash', '- **command**: `a`'), {}, [
    `${FILE}:3: task 'x': unknown executor 'gpu'; allowed: worker, agent, brain`,
    `${FILE}:4: task 'x': unknown type 'bash'; allowed: shell, generate, parse, load_llm, unload_llm, promote_adapter, rollback_adapter`,
  ]],
  ['self dependency', tasks('### x', '- **command**: `a`', '- **depends_on**: x'), {}, [
    `${FILE}:4: dependency cycle: x -> x (each task waits for the next, so none of them can start); remove one of these dependencies`,
  ]],
  ['unknown placeholder', ['## Inputs', '- **COUNT**: 3', ...tasks('### x', '- **command**: `node a.mjs {CUONT}`')], {}, [
    `${FILE}:5: task 'x': placeholder {CUONT} in command names no input (did you mean 'COUNT'?); inputs: COUNT; declare it in '## Inputs' as '- **CUONT**: default', or fix the name`,
  ]],
  ['lower-case look-alike', tasks('### x', '- **command**: `node a.mjs {batch_path}/out`'), {}, [
    `${FILE}:3: task 'x': '{batch_path}' in command is not a placeholder (placeholder names are upper case) and would stay as text; write {BATCH_PATH}`,
  ]],
  ['input without a value', ['## Inputs', '- **LANG**: (required)', ...tasks('### x', '- **command**: `node a.mjs {LANG}`')], {}, [
    `${FILE}:2: input 'LANG' has no default and no value was given: pass it with --config '{"LANG": "..."}' (or in the submission's config), or give it a default ('- **LANG**: value')`,
  ]],
  ['config for no input', ['## Inputs', '- **COUNT**: 3', ...tasks('### x', '- **command**: `node a.mjs {COUNT}`')], { COUNTS: '4' }, [
    `${FILE}:1: config gives 'COUNTS', but the plan has no input COUNTS (did you mean 'COUNT'?); inputs: COUNT; declare it in '## Inputs' as '- **COUNTS**: default' or remove it from the config`,
  ]],
  ['bad input name', ['## Inputs', '- **count**: 3', ...tasks('### x', '- **command**: `a`')], {}, [
    `${FILE}:2: input name 'count' is not valid: write it in upper case letters, digits and '_' (e.g. COUNT), and use it as {COUNT}`,
  ]],
  ['foreach without a colon', tasks('### s', '- **command**: `a`', '### x', '- **command**: `node a.mjs {ITEM.path}`', '- **depends_on**: s', '- **foreach**: {BATCH_PATH}/manifest.json'), {}, [
    `${FILE}:7: task 'x': foreach must be '<manifest path>:<key>', e.g. {BATCH_PATH}/manifest.json:videos; found '{BATCH_PATH}/manifest.json' (no ':'); write '<path>:' for a manifest that is itself the list`,
  ]],
  ['foreach outside the batch', tasks('### s', '- **command**: `a`', '### x', '- **command**: `node a.mjs {ITEM}`', '- **depends_on**: s', '- **foreach**: /tmp/m.json:items'), {}, [
    `${FILE}:7: task 'x': foreach manifest path must be under {BATCH_PATH}/ (the batch's output folder, where an earlier task writes it); found '/tmp/m.json'`,
  ]],
  ['foreach escaping the batch', tasks('### s', '- **command**: `a`', '### x', '- **command**: `node a.mjs {ITEM}`', '- **depends_on**: s', '- **foreach**: {BATCH_PATH}/../m.json:items'), {}, [
    `${FILE}:7: task 'x': foreach manifest path must stay inside {BATCH_PATH}; remove '..' from '{BATCH_PATH}/../m.json'`,
  ]],
  ['foreach bad key, no depends_on', tasks('### x', '- **command**: `node a.mjs {ITEM}`', '- **foreach**: {BATCH_PATH}/m.json:items[0]'), {}, [
    `${FILE}:4: task 'x': foreach key must be a dotted name such as videos or data.items (or empty for a manifest that is itself the list); found 'items[0]'`,
    `${FILE}:4: task 'x' has a foreach but no depends_on: its manifest is read once its dependencies complete, so depend on the task that writes it`,
  ]],
  ['ITEM without foreach', tasks('### x', '- **command**: `node a.mjs {ITEM.path}`'), {}, [
    `${FILE}:3: task 'x': {ITEM.path} is only filled in a task with a foreach; add '- **foreach**: {BATCH_PATH}/manifest.json:items' or remove the placeholder`,
  ]],
  ['a pipe', tasks('### x', "- **command**: `sort {BATCH_PATH}/a | uniq`"), {}, [
    `${FILE}:3: task 'x': command, column 21: unquoted '|' is a shell operator, and commands are not run by a shell, so pipes, redirects, '&&' and ';' do not work here; write sh -c '... "$1" ...' sh {VALUE} instead (the script stays fixed text, each value is one positional argument); to pass '|' as text, quote it`,
  ]],
  ['text after the command', tasks('### x', '- **command**: `node a.mjs` # the step'), {}, [
    `${FILE}:3: task 'x': command must be one pair of backticks around the whole command, with nothing after the closing one, e.g. \`node scripts/run.mjs {BATCH_PATH}\`; found '\`node a.mjs\` # the step'`,
  ]],
  ['placeholder in sh -c code', tasks('### x', `- **command**: \`sh -c 'sort {BATCH_PATH}/a | uniq'\``), {}, [
    `${FILE}:3: task 'x': {BATCH_PATH} is inside the code that sh runs, so its value would run as code; pass it as a positional argument instead: sh -c '... "$1" ...' sh {BATCH_PATH}`,
  ]],
  ['placeholder in python -c code', ['## Inputs', '- **N**: 1', ...tasks('### x', `- **command**: \`python3 -c 'print({N})'\``)], {}, [
    `${FILE}:5: task 'x': {N} is inside the code that python3 runs, so its value would run as code; pass it as a positional argument instead: python3 -c '... sys.argv[1] ...' {N}`,
  ]],
  ['placeholder in node -e code', ['## Inputs', '- **N**: 1', ...tasks('### x', `- **command**: \`node -e 'console.log("{N}")'\``)], {}, [
    `${FILE}:5: task 'x': {N} is inside the code that node runs, so its value would run as code; pass it as a positional argument instead: node -e '... process.argv[1] ...' {N}`,
  ]],
  ['generate without prompt', tasks('### g', '- **type**: generate'), {}, [
    `${FILE}:2: task 'g' has no prompt: a generate task needs '- **prompt**: text', where {NAME} placeholders are filled`,
  ]],
  ['parse without schema', tasks('### p', '- **type**: parse', '- **prompt**: hi'), {}, [
    `${FILE}:2: task 'p' has no output_schema: a parse task needs '- **output_schema**: \`{...}\`', the JSON Schema its answer must follow`,
  ]],
  ['schema not an object', tasks('### p', '- **type**: parse', '- **prompt**: hi', '- **output_schema**: `[1, 2]`'), {}, [
    `${FILE}:5: task 'p': output_schema must be a JSON object in backticks, e.g. \`{"type": "object", "properties": {"score": {"type": "number"}}}\`; found not a JSON object`,
  ]],
  ['class contradicts type', tasks('### g', '- **type**: generate', '- **task_class**: cpu', '- **prompt**: hi'), {}, [
    `${FILE}:4: task 'g': type generate needs an LLM: task_class must be llm (or leave task_class out)`,
  ]],
  ['numbers', tasks('### x', '- **command**: `a`', '- **vram_estimate_mb**: 1.5GB', '- **timeout_s**: 0'), {}, [
    `${FILE}:4: task 'x': vram_estimate_mb must be a whole number of MB, e.g. 1024; found '1.5GB'`,
    `${FILE}:5: task 'x': timeout_s must be a whole number of seconds above 0, e.g. 600; found '0'`,
  ]],
  ['executor brain', tasks('### x', '- **executor**: brain', '- **command**: `a`'), {}, [
    `${FILE}:3: task 'x': executor 'brain' is reserved for the batch_summary the rig adds itself; use worker (or agent for load_llm/unload_llm), or leave executor out`,
  ]],
];

for (const [what, lines, values, want] of TABLE) {
  test(`validate: ${what}`, () => {
    assert.deepEqual(problemsOf(lines, values), want);
  });
}

test('every problem of a plan is reported at once, sorted by line', () => {
  const problems = problemsOf([
    '## Inputs',
    '- **NEED**:',
    ...tasks(
      '### a',
      '- **command**: `node a.mjs {MISSING} | x`',
      '### b',
      '- **task_class**: huge',
      '- **depends_on**: nope',
      '### b',
      '- **command**: `c`',
    ),
  ]);
  assert.deepEqual(
    problems.map((p) => p.split(': ')[0]),
    [`${FILE}:2`, `${FILE}:5`, `${FILE}:6`, `${FILE}:7`, `${FILE}:8`, `${FILE}:9`],
  );
});

test('an output_schema that is not JSON says so, with the JSON error', () => {
  const problems = problemsOf(tasks('### p', '- **type**: parse', '- **prompt**: hi', '- **output_schema**: `{type: object}`'));
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /^\/p\/demo\/plan\.md:5: task 'p': output_schema must be a JSON object in backticks, .*; found not valid JSON: /);
});

test('inlineCodeArgs finds the code argument of interpreters, through wrappers', () => {
  const table: Array<[string[], number[]]> = [
    [['sh', '-c', 'code', 'sh', 'x'], [2]],
    [['/bin/bash', '-eu', '-o', 'pipefail', '-c', 'code'], [5]],
    [['bash', '-ec', 'code'], [2]],
    [['bash', 'script.sh', '-c', 'x'], []],
    [['python3', '-u', '-c', 'code', 'arg'], [3]],
    [['python', '-cprint(1)'], [1]],
    [['python', '-m', 'mod', '-c', 'x'], []],
    [['node', '--eval', 'code'], [2]],
    [['node', '-p', 'code'], [2]],
    [['node', '--eval=code'], [1]],
    [['node', 'script.js', '-e', 'x'], []],
    [['perl', '-ne', 'code', 'file'], [2]],
    [['ruby', '-e', 'code'], [2]],
    [['env', 'A=1', 'sh', '-c', 'code'], [4]],
    [['timeout', '10', 'python3', '-c', 'code'], [4]],
    [['node', 'scripts/x.mjs', '{ITEM.path}'], []],
  ];
  for (const [argv, want] of table) assert.deepEqual(inlineCodeArgs(argv).indexes, want, argv.join(' '));
});

test('placeholders outside the code of sh -c are fine: the documented way to pipe', () => {
  const problems = problemsOf([
    '## Inputs',
    '- **N**: 1',
    ...tasks(
      '### s',
      '- **command**: `node s.mjs`',
      '### x',
      `- **command**: \`sh -c 'sort "$1" | uniq > "$2"' sh {ITEM.path} {BATCH_PATH}/out.txt\``,
      '- **depends_on**: s',
      '- **foreach**: {BATCH_PATH}/m.json:items',
      '### j',
      `- **command**: \`node -e 'console.log({"a": 1}, process.argv[1])' {N}\``,
    ),
  ]);
  assert.deepEqual(problems, []);
});

test('given values satisfy required inputs; BATCH_PATH cannot be given', () => {
  const lines = ['## Inputs', '- **LANG**: (required)', ...tasks('### x', '- **command**: `node a.mjs {LANG}`')];
  assert.deepEqual(problemsOf(lines, { LANG: 'en' }), []);
  assert.deepEqual(problemsOf(lines, { LANG: 'en', BATCH_PATH: '/x' }), [
    `${FILE}:1: config gives 'BATCH_PATH', which the rig sets itself; remove it from the config`,
  ]);
});

test('the examples in PLAN_FORMAT.md parse and validate as the document says', () => {
  const doc = readFileSync(fileURLToPath(new URL('../../plans/PLAN_FORMAT.md', import.meta.url)), 'utf8');
  const whole = /````markdown\n([\s\S]*?)\n````/.exec(doc)![1]!;
  assert.deepEqual(problemsOf(whole.split('\n'), { LANG: 'en' }), []);
  assert.deepEqual(problemsOf(whole.split('\n')), [
    `${FILE}:11: input 'LANG' has no default and no value was given: pass it with --config '{"LANG": "..."}' (or in the submission's config), or give it a default ('- **LANG**: value')`,
  ]);
  const inputs = /```markdown\n(## Inputs\n[\s\S]*?)\n```/.exec(doc)![1]!;
  const { plan, problems } = parsePlan(inputs, FILE, '/p/demo');
  assert.deepEqual(problems, []);
  assert.deepEqual(
    plan.inputs.map((i) => [i.name, i.default, i.description]),
    [
      ['COUNT', '20', 'how many videos the scan finds'],
      ['PATTERN', '*.mp4 — or *.mkv', 'a default in backticks is taken literally'],
      ['SUFFIX', '', null],
      ['LANG', null, null],
      ['MODEL', null, null],
    ],
  );
  const pipe = /- \*\*command\*\*: `(sh -c [^\n]*)`\n/.exec(doc)![1]!;
  assert.deepEqual(problemsOf(tasks('### s', '- **command**: `a`', '### x', `- **command**: \`${pipe}\``, '- **depends_on**: s', '- **foreach**: {BATCH_PATH}/m.json:items')), []);
});
