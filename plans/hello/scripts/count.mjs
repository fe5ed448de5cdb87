// Counts lines and words of IN_FILE into OUT_FILE as JSON. Usage: node scripts/count.mjs IN_FILE OUT_FILE
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

const [input, out] = process.argv.slice(2);
if (input === undefined || out === undefined) {
  console.error('usage: node scripts/count.mjs IN_FILE OUT_FILE');
  process.exit(1);
}
const text = await readFile(input, 'utf8');
const counts = { lines: text.split('\n').filter(Boolean).length, words: text.split(/\s+/).filter(Boolean).length };
await mkdir(dirname(out), { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
await writeFile(tmp, JSON.stringify(counts, null, 2) + '\n');
await rename(tmp, out);
console.log(JSON.stringify({ ok: true, wrote: out, ...counts }));
