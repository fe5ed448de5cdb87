// Collects the day's training samples of one base model: the usable prompt/response pairs
// the rig wrote to <shared>/logs/training_samples.jsonl (the last 16 MiB of it), into
// BATCH_PATH/samples.jsonl, and their count into BATCH_PATH/outputs/collect.json.
// Usage: node scripts/collect.mjs BATCH_PATH BASE
import { join } from 'node:path';
import { normalizeBase, readTail, sharedOf } from './mount.mjs';
import { writeWhole } from './write.mjs';

const [batch, base] = process.argv.slice(2);
if (!batch || !base) {
  console.error('usage: node scripts/collect.mjs BATCH_PATH BASE');
  process.exit(1);
}
const text = await readTail(join(sharedOf(batch), 'logs', 'training_samples.jsonl'), 16 * 1024 * 1024);
const samples = [];
for (const line of text.split('\n')) {
  let s;
  try {
    s = JSON.parse(line);
  } catch {
    continue; // the first line of a tail may be cut
  }
  if (s && s.ok === true && typeof s.model === 'string' && normalizeBase(s.model) === normalizeBase(base)) {
    samples.push({ prompt: String(s.prompt), response: String(s.response) });
  }
}
await writeWhole(join(batch, 'samples.jsonl'), samples.map((s) => JSON.stringify(s) + '\n').join(''));
await writeWhole(join(batch, 'outputs', 'collect.json'), JSON.stringify({ base, samples: samples.length }) + '\n');
console.log(JSON.stringify({ ok: true, samples: samples.length }));
