// Across machines, on the fan-out bed (test/helpers/netfsFanout.ts): a 40-item fan-out must
// complete with every item run, and run once; the brain's log holds every line the other hosts
// wrote. With an agent killed, and with the brain's host lost mid-batch:
// test/long/netfs-faults.test.ts, in npm run test:long.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from '../../tools/harness/runRig.ts';
import { netfsMissing } from '../helpers/netfs.ts';
import { type Fanout, startFanout } from '../helpers/netfsFanout.ts';

const missing = netfsMissing();
let fan: Fanout;

before(async () => {
  // 40 items keep both agent hosts claiming side by side for many rounds; the long tests run 100.
  if (!missing) fan = await startFanout({ items: 40 });
});

after(async () => {
  await fan?.stop();
});

test('a 40-item fan-out across three hosts: every item run exactly once', { skip: missing ?? false }, async () => {
  const { runs, twice, why } = await fan.runBatch();
  assert.deepEqual(twice, [], `no item ran twice${why}`);
  const hosts = new Set([...runs.values()].flat().map((r) => r.host));
  assert.deepEqual([...hosts].sort(), ['B', 'C'], 'both agent hosts did work');
});

test('the decision log read on A holds every line the agents on B and C wrote, none cut', { skip: missing ?? false }, async () => {
  const spool = join(fan.server.logs, 'spool', 'decisions');
  const written: string[] = [];
  for (const name of await readdir(spool)) {
    if (!/\.(B|C)\.\d+\.log$/.test(name)) continue;
    written.push(...(await readFile(join(spool, name), 'utf8')).split('\n').filter(Boolean));
  }
  assert.ok(written.length >= 8, `agents on B and C wrote ${written.length} lines`);
  await waitFor('every line of B and C in the log as A reads it', async () => {
    const r = await fan.bed.exec('A', 'cat', [join(fan.bed.mount, 'logs', 'brain_decisions.log')]);
    const lines = new Set(r.stdout.split('\n'));
    return written.every((l) => lines.has(l));
  }, 20_000, 500);
});
