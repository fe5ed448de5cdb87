// Each named rule of validatePlan, one plan it passes and one it fails with its exact message.
// The failing rows go through validatePlan, so a rule dropped from its list fails its row; the
// coverage test fails when a rule has no rows (or a row names a rule that no list holds).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePlan } from '../../agents/plan/parse.ts';
import { GRAPH_RULES, PLAN_RULES } from '../../agents/plan/planRules.ts';
import { ruleContext, type PlanRule, type TaskRule } from '../../agents/plan/ruleContext.ts';
import { PRIORITY_RULE } from '../../agents/plan/priority.ts';
import { TASK_RULES } from '../../agents/plan/taskRules.ts';
import type { Plan } from '../../agents/plan/types.ts';
import { validatePlan } from '../../agents/plan/validate.ts';

const FILE = '/p/demo/plan.md';

function parsed(lines: string[]): Plan {
  const { plan, problems } = parsePlan(lines.join('\n'), FILE, '/p/demo');
  assert.deepEqual(problems, [], 'the row parses cleanly');
  return plan;
}

/** A plan with the given task lines under '## Tasks' (line 1 is '## Tasks'). */
const tasks = (...lines: string[]) => ['## Tasks', ...lines];
/** The same, after '## Inputs' (line 1) with one input '- **COUNT**: 3' (line 2); '## Tasks' is line 3. */
const withCount = (...lines: string[]) => ['## Inputs', '- **COUNT**: 3', ...tasks(...lines)];
/** A task 's' (lines 2-3) that writes the manifest a foreach task below it reads. */
const writer = ['### s', '- **command**: `node s.mjs {BATCH_PATH}`'];

function chain(length: number): string[] {
  const lines = tasks('### t0', '- **command**: `a`');
  for (let i = 1; i < length; i++) lines.push(`### t${i}`, '- **command**: `a`', `- **depends_on**: t${i - 1}`);
  return lines;
}

interface Row {
  rule: string;
  lines: string[];
  values?: Record<string, string>;
  /** Exactly what validatePlan reports; [] for a row the plan passes. */
  want: string[];
}

