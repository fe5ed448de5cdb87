// Checks that every video of the manifest has a result and combines them into OUT.
// Usage: node scripts/aggregate.mjs MANIFEST RESULTS_DIR OUT
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const [manifestFile, resultsDir, out] = process.argv.slice(2);
if (out === undefined) {
  console.error('usage: node scripts/aggregate.mjs MANIFEST RESULTS_DIR OUT');
  process.exit(1);
}
const { videos } = JSON.parse(await readFile(manifestFile, 'utf8'));
const results = [];
const missing = [];
for (const v of videos) {
  try {
    results.push(JSON.parse(await readFile(join(resultsDir, `${v.id}.json`), 'utf8')));
  } catch {
    missing.push(v.id);
  }
}
if (missing.length) {
  console.error(`${missing.length} of ${videos.length} videos have no result in ${resultsDir}: ${missing.join(', ')}`);
  process.exit(1);
}
const combined = { videos: results.length, words: results.reduce((n, r) => n + r.words, 0), transcripts: results };
const tmp = `${out}.${process.pid}.tmp`;
await writeFile(tmp, JSON.stringify(combined, null, 2) + '\n');
await rename(tmp, out);
console.log(JSON.stringify({ ok: true, wrote: out, videos: combined.videos, words: combined.words }));
