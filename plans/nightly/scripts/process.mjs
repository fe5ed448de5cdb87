// Counts the words and lines of each collected note. Usage: node scripts/process.mjs IN_FILE OUT_FILE
import { readFile } from 'node:fs/promises';
import { writeWhole } from './write.mjs';

const [input, out] = process.argv.slice(2);
if (input === undefined || out === undefined) {
  console.error('usage: node scripts/process.mjs IN_FILE OUT_FILE');
  process.exit(1);
}
const { notes } = JSON.parse(await readFile(input, 'utf8'));
const processed = notes.map(({ name, text }) => ({
  name,
  lines: text.split('\n').filter(Boolean).length,
  words: text.split(/\s+/).filter(Boolean).length,
  first: text.split('\n')[0] ?? '',
}));
await writeWhole(out, JSON.stringify({ notes: processed }, null, 2) + '\n');
console.log(JSON.stringify({ ok: true, wrote: out, notes: processed.length }));
