// Scores the answers of the haiku (generate) and facts (parse) tasks and writes
// BATCH_PATH/evaluation.json. Usage: node scripts/evaluate.mjs -- BATCH_PATH SENTENCE
//
// Reads BATCH_PATH/outputs/<task>.json: the worker writes the output of each generate and
// parse task there (see PLAN_FORMAT.md, "Outputs of LLM tasks").
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const args = process.argv.slice(2);
if (args[0] === '--') args.shift();
const [batch, sentence] = args;
if (batch === undefined || sentence === undefined) {
  console.error('usage: node scripts/evaluate.mjs -- BATCH_PATH SENTENCE');
  process.exit(1);
}

async function output(task) {
  const file = join(batch, 'outputs', `${task}.json`);
  let text;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    console.error(`no output of task '${task}' at ${file}: the worker writes each generate/parse task's output there`);
    process.exit(1);
  }
  return JSON.parse(text);
}

/** Generate output: a string, or an object holding the text. */
function textOf(out) {
  if (typeof out === 'string') return out;
  if (out && typeof out === 'object') return String(out.text ?? out.response ?? out.output ?? '');
  return '';
}

const haiku = textOf(await output('haiku')).trim();
const lines = haiku.split('\n').map((l) => l.trim()).filter(Boolean);
const haikuScore = lines.length === 3 ? 5 : lines.length > 0 ? 3 : 1;

const raw = await output('facts');
const facts = raw && typeof raw === 'object' && raw.output && typeof raw.output === 'object' ? raw.output : raw;
const checks = {
  person: typeof facts?.person === 'string' && facts.person !== '' && sentence.includes(facts.person),
  city: typeof facts?.city === 'string' && facts.city !== '' && sentence.includes(facts.city),
  year: Number.isInteger(facts?.year) && sentence.includes(String(facts.year)),
};
const right = Object.values(checks).filter(Boolean).length;
const factsScore = 1 + Math.round((right / 3) * 4);

const evaluation = { haiku: { lines: lines.length, score: haikuScore }, facts: { checks, score: factsScore } };
const out = join(batch, 'evaluation.json');
const tmp = `${out}.${process.pid}.tmp`;
await writeFile(tmp, JSON.stringify(evaluation, null, 2) + '\n');
await rename(tmp, out);
console.log(JSON.stringify({ ok: true, wrote: out, haiku_score: haikuScore, facts_score: factsScore }));