const ROWS: Row[] = [
  // Inputs and config.
  { rule: 'input names are upper case and not reserved', lines: withCount('### x', '- **command**: `a {COUNT}`'), want: [] },
  { rule: 'input names are upper case and not reserved', lines: ['## Inputs', '- **count**: 3', ...tasks('### x', '- **command**: `a`')], want: [
    `${FILE}:2: input name 'count' is not valid: write it in upper case letters, digits and '_' (e.g. COUNT), and use it as {COUNT}`,
  ] },
  { rule: 'input names are upper case and not reserved', lines: ['## Inputs', '- **ITEM**: 3', ...tasks('### x', '- **command**: `a`')], want: [
    `${FILE}:2: input 'ITEM' is reserved: {ITEM} is filled by the rig; give the input another name`,
  ] },
  { rule: 'each input is declared once', lines: ['## Inputs', '- **N**: 1', '- **M**: 1', ...tasks('### x', '- **command**: `a`')], want: [] },
  { rule: 'each input is declared once', lines: ['## Inputs', '- **N**: 1', '- **N**: 2', ...tasks('### x', '- **command**: `a`')], want: [
    `${FILE}:3: input 'N' is declared twice (first at line 2); keep one`,
  ] },
  { rule: 'each input has a default or a value', lines: ['## Inputs', '- **LANG**: (required)', ...tasks('### x', '- **command**: `a {LANG}`')], values: { LANG: 'en' }, want: [] },
  { rule: 'each input has a default or a value', lines: ['## Inputs', '- **LANG**: (required)', ...tasks('### x', '- **command**: `a {LANG}`')], want: [
    `${FILE}:2: input 'LANG' has no default and no value was given: pass it with --config '{"LANG": "..."}' (or in the submission's config), or give it a default ('- **LANG**: value')`,
  ] },
  { rule: 'config values name inputs and hold no NUL', lines: withCount('### x', '- **command**: `a {COUNT}`'), values: { COUNT: '4' }, want: [] },
  { rule: 'config values name inputs and hold no NUL', lines: withCount('### x', '- **command**: `a {COUNT}`'), values: { COUNTS: '4', BATCH_PATH: '/x', COUNT: 'a\0b' }, want: [
    `${FILE}:1: config gives 'COUNTS', but the plan has no input COUNTS (did you mean 'COUNT'?); inputs: COUNT; declare it in '## Inputs' as '- **COUNTS**: default' or remove it from the config`,
    `${FILE}:1: config gives 'BATCH_PATH', which the rig sets itself; remove it from the config`,
    `${FILE}:1: config value of 'COUNT' contains a NUL character, which no program argument can hold; remove it`,
  ] },
  // Task names.
  { rule: 'the plan has tasks', lines: tasks('### x', '- **command**: `a`'), want: [] },
  { rule: 'the plan has tasks', lines: ['# Empty', '## Goal', 'Nothing.'], want: [
    `${FILE}:1: the plan has no tasks: add a '## Tasks' section with one '### name' heading per task, each followed by fields such as '- **command**: \`node scripts/run.mjs {BATCH_PATH}\`'`,
  ] },
  { rule: 'task names are valid and not reserved', lines: tasks('### scan-1_a', '- **command**: `a`'), want: [] },
  { rule: 'task names are valid and not reserved', lines: tasks('### my task', '- **command**: `a`', '### x.1', '- **command**: `a`', '### batch_summary', '- **command**: `a`'), want: [
    `${FILE}:2: task name 'my task' is not valid: use letters, digits, '_' and '-', starting with a letter or digit, at most 64 characters (e.g. my_task)`,
    `${FILE}:4: task name 'x.1' is not valid: '.' is reserved for foreach children (<template>.<n>); use letters, digits, '_' and '-'`,
    `${FILE}:6: task name 'batch_summary' is reserved: the rig adds a batch_summary task to every batch; give this task another name`,
  ] },
  { rule: 'task names are unique', lines: tasks('### x', '- **command**: `a`', '### y', '- **command**: `b`'), want: [] },
  { rule: 'task names are unique', lines: tasks('### x', '- **command**: `a`', '### x', '- **command**: `b`'), want: [
    `${FILE}:4: task 'x' is defined twice (first at line 2); task names must be unique`,
  ] },
  // Values the parser could not read.
  { rule: 'task_class is known', lines: tasks('### x', '- **task_class**: CPU', '- **command**: `a`'), want: [] },
  { rule: 'task_class is known', lines: tasks('### x', '- **task_class**: gpu', '- **command**: `a`'), want: [
    `${FILE}:3: task 'x': unknown task_class 'gpu' (did you mean 'cpu'?); allowed: cpu, script, llm, meta`,
  ] },
  { rule: 'executor is known', lines: tasks('### x', '- **executor**: worker', '- **command**: `a`'), want: [] },
  { rule: 'executor is known', lines: tasks('### x', '- **executor**: gpu', '- **command**: `a`'), want: [
    `${FILE}:3: task 'x': unknown executor 'gpu'; allowed: worker, agent, brain`,
  ] },
  { rule: 'type is known and not reserved', lines: tasks('### x', '- **type**: shell', '- **command**: `a`'), want: [] },
  { rule: 'type is known and not reserved', lines: tasks('### x', '- **type**: bash', '- **command**: `a`', '### y', '- **type**: batch_summary', '- **command**: `a`'), want: [
    `${FILE}:3: task 'x': unknown type 'bash'; allowed: shell, generate, parse, load_llm, unload_llm, promote_adapter, rollback_adapter`,
    `${FILE}:6: task 'y': type 'batch_summary' is reserved for the summary the rig adds itself; allowed: shell, generate, parse, load_llm, unload_llm, promote_adapter, rollback_adapter`,
  ] },
  { rule: 'vram_estimate_mb is a whole number', lines: tasks('### x', '- **command**: `a`', '- **vram_estimate_mb**: 1024 MB'), want: [] },
  { rule: 'vram_estimate_mb is a whole number', lines: tasks('### x', '- **command**: `a`', '- **vram_estimate_mb**: 1.5GB'), want: [
    `${FILE}:4: task 'x': vram_estimate_mb must be a whole number of MB, e.g. 1024; found '1.5GB'`,
  ] },
  { rule: 'timeout_s is a whole number above 0', lines: tasks('### x', '- **command**: `a`', '- **timeout_s**: 60s'), want: [] },
  { rule: 'timeout_s is a whole number above 0', lines: tasks('### x', '- **command**: `a`', '- **timeout_s**: 0'), want: [
    `${FILE}:4: task 'x': timeout_s must be a whole number of seconds above 0, e.g. 600; found '0'`,
  ] },
  { rule: 'max_attempts is a whole number from 1 to 100', lines: tasks('### x', '- **command**: `a`', '- **max_attempts**: 5'), want: [] },
  { rule: 'max_attempts is a whole number from 1 to 100', lines: tasks('### x', '- **command**: `a`', '- **max_attempts**: 0'), want: [
    `${FILE}:4: task 'x': max_attempts must be a whole number from 1 to 100 (attempts for the task's own failures), e.g. 5; found '0'`,
  ] },
  { rule: 'retry_delay_s is a whole number of seconds up to a day', lines: tasks('### x', '- **command**: `a`', '- **retry_delay_s**: 30s'), want: [] },
  { rule: 'retry_delay_s is a whole number of seconds up to a day', lines: tasks('### x', '- **command**: `a`', '- **retry_delay_s**: soon'), want: [
    `${FILE}:4: task 'x': retry_delay_s must be a whole number of seconds from 0 to 86400 (the first retry's wait, doubled at each retry), e.g. 30; found 'soon'`,
  ] },
  { rule: 'the priority is a whole number from 1 to 5', lines: ['---', 'priority: 1', '---', ...tasks('### x', '- **command**: `a`')], want: [] },
  { rule: 'the priority is a whole number from 1 to 5', lines: ['---', 'title: t', 'priority: urgent', '---', ...tasks('### x', '- **command**: `a`')], want: [
    `${FILE}:3: front matter priority: expected a whole number from 1 (highest) to 5 (lowest), e.g. 'priority: 2'; found "urgent"`,
  ] },
  { rule: 'output_schema is a JSON object', lines: tasks('### p', '- **type**: parse', '- **prompt**: hi', '- **output_schema**: `{"type": "object"}`'), want: [] },
  { rule: 'output_schema is a JSON object', lines: tasks('### p', '- **type**: parse', '- **prompt**: hi', '- **output_schema**: `[1, 2]`'), want: [
    `${FILE}:5: task 'p': output_schema must be a JSON object in backticks, e.g. \`{"type": "object", "properties": {"score": {"type": "number"}}}\`; found not a JSON object`,
  ] },
  // Who runs what, and the fields a type needs.
  { rule: 'executor fits the type', lines: tasks('### l', '- **type**: load_llm', '- **executor**: agent'), want: [] },
  { rule: 'executor fits the type', lines: tasks('### x', '- **executor**: brain', '- **command**: `a`', '### y', '- **executor**: agent', '- **command**: `a`', '### l', '- **type**: unload_llm', '- **executor**: worker'), want: [
    `${FILE}:3: task 'x': executor 'brain' is reserved for the batch_summary the rig adds itself; use worker (or agent for load_llm/unload_llm), or leave executor out`,
    `${FILE}:6: task 'y': executor 'agent' runs only load_llm and unload_llm tasks; use worker for a shell task, or leave executor out`,
    `${FILE}:10: task 'l': unload_llm tasks are run by the GPU agent itself: set executor agent, or leave executor out`,
  ] },
  { rule: 'task_class fits the type', lines: tasks('### g', '- **type**: generate', '- **task_class**: llm', '- **prompt**: hi'), want: [] },
  { rule: 'task_class fits the type', lines: tasks('### g', '- **type**: generate', '- **task_class**: cpu', '- **prompt**: hi', '### l', '- **type**: load_llm', '- **task_class**: llm', '### x', '- **task_class**: meta', '- **command**: `a`'), want: [
    `${FILE}:4: task 'g': type generate needs an LLM: task_class must be llm (or leave task_class out)`,
    `${FILE}:8: task 'l': type load_llm is a meta task: task_class must be meta (or leave task_class out)`,
    `${FILE}:10: task 'x': task_class meta is only for load_llm/unload_llm tasks the GPU agent runs; a command is cpu, script or llm`,
  ] },
  { rule: 'a shell task has a command', lines: tasks('### x', '- **task_class**: cpu', '- **command**: `a`'), want: [] },
  { rule: 'a shell task has a command', lines: tasks('### x', '- **task_class**: cpu'), want: [
    `${FILE}:2: task 'x' has no command: a shell task needs '- **command**: \`program arguments\`', e.g. \`node scripts/run.mjs {BATCH_PATH}\``,
  ] },
  { rule: 'a generate or parse task has a prompt', lines: tasks('### g', '- **type**: generate', '- **prompt**: hi'), want: [] },
  { rule: 'a generate or parse task has a prompt', lines: tasks('### g', '- **type**: generate'), want: [
    `${FILE}:2: task 'g' has no prompt: a generate task needs '- **prompt**: text', where {NAME} placeholders are filled`,
  ] },
  { rule: 'a parse task has an output_schema', lines: tasks('### p', '- **type**: parse', '- **prompt**: hi', '- **output_schema**: `{}`'), want: [] },
  { rule: 'a parse task has an output_schema', lines: tasks('### p', '- **type**: parse', '- **prompt**: hi'), want: [
    `${FILE}:2: task 'p' has no output_schema: a parse task needs '- **output_schema**: \`{...}\`', the JSON Schema its answer must follow`,
  ] },
  // Commands and placeholders.
  { rule: 'command is one well-formed command line', lines: tasks('### x', "- **command**: `node a.mjs 'a b' {BATCH_PATH}`"), want: [] },
  { rule: 'command is one well-formed command line', lines: tasks('### x', '- **command**: `node a.mjs` # the step'), want: [
    `${FILE}:3: task 'x': command must be one pair of backticks around the whole command, with nothing after the closing one, e.g. \`node scripts/run.mjs {BATCH_PATH}\`; found '\`node a.mjs\` # the step'`,
  ] },
  { rule: 'command placeholders are filled', lines: withCount('### x', '- **command**: `node a.mjs {COUNT} {BATCH_PATH}`'), want: [] },
  { rule: 'command placeholders are filled', lines: withCount('### x', '- **command**: `node a.mjs {CUONT} {count} {ITEM}`'), want: [
    `${FILE}:5: task 'x': placeholder {CUONT} in command names no input (did you mean 'COUNT'?); inputs: COUNT; declare it in '## Inputs' as '- **CUONT**: default', or fix the name`,
    `${FILE}:5: task 'x': {ITEM} is only filled in a task with a foreach; add '- **foreach**: {BATCH_PATH}/manifest.json:items' or remove the placeholder`,
    `${FILE}:5: task 'x': '{count}' in command is not a placeholder (placeholder names are upper case) and would stay as text; write {COUNT}`,
  ] },
  { rule: 'no placeholder inside inline code', lines: tasks('### x', `- **command**: \`sh -c 'sort "$1"' sh {BATCH_PATH}\``), want: [] },
  { rule: 'no placeholder inside inline code', lines: tasks('### x', `- **command**: \`sh -c 'sort {BATCH_PATH}/a | uniq'\``), want: [
    `${FILE}:3: task 'x': {BATCH_PATH} is inside the code that sh runs, so its value would run as code; pass it as a positional argument instead: sh -c '... "$1" ...' sh {BATCH_PATH}`,
  ] },
  { rule: 'prompt placeholders are filled', lines: withCount('### g', '- **type**: generate', '- **prompt**: count to {COUNT}'), want: [] },
  { rule: 'prompt placeholders are filled', lines: tasks('### g', '- **type**: generate', '- **prompt**: hi {LANG}'), want: [
    `${FILE}:4: task 'g': placeholder {LANG} in prompt names no input; inputs: (none); declare it in '## Inputs' as '- **LANG**: default', or fix the name`,
  ] },
  { rule: 'model placeholders are filled, without {ITEM}', lines: withCount('### g', '- **type**: generate', '- **prompt**: hi', '- **model**: m-{COUNT}'), want: [] },
  { rule: 'model placeholders are filled, without {ITEM}', lines: tasks('### g', '- **type**: generate', '- **prompt**: hi', '- **model**: m-{ITEM}'), want: [
    `${FILE}:5: task 'g': {ITEM} cannot be used in model: the manifest path is read before any item exists; use {BATCH_PATH} and inputs only`,
  ] },
  // foreach.
  { rule: 'foreach is <manifest path>:<key>', lines: tasks(...writer, '### x', '- **command**: `a {ITEM}`', '- **depends_on**: s', '- **foreach**: {BATCH_PATH}/m.json:'), want: [] },
  { rule: 'foreach is <manifest path>:<key>', lines: tasks(...writer, '### x', '- **command**: `a {ITEM}`', '- **depends_on**: s', '- **foreach**: {BATCH_PATH}/m.json'), want: [
    `${FILE}:7: task 'x': foreach must be '<manifest path>:<key>', e.g. {BATCH_PATH}/manifest.json:videos; found '{BATCH_PATH}/m.json' (no ':'); write '<path>:' for a manifest that is itself the list`,
  ] },
  { rule: 'foreach manifest is inside {BATCH_PATH}', lines: tasks(...writer, '### x', '- **command**: `a {ITEM}`', '- **depends_on**: s', '- **foreach**: {BATCH_PATH}/out/m.json:items'), want: [] },
  { rule: 'foreach manifest is inside {BATCH_PATH}', lines: tasks(...writer, '### x', '- **command**: `a {ITEM}`', '- **depends_on**: s', '- **foreach**: /tmp/m.json:items', '### y', '- **command**: `a {ITEM}`', '- **depends_on**: s', '- **foreach**: {BATCH_PATH}/../m.json:items'), want: [
    `${FILE}:7: task 'x': foreach manifest path must be under {BATCH_PATH}/ (the batch's output folder, where an earlier task writes it); found '/tmp/m.json'`,
    `${FILE}:11: task 'y': foreach manifest path must stay inside {BATCH_PATH}; remove '..' from '{BATCH_PATH}/../m.json'`,
  ] },
  { rule: 'foreach placeholders are filled, without {ITEM}', lines: withCount(...writer, '### x', '- **command**: `a {ITEM}`', '- **depends_on**: s', '- **foreach**: {BATCH_PATH}/{COUNT}/m.json:items'), want: [] },
  { rule: 'foreach placeholders are filled, without {ITEM}', lines: tasks(...writer, '### x', '- **command**: `a {ITEM}`', '- **depends_on**: s', '- **foreach**: {BATCH_PATH}/{ITEM}/m.json:items'), want: [
    `${FILE}:7: task 'x': {ITEM} cannot be used in foreach: the manifest path is read before any item exists; use {BATCH_PATH} and inputs only`,
  ] },
  { rule: 'foreach key is a dotted name', lines: tasks(...writer, '### x', '- **command**: `a {ITEM}`', '- **depends_on**: s', '- **foreach**: {BATCH_PATH}/m.json:data.items'), want: [] },
  { rule: 'foreach key is a dotted name', lines: tasks(...writer, '### x', '- **command**: `a {ITEM}`', '- **depends_on**: s', '- **foreach**: {BATCH_PATH}/m.json:items[0]'), want: [
    `${FILE}:7: task 'x': foreach key must be a dotted name such as videos or data.items (or empty for a manifest that is itself the list); found 'items[0]'`,
  ] },
  { rule: 'a foreach task depends on the task that writes its manifest', lines: tasks(...writer, '### x', '- **command**: `a {ITEM}`', '- **depends_on**: s', '- **foreach**: {BATCH_PATH}/m.json:items'), want: [] },
  { rule: 'a foreach task depends on the task that writes its manifest', lines: tasks('### x', '- **command**: `a {ITEM}`', '- **foreach**: {BATCH_PATH}/m.json:items'), want: [
    `${FILE}:4: task 'x' has a foreach but no depends_on: its manifest is read once its dependencies complete, so depend on the task that writes it`,
  ] },
  // Dependencies and the graph.
  { rule: 'dependencies name tasks of the plan', lines: tasks('### scan', '- **command**: `a`', '### x', '- **command**: `b`', '- **depends_on**: scan, scan'), want: [] },
  { rule: 'dependencies name tasks of the plan', lines: tasks('### scan', '- **command**: `a`', '### x', '- **command**: `b`', '- **depends_on**: scna, batch_summary, scna'), want: [
    `${FILE}:6: task 'x': depends_on names 'scna', which is not a task of this plan (did you mean 'scan'?); tasks: scan, x`,
    `${FILE}:6: task 'x': cannot depend on batch_summary: the rig adds it and it runs after every other task`,
  ] },
  // Gate tasks.
  { rule: 'gate is true or false', lines: tasks('### check', '- **command**: `a`', '- **gate**: TRUE', '### build', '- **command**: `b`', '- **gate**: false'), want: [] },
  { rule: 'gate is true or false', lines: tasks('### check', '- **command**: `a`', '- **gate**: maybe'), want: [
    `${FILE}:4: task 'check': gate must be true or false (true: the task's verdict decides whether the tasks that depend on it run), e.g. '- **gate**: true'; found 'maybe'`,
  ] },
  { rule: 'a gate is a shell, generate or parse task', lines: tasks('### ask', '- **type**: parse', '- **prompt**: go?', '- **output_schema**: `{"properties": {"proceed": {"type": "boolean"}}}`', '- **gate**: true'), want: [] },
  { rule: "a parse gate's output_schema asks for proceed", lines: tasks('### ask', '- **type**: parse', '- **prompt**: go?', '- **output_schema**: `{"type": "object"}`', '- **gate**: false'), want: [] },
  { rule: "a parse gate's output_schema asks for proceed", lines: tasks('### ask', '- **type**: parse', '- **prompt**: go?', '- **output_schema**: `{"properties": {"proceed": {"type": "string"}}}`', '- **gate**: true'), want: [
    `${FILE}:5: task 'ask': a parse gate's answer is its verdict, so its output_schema must have a boolean proceed, e.g. \`{"type": "object", "properties": {"proceed": {"type": "boolean"}, "reason": {"type": "string"}}, "required": ["proceed"]}\``,
  ] },
  { rule: 'a gate is a shell, generate or parse task', lines: tasks('### warm', '- **type**: load_llm', '- **model**: m', '- **gate**: true'), want: [
    `${FILE}:5: task 'warm': a load_llm task writes no result, so it cannot give a gate's verdict; make a shell, generate or parse task the gate`,
  ] },
  { rule: 'a gate is not a foreach template', lines: tasks(...writer, '### x', '- **command**: `a {ITEM}`', '- **depends_on**: s', '- **foreach**: {BATCH_PATH}/m.json:items', '- **gate**: false'), want: [] },
  { rule: 'a gate is not a foreach template', lines: tasks(...writer, '### x', '- **command**: `a {ITEM}`', '- **depends_on**: s', '- **foreach**: {BATCH_PATH}/m.json:items', '- **gate**: true'), want: [
    `${FILE}:8: task 'x': a foreach template has no result of its own, so it cannot be a gate; put the gate on a task before it (the foreach depends on the gate)`,
  ] },
  // Declared files (plan/taskPaths.ts).
  { rule: 'inputs are paths inside the plan or batch folder', lines: withCount('### x', '- **command**: `a`', '- **inputs**: scripts/a.mjs, {BATCH_PATH}/in-{COUNT}.json'), want: [] },
  { rule: 'inputs are paths inside the plan or batch folder', lines: withCount('### x', '- **command**: `a`', '- **inputs**: ~/data.json, {BATCH_PATH}/../x'), want: [
    `${FILE}:6: task 'x': inputs path '~/data.json' must be inside the plan folder (a path relative to it, e.g. scripts/process.mjs) or the batch folder ({BATCH_PATH}/...); copy a file from elsewhere into the plan folder`,
    `${FILE}:6: task 'x': inputs path '{BATCH_PATH}/../x' must stay inside its folder; remove '..'`,
  ] },
  { rule: 'outputs are paths inside the plan or batch folder', lines: tasks('### x', '- **command**: `a`', '- **outputs**: `{BATCH_PATH}/x.json`, {BATCH_PATH}/more/'), want: [] },
  { rule: 'outputs are paths inside the plan or batch folder', lines: tasks('### x', '- **command**: `a`', '- **outputs**: ,'), want: [
    `${FILE}:4: task 'x': outputs is empty; list paths separated by commas, e.g. {BATCH_PATH}/collected.json, scripts/process.mjs, or leave the field out`,
  ] },
  { rule: 'no dependency cycles', lines: tasks('### a', '- **command**: `a`', '### b', '- **command**: `b`', '- **depends_on**: a'), want: [] },
  { rule: 'no dependency cycles', lines: tasks('### a', '- **command**: `a`', '- **depends_on**: b', '### b', '- **command**: `b`', '- **depends_on**: a'), want: [
    `${FILE}:4: dependency cycle: a -> b -> a (each task waits for the next, so none of them can start); remove one of these dependencies`,
  ] },
  { rule: 'dependency chains within the limit', lines: chain(1000), want: [] },
  { rule: 'dependency chains within the limit', lines: chain(1001), want: [
    `${FILE}:3003: task 't1000' ends a chain of 1,001 tasks each waiting for the one before (t1000 <- t999 <- t998 <- ... <- t2 <- t1 <- t0), over the limit of 1,000 for the longest dependency chain; tasks in a chain run one at a time, each a brain cycle after the last: let independent tasks depend on a common task instead, or split the plan`,
  ] },
];

