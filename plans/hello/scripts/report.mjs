// Combines greeting.txt and count.json of a batch into report.json. Usage: node scripts/report.mjs BATCH_PATH
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const [batch] = process.argv.slice(2);
if (batch === undefined) {
  console.error('usage: node scripts/report.mjs BATCH_PATH');
  process.exit(1);
}
const greeting = await readFile(join(batch, 'greeting.txt'), 'utf8');
const counts = JSON.parse(await readFile(join(batch, 'count.json'), 'utf8'));
const report = { first_line: greeting.split('\n')[0], ...counts };
const out = join(batch, 'report.json');
const tmp = `${out}.${process.pid}.tmp`;
await writeFile(tmp, JSON.stringify(report, null, 2) + '\n');
await rename(tmp, out);
console.log(JSON.stringify({ ok: true, wrote: out, ...report }));
