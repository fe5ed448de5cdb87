// Checks every question's answer and its parsed form, and writes BATCH_PATH/evaluation.json:
// one entry per question, with what is wrong. Exits 1 when an answer is missing or empty, or a
// parsed answer is missing or does not follow the schema (evaluation.json is written first,
// so it says which).
// Usage: node scripts/evaluate.mjs --questions TASK --answers TEMPLATE --parsed TEMPLATE --schema FILE -- BATCH_PATH
//   --questions  the task whose output lists the questions (outputs/<TASK>.json, key "questions")
//   --answers    the foreach generate task (outputs/<TEMPLATE>.<n>.json: {"text": "..."})
//   --parsed     the foreach parse task (outputs/<TEMPLATE>.<n>.json: the schema's JSON)
//   --schema     the parse task's output_schema, as a JSON file in the plan folder
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { outputFile, readArgs, readOutput, writeJsonWhole } from './outputs.mjs';
import { schemaMismatch } from './schema.mjs';

const usage = 'node scripts/evaluate.mjs --questions TASK --answers TEMPLATE --parsed TEMPLATE --schema FILE -- BATCH_PATH';
const o = readArgs(usage, ['questions', 'answers', 'parsed', 'schema'], 1);
const [batch] = o.positionals;

let schema;
try {
  schema = JSON.parse(await readFile(o.schema, 'utf8'));
} catch (err) {
  console.error(`cannot read the schema ${o.schema}: ${err.message}`);
  process.exit(1);
}
const list = await readOutput(batch, o.questions);
if (list.missing || !Array.isArray(list.value?.questions)) {
  console.error(list.missing ?? `${outputFile(batch, o.questions)} has no "questions" list`);
  process.exit(1);
}

/** One question: its answer has text, its parsed form follows the schema. */
async function check({ n, question }) {
  const problems = [];
  const answerTask = `${o.answers}.${n}`;
  const answer = await readOutput(batch, answerTask);
  const text = answer.value?.text;
  if (answer.missing) problems.push(answer.missing);
  else if (typeof text !== 'string' || text.trim() === '') problems.push(`${answerTask}: no text (expected {"text": "..."})`);
  const parsedTask = `${o.parsed}.${n}`;
  const parsed = await readOutput(batch, parsedTask);
  const mismatch = parsed.missing ? null : schemaMismatch(parsed.value, schema);
  if (parsed.missing) problems.push(parsed.missing);
  else if (mismatch) problems.push(`${parsedTask}: does not follow ${o.schema}: ${mismatch}`);
  return {
    n,
    question,
    answer: { task: answerTask, words: typeof text === 'string' ? text.split(/\s+/).filter(Boolean).length : 0 },
    parsed: { task: parsedTask, follows_schema: !parsed.missing && mismatch === null, ...(parsed.value && typeof parsed.value === 'object' ? { value: parsed.value } : {}) },
    ok: problems.length === 0,
    problems,
  };
}

const items = [];
for (const q of list.value.questions) items.push(await check(q));
const failed = items.filter((i) => !i.ok);
const evaluation = { ok: failed.length === 0, questions: items.length, passed: items.length - failed.length, schema: o.schema, items };
const out = join(batch, 'evaluation.json');
await writeJsonWhole(out, evaluation);
if (failed.length) {
  console.error(`${failed.length} of ${items.length} questions failed (see ${out}):\n${failed.flatMap((i) => i.problems).join('\n')}`);
  process.exit(1);
}
console.log(JSON.stringify({ ok: true, wrote: out, questions: items.length }));
