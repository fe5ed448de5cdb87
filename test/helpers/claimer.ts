// A claiming process for the race test: claims every task it can from the queue and prints
// the ids it won as one JSON line. Many of these run at once against one folder. With a third
// argument `recorded AGENT` it claims as the agent does, the claim recorded in the same move.
import { mountPaths } from '../../agents/core/paths.ts';
import { TaskStore } from '../../agents/core/store.ts';
import { recordClaim } from '../../agents/gpu/claimPolicy.ts';

const root = process.argv[2]!;
const startAt = Number(process.argv[3] ?? '0');
const agent = process.argv[4] === 'recorded' ? process.argv[5]! : null;
const store = new TaskStore(mountPaths(root));
const won: string[] = [];
let lost = 0;
// Wait for the starting gun so every claimer races on the same files.
while (Date.now() < startAt) await new Promise((r) => setTimeout(r, 1));
for (;;) {
  const ids = await store.list('queue');
  if (ids.length === 0) break;
  for (const id of ids) {
    const ok = agent === null
      ? await store.claim(id)
      : (await store.claimRecorded(id, (cur) => recordClaim(cur, cur, agent, new Date().toISOString()))).won;
    if (ok) won.push(id);
    else lost += 1;
  }
}
process.stdout.write(JSON.stringify({ pid: process.pid, won, lost }) + '\n');
