// Collects the .txt files of SOURCE (a folder in the plan folder) into OUT_FILE as JSON.
// Usage: node scripts/collect.mjs SOURCE OUT_FILE
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeWhole } from './write.mjs';

const [source, out] = process.argv.slice(2);
if (source === undefined || out === undefined) {
  console.error('usage: node scripts/collect.mjs SOURCE OUT_FILE');
  process.exit(1);
}
const names = (await readdir(source)).filter((n) => n.endsWith('.txt')).sort();
const notes = [];
for (const name of names) notes.push({ name, text: await readFile(join(source, name), 'utf8') });
await writeWhole(out, JSON.stringify({ notes }, null, 2) + '\n');
console.log(JSON.stringify({ ok: true, wrote: out, notes: notes.length }));
