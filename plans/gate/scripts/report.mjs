// Writes BATCH_PATH/report.json from the triage verdict and the LLM's explanation.
// Usage: node scripts/report.mjs BATCH_PATH
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const [batchPath] = process.argv.slice(2);
if (batchPath === undefined) {
  console.error('usage: node scripts/report.mjs BATCH_PATH');
  process.exit(2);
}
const read = async (name) => JSON.parse(await readFile(join(batchPath, 'outputs', `${name}.json`), 'utf8'));
const triage = await read('triage');
const explain = await read('explain');
const out = join(batchPath, 'report.json');
const tmp = `${out}.${process.pid}.tmp`;
await writeFile(tmp, JSON.stringify({ finding: triage.reason, explanation: explain.text }, null, 2) + '\n');
await rename(tmp, out);
console.log(`wrote ${out}`);
