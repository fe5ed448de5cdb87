// Gathers each question with the text of its answer into one manifest, so that a foreach
// parse task can put the answer into its prompt: {"answers": [{"n", "question", "task", "text"}]}.
// Usage: node scripts/collect.mjs --questions TASK --answers TEMPLATE --out TASK -- BATCH_PATH
//   --questions  the task whose output lists the questions (outputs/<TASK>.json, key "questions")
//   --answers    the foreach generate task: its children <TEMPLATE>.<n> answered question n
//   --out        this task's name: the manifest is written to outputs/<TASK>.json
import { childNames, outputFile, readArgs, readOutput, writeJsonWhole } from './outputs.mjs';

const usage = 'node scripts/collect.mjs --questions TASK --answers TEMPLATE --out TASK -- BATCH_PATH';
const { questions: questionsTask, answers: template, out, positionals: [batch] } = readArgs(usage, ['questions', 'answers', 'out'], 1);

const list = await readOutput(batch, questionsTask);
if (list.missing || !Array.isArray(list.value?.questions)) {
  console.error(list.missing ?? `${outputFile(batch, questionsTask)} has no "questions" list`);
  process.exit(1);
}
const { questions } = list.value;
const answers = [];
const problems = [];
for (const [i, task] of childNames(template, questions.length).entries()) {
  const got = await readOutput(batch, task);
  const text = got.value?.text;
  if (got.missing) problems.push(got.missing);
  else if (typeof text !== 'string' || text.trim() === '') problems.push(`${outputFile(batch, task)} has no text: expected {"text": "..."}`);
  else answers.push({ n: i + 1, question: questions[i].question, task, text });
}
if (problems.length) {
  console.error(`${problems.length} of ${questions.length} answers missing:\n${problems.join('\n')}`);
  process.exit(1);
}
await writeJsonWhole(outputFile(batch, out), { answers });
console.log(JSON.stringify({ ok: true, wrote: outputFile(batch, out), answers: answers.length }));
