// A stand-in trainer, in Node: makes the next version of ADAPTER for BASE from the collected
// samples. The adapter file is deterministic (derived from the samples) and its quality figure
// grows with the number of distinct usable samples: score = 1 - 1 / (1 + n / 2), 3 decimals.
// The version folder <shared>/adapters/<base>/<adapter>/v<N>/ (adapter.gguf, meta.json) is
// written aside and renamed into place whole; BATCH_PATH/outputs/train.json names it
// ({"base", "adapter", "version", "score", "samples"}), for the evaluate and promote tasks.
// Run again for the same batch (a retry), it names the version it made before.
// Usage: node scripts/train.mjs BATCH_PATH BASE ADAPTER
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { baseFolder, readJson, sharedOf } from './mount.mjs';
import { writeWhole } from './write.mjs';

const [batch, base, adapter] = process.argv.slice(2);
if (!batch || !base || !adapter || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(adapter)) {
  console.error('usage: node scripts/train.mjs BATCH_PATH BASE ADAPTER (ADAPTER: letters, digits, _ . -)');
  process.exit(1);
}
const out = join(batch, 'outputs', 'train.json');
const folder = join(baseFolder(sharedOf(batch), base), adapter);
const before = await readJson(out);
if (before?.version) {
  console.log(JSON.stringify({ ok: true, again: before.version }));
  process.exit(0);
}
const text = await readFile(join(batch, 'samples.jsonl'), 'utf8');
const samples = new Set(text.split('\n').filter(Boolean));
const n = samples.size;
if (n === 0) {
  await writeWhole(out, JSON.stringify({ base, adapter, version: null, score: null, samples: 0 }) + '\n');
  console.log(JSON.stringify({ ok: true, trained: false, why: 'no samples' }));
  process.exit(0);
}
const score = Math.round((1 - 1 / (1 + n / 2)) * 1000) / 1000;
// 4 KiB of bytes chained from the samples' hash: the same samples make the same adapter.
const seed = createHash('sha256').update([...samples].sort().join('\n')).digest();
const blocks = [seed];
while (blocks.length < 128) blocks.push(createHash('sha256').update(blocks[blocks.length - 1]).digest());
const bytes = Buffer.concat(blocks);

await mkdir(folder, { recursive: true });
for (let attempt = 0; ; attempt++) {
  const taken = (await readdir(folder)).map((d) => /^v(\d+)$/.exec(d)?.[1]).filter(Boolean).map(Number);
  const version = `v${Math.max(0, ...taken) + 1}`;
  const tmp = join(folder, `.${version}.${process.pid}.tmp`);
  await mkdir(tmp, { recursive: true });
  await writeFile(join(tmp, 'adapter.gguf'), bytes);
  const meta = { base, adapter, version, file: 'adapter.gguf', created_at: new Date().toISOString(), score, batch: basename(batch) };
  await writeFile(join(tmp, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
  try {
    await rename(tmp, join(folder, version));
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    // Another trainer took this version number meanwhile: the next one.
    if ((err.code === 'ENOTEMPTY' || err.code === 'EEXIST') && attempt < 5) continue;
    throw err;
  }
  await writeWhole(out, JSON.stringify({ base, adapter, version, score, samples: n }) + '\n');
  console.log(JSON.stringify({ ok: true, version, score, samples: n }));
  break;
}
