// Writes the night's digest: totals and the TOP longest notes. Usage: node scripts/digest.mjs IN_FILE TOP OUT_FILE
import { readFile } from 'node:fs/promises';
import { writeWhole } from './write.mjs';

const [input, top, out] = process.argv.slice(2);
const n = Number(top);
if (input === undefined || out === undefined || !Number.isInteger(n) || n < 0) {
  console.error('usage: node scripts/digest.mjs IN_FILE TOP OUT_FILE (TOP a whole number)');
  process.exit(1);
}
const { notes } = JSON.parse(await readFile(input, 'utf8'));
const words = notes.reduce((sum, x) => sum + x.words, 0);
const longest = [...notes].sort((a, b) => b.words - a.words || a.name.localeCompare(b.name)).slice(0, n);
const text = [
  '# Nightly digest',
  '',
  `${notes.length} notes, ${words} words.`,
  '',
  ...longest.map((x) => `- ${x.name} (${x.words} words): ${x.first}`),
  '',
].join('\n');
await writeWhole(out, text);
console.log(JSON.stringify({ ok: true, wrote: out, notes: notes.length, words }));