const ALL: Array<{ rule: PlanRule | TaskRule; scope: 'plan' | 'task' }> = [
  ...PLAN_RULES.map((rule) => ({ rule, scope: 'plan' as const })),
  ...TASK_RULES.map((rule) => ({ rule, scope: 'task' as const })),
  ...GRAPH_RULES.map((rule) => ({ rule, scope: 'plan' as const })),
  { rule: PRIORITY_RULE, scope: 'plan' as const },
];

test('every rule has a row it passes and a row it fails, and every row names a rule', () => {
  const names = ALL.map((r) => r.rule.name);
  assert.equal(new Set(names).size, names.length, 'rule names are unique');
  for (const name of names) {
    assert.ok(ROWS.some((r) => r.rule === name && r.want.length === 0), `a passing row for '${name}'`);
    assert.ok(ROWS.some((r) => r.rule === name && r.want.length > 0), `a failing row for '${name}'`);
  }
  for (const row of ROWS) assert.ok(names.includes(row.rule), `row names '${row.rule}', which no rule list holds`);
});

for (const [i, row] of ROWS.entries()) {
  test(`rule '${row.rule}' ${row.want.length ? 'fails' : 'passes'} row ${i}`, () => {
    const plan = parsed(row.lines);
    const values = row.values ?? {};
    assert.deepEqual(validatePlan(plan, values), row.want);
    // The problems are this rule's own: run alone, it reports exactly them.
    const { rule, scope } = ALL.find((r) => r.rule.name === row.rule)!;
    const ctx = ruleContext(plan, values);
    const alone = scope === 'plan' ? (rule as PlanRule).check(plan, ctx) : plan.tasks.flatMap((t) => (rule as TaskRule).check(t, ctx));
    assert.deepEqual(alone.map((p) => `${FILE}:${p.line}: ${p.message}`), row.want);
  });
}

test('problems on one line keep the order of the rules', () => {
  // foreach form, placeholders, key and depends_on all report on the foreach line.
  const plan = parsed(tasks('### x', '- **command**: `a {ITEM}`', '- **foreach**: {BATCH_PATH}/{ITEM}/m.json:items[0]'));
  assert.deepEqual(validatePlan(plan, {}), [
    `${FILE}:4: task 'x': {ITEM} cannot be used in foreach: the manifest path is read before any item exists; use {BATCH_PATH} and inputs only`,
    `${FILE}:4: task 'x': foreach key must be a dotted name such as videos or data.items (or empty for a manifest that is itself the list); found 'items[0]'`,
    `${FILE}:4: task 'x' has a foreach but no depends_on: its manifest is read once its dependencies complete, so depend on the task that writes it`,
  ]);
});
