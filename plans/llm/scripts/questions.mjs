// Turns the plan's list of questions (one a line) into the manifest the answer tasks are made
// from: {"questions": [{"n": 1, "question": "..."}, ...]}, in the list's order.
// Usage: node scripts/questions.mjs -- LIST OUT
import { readFile } from 'node:fs/promises';
import { readArgs, writeJsonWhole } from './outputs.mjs';

const usage = 'node scripts/questions.mjs -- LIST OUT';
const { positionals: [list, out] } = readArgs(usage, [], 2);
let text;
try {
  text = await readFile(list, 'utf8');
} catch (err) {
  console.error(`cannot read the list of questions ${list} (${err.code ?? err.message}): give a file in the plan folder, one question a line`);
  process.exit(1);
}
const questions = text
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'))
  .map((question, i) => ({ n: i + 1, question }));
if (questions.length === 0) {
  console.error(`${list} holds no question: write one a line (lines starting with '#' are comments)`);
  process.exit(1);
}
await writeJsonWhole(out, { questions });
console.log(JSON.stringify({ ok: true, wrote: out, questions: questions.length }));
