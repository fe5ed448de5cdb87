// A claiming process for the race test: claims every task it can from the queue and prints
// the ids it won as one JSON line. Many of these run at once against one folder.
import { mountPaths } from '../../agents/core/paths.ts';
import { TaskStore } from '../../agents/core/store.ts';

const root = process.argv[2]!;
const startAt = Number(process.argv[3] ?? '0');
const store = new TaskStore(mountPaths(root));
const won: string[] = [];
let lost = 0;
// Wait for the starting gun so every claimer races on the same files.
while (Date.now() < startAt) await new Promise((r) => setTimeout(r, 1));
for (;;) {
  const ids = await store.list('queue');
  if (ids.length === 0) break;
  for (const id of ids) {
    if (await store.claim(id)) won.push(id);
    else lost += 1;
  }
}
process.stdout.write(JSON.stringify({ pid: process.pid, won, lost }) + '\n');
