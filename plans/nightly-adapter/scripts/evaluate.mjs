// The verdict on the new version: better than the adapter current for BASE (its meta.json
// score), or there is none current. Writes BATCH_PATH/outputs/evaluate.json
// {"proceed": true|false, "reason": "...", "new": {...}, "current": {...}}: the plan's gate in
// front of the promotion. Exit 0 either way: "not better" is a verdict, not a failure.
// Usage: node scripts/evaluate.mjs BATCH_PATH BASE
import { join } from 'node:path';
import { baseFolder, normalizeBase, readJson, sharedOf } from './mount.mjs';
import { writeWhole } from './write.mjs';

const [batch, base] = process.argv.slice(2);
if (!batch || !base) {
  console.error('usage: node scripts/evaluate.mjs BATCH_PATH BASE');
  process.exit(1);
}
const shared = sharedOf(batch);
const trained = await readJson(join(batch, 'outputs', 'train.json'));
const currentFile = (await readJson(join(shared, 'adapters', 'current.json'))) ?? {};
const key = Object.keys(currentFile).find((k) => normalizeBase(k) === normalizeBase(base));
const cur = key ? currentFile[key] : null;
let curScore = null;
if (cur) curScore = (await readJson(join(baseFolder(shared, base), cur.adapter, cur.version, 'meta.json')))?.score ?? null;

let proceed;
let reason;
if (!trained?.version) {
  [proceed, reason] = [false, 'nothing was trained (no usable samples)'];
} else if (!cur) {
  [proceed, reason] = [true, `${trained.adapter} ${trained.version} scores ${trained.score}; no adapter is current for ${base}`];
} else if (curScore === null || trained.score > curScore) {
  [proceed, reason] = [true, `${trained.adapter} ${trained.version} scores ${trained.score}, better than the current ${cur.adapter} ${cur.version} (${curScore ?? 'no score'})`];
} else {
  [proceed, reason] = [false, `${trained.adapter} ${trained.version} scores ${trained.score}, not better than the current ${cur.adapter} ${cur.version} (${curScore})`];
}
const verdict = { proceed, reason, new: trained, current: cur ? { adapter: cur.adapter, version: cur.version, score: curScore } : null };
await writeWhole(join(batch, 'outputs', 'evaluate.json'), JSON.stringify(verdict, null, 2) + '\n');
console.log(JSON.stringify(verdict));
