// The cross-host fan-out bed: the brain on host A, agents on hosts B and C, each host its own
// sshfs client of one exported folder with NFS-like caches (names and attributes 3 s), so no
// file event crosses hosts and every host's listings lag. A fan-out plan (100 items unless told)
// whose every run leaves one ledger file; the ledger is read in the server's own folder, which no
// client cache sits in front of. Used by test/crosshost/netfs.test.ts and test/long/netfs-faults.test.ts.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MountPaths } from '../../agents/core/paths.ts';
import { readDecisionLines } from '../../agents/core/spool.ts';
import { type AcrossHosts, startAcrossHosts } from '../../tools/bench/netfs.ts';
import { submitPlan, waitFor, waitForBatchEnd } from '../../tools/harness/runRig.ts';
import { startTestBed, type TestBed } from './netfs.ts';
import { TEST_WORKERS } from './rig.ts';

/** Items of the fan-out unless startFanout is told otherwise. */
export const ITEMS = 100;

const renderPlan = (items: number) => `# Netfs fan-out

## Goal
${items} items, each one run recorded in the batch's ledger folder.

## Tasks

### scan
- **task_class**: cpu
- **command**: \`node scripts/scan.mjs {BATCH_PATH} ${items}\`
- **timeout_s**: 60

### item
- **task_class**: cpu
- **command**: \`sh scripts/item.sh {BATCH_PATH} {ITEM.id} {ITEM.s}\`
- **depends_on**: scan
- **foreach**: {BATCH_PATH}/manifest.json:items
- **timeout_s**: 60
`;

const SCAN = `import { writeFileSync, renameSync } from 'node:fs';
const [dir, n] = process.argv.slice(2);
const items = Array.from({ length: Number(n) }, (_, i) => ({ id: 'i' + String(i + 1).padStart(3, '0'), s: (0.05 + ((i * 37) % 100) / 1000).toFixed(3) }));
writeFileSync(dir + '/.manifest.tmp', JSON.stringify({ items }));
renameSync(dir + '/.manifest.tmp', dir + '/manifest.json');
`;

// One file per run, created when the run starts; "end" is added when it ends well. A shell
// script, not node: 300 runs of a node script cost the two cores more than the rig does.
const ITEM = `#!/bin/sh
set -e
mkdir -p "$1/ledger"
file="$1/ledger/$2.$$.$(hostname)"
echo "start $FORGE_TASK_ID attempt $FORGE_ATTEMPT" > "$file"
sleep "$3"
echo "end" >> "$file"
`;

export type Runs = Map<string, { ended: boolean; host: string }[]>;

export interface Fanout {
  bed: TestBed;
  rig: AcrossHosts;
  server: MountPaths;
  /** Submits the plan, runs `during` mid-way, waits for the batch to complete; every item ran and one run of each ended. */
  runBatch(during?: (batchId: string) => Promise<void>): Promise<{ batchId: string; runs: Runs; twice: string[]; why: string }>;
  /** What the decision log and the task folders say of these items, for a failure's message. */
  story(batchId: string, items: string[]): Promise<string>;
  /** Waits until `n` items of the batch have started, so that what follows happens mid-batch. */
  itemsStarted(batchId: string, n: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startFanout(o: { items?: number } = {}): Promise<Fanout> {
  const items = o.items ?? ITEMS;
  const bed = await startTestBed({ hosts: ['A', 'B', 'C'], profile: 'nfs' });
  const rig = await startAcrossHosts(bed, {
    gpus: 4,
    config: {
      resource_limits: { max_workers: 4 },
      workers: TEST_WORKERS,
      cycles: { internal_s: 1, external_s: 1 },
      // Well above the NFS-like profile's caches (3 s, up to 7 s stacked): less would presume agents
      // dead whose heartbeats this host's cache keeps showing old (docs/DEPLOY.md).
      timeouts: { heartbeat_stale_s: 10 },
    },
    onExit: (host, args, how, stderr) => {
      if (how !== 'SIGKILL') process.stderr.write(`rig ${args.join(' ')} on ${host} ended (${how}):\n${stderr}\n`);
    },
  });
  const server = rig.server;
  const plan = join(server.plans, 'netfs-fan');
  await mkdir(join(plan, 'scripts'), { recursive: true });
  await writeFile(join(plan, 'plan.md'), renderPlan(items));
  await writeFile(join(plan, 'scripts', 'scan.mjs'), SCAN);
  await writeFile(join(plan, 'scripts', 'item.sh'), ITEM);

  /** The ledger of a batch: item -> its runs, each with whether it ended. */
  const ledger = async (batchId: string): Promise<Runs> => {
    const dir = join(server.plans, 'netfs-fan', 'batches', batchId, 'ledger');
    const runs = new Map<string, { ended: boolean; host: string }[]>();
    for (const name of await readdir(dir)) {
      const [item, , host] = name.split('.');
      const text = await readFile(join(dir, name), 'utf8');
      runs.set(item!, [...(runs.get(item!) ?? []), { ended: /\nend\n/.test(text), host: host! }]);
    }
    return runs;
  };

  const runBatch = async (during?: (batchId: string) => Promise<void>): Promise<{ batchId: string; runs: Runs; twice: string[]; why: string }> => {
    const batchId = await submitPlan(server.root, 'netfs-fan');
    if (during) await during(batchId);
    const rec = await waitForBatchEnd(server, batchId, 240_000);
    assert.equal(rec.state, 'complete', `batch ${batchId}: ${JSON.stringify(rec.final_counts)}`);
    const runs = await ledger(batchId);
    assert.equal(runs.size, items, 'every item ran');
    for (const [item, r] of runs) assert.ok(r.some((x) => x.ended), `item ${item} finished a run`);
    const twice = [...runs].filter(([, r]) => r.length !== 1).map(([i]) => i);
    return { batchId, runs, twice, why: await story(batchId, twice) };
  };

  /** What the decision log (and the spool not merged yet) says of these items, for a failure's message. */
  const story = async (batchId: string, items: string[]): Promise<string> => {
    if (!items.length) return '';
    const ids = items.map((i) => `${batchId}__item.${Number(i.slice(1))}`);
    const lines = await readDecisionLines(server);
    // Where each task's files are on the server now, temporary ones included.
    const where: string[] = [];
    for (const dir of [...Object.values(server.folders), join(server.tasks, 'late_results'), join(server.tasks, 'archive', batchId), join(server.root, 'quarantine'), join(server.root, 'quarantine', 'processing'), join(server.root, 'quarantine', 'queue')]) {
      for (const name of await readdir(dir).catch(() => [] as string[])) if (ids.some((id) => name.includes(id + '.'))) where.push(`${dir.slice(server.root.length + 1)}/${name}`);
    }
    // Every line naming the task (a quarantine names its file, not the task), and the rig's recoveries.
    return '\n' + lines.filter((l) => ids.some((id) => l.includes(id)) || /TAKEOVER|RECOVER|BAD_FILE|ORPHAN|LOST/.test(l)).join('\n') + '\nfiles: ' + where.join(', ');
  };

  /** Waits until `n` items of the batch have started, so that what follows happens mid-batch. */
  const itemsStarted = async (batchId: string, n: number): Promise<void> => {
    await waitFor(`${n} items of ${batchId} to start`, async () => {
      const names = await readdir(join(server.plans, 'netfs-fan', 'batches', batchId, 'ledger')).catch(() => []);
      return names.length >= n;
    }, 120_000, 100);
  };

  return { bed, rig, server, runBatch, story, itemsStarted, stop: () => rig.stop() };
}
