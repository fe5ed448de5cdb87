// Writes the manifest of COUNT (simulated) videos. Usage: node scripts/scan.mjs COUNT MANIFEST
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

const [countText, out] = process.argv.slice(2);
const count = Number(countText);
if (out === undefined || !Number.isInteger(count) || count < 0) {
  console.error(`usage: node scripts/scan.mjs COUNT MANIFEST (COUNT a whole number >= 0); got ${JSON.stringify(process.argv.slice(2))}`);
  process.exit(1);
}
const width = String(Math.max(count, 1)).length;
const videos = Array.from({ length: count }, (_, i) => {
  const id = `v${String(i + 1).padStart(width, '0')}`;
  return { id, path: `videos/${id}.mp4` };
});
await mkdir(dirname(out), { recursive: true });
// Written whole or not at all: the brain reads it as soon as this task completes.
const tmp = `${out}.${process.pid}.tmp`;
await writeFile(tmp, JSON.stringify({ videos }, null, 2) + '\n');
await rename(tmp, out);
console.log(JSON.stringify({ ok: true, wrote: out, videos: count }));
