// Writes "Hello, NAME!" TIMES times to OUT_FILE. Usage: node scripts/greet.mjs -- NAME TIMES OUT_FILE
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

const args = process.argv.slice(2);
if (args[0] === '--') args.shift(); // values after -- are never options, even when they start with '-'
const [name, timesText, out] = args;
const times = Number(timesText);
if (name === undefined || out === undefined || !Number.isInteger(times) || times < 1) {
  console.error(`usage: node scripts/greet.mjs -- NAME TIMES OUT_FILE (TIMES a whole number >= 1); got ${JSON.stringify(args)}`);
  process.exit(1);
}
const text = Array.from({ length: times }, () => `Hello, ${name}!`).join('\n') + '\n';
await mkdir(dirname(out), { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
await writeFile(tmp, text);
await rename(tmp, out);
console.log(JSON.stringify({ ok: true, wrote: out, lines: times }));
