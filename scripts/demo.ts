// forge demo [--plan NAME] [--gpus N] [--keep] (npm run demo -- ...)
// Starts the rig on simulated GPUs in a temporary mount, submits an example plan, shows its
// progress, prints the batch's final state and exits 0 when it completed.
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseStrict, usageError } from '../agents/core/args.ts';
import { mountPaths } from '../agents/core/paths.ts';
import { projectRoot } from '../agents/core/entry.ts';
import { TaskStore } from '../agents/core/store.ts';
import { batchOfTaskId } from '../agents/core/batch.ts';
import { freePortRange } from '../tools/harness/ports.ts';
import { startRig, submitPlan, waitForAgents, waitForBatchEnd } from '../tools/harness/runRig.ts';

const usage = `usage: forge demo [--plan NAME] [--gpus N] [--keep]
  --plan NAME  an example plan under plans/ (default video)
  --gpus N     simulated GPUs, 1 to 16 (default 3)
  --keep       keep the temporary mount afterwards
  -h, --help   print this help and exit
The demo runs in a temporary mount of its own (it takes no --shared).`;
const refuse = (message: string): never => usageError(usage, message);
const { values } = parseStrict(usage, { plan: { type: 'string', default: 'video' }, gpus: { type: 'string', default: '3' }, keep: { type: 'boolean', default: false } }, undefined, { positionals: { max: 0 } });
const gpus = Number(values.gpus);
if (!/^\d+$/.test(values.gpus!) || gpus < 1 || gpus > 16) refuse(`--gpus ${values.gpus}: expected a whole number from 1 to 16`);
if (!/^[A-Za-z0-9._-]+$/.test(values.plan!) || !existsSync(join(projectRoot, 'plans', values.plan!, 'plan.md'))) {
  refuse(`--plan ${values.plan}: no plans/${values.plan}/plan.md; the examples: ${readdirSync(join(projectRoot, 'plans')).filter((d) => existsSync(join(projectRoot, 'plans', d, 'plan.md'))).join(', ')}`);
}
const shared = await mkdtemp(join(tmpdir(), 'forge-demo-'));
const paths = mountPaths(shared);
const basePort = await freePortRange(gpus);
const say = (s: string) => process.stdout.write(s + '\n');

say(`demo: temporary mount ${shared}`);
say(`demo: starting the rig on ${gpus} simulated GPUs (Ollama on ports ${basePort}..${basePort + gpus - 1})`);
const rig = startRig(shared, gpus, basePort, { quiet: true });
let code = 1;
try {
  await waitForAgents(paths, Array.from({ length: gpus }, (_, i) => i), 60_000);
  say('demo: all agents are up');
  const planDir = join(projectRoot, 'plans', values.plan!);
  const batchId = await submitPlan(shared, planDir);
  say(`demo: submitted plans/${values.plan} as batch ${batchId}`);
  const store = new TaskStore(paths);
  let last = '';
  const rec = await waitForBatchEnd(paths, batchId, 10 * 60_000, () => {
    void (async () => {
      const counts: Record<string, number> = {};
      for (const f of ['private', 'queue', 'processing', 'complete', 'failed'] as const) {
        counts[f] = (await store.list(f)).filter((id) => batchOfTaskId(id) === batchId).length;
      }
      const line = `waiting ${counts.private}  queued ${counts.queue}  running ${counts.processing}  complete ${counts.complete}  failed ${counts.failed}`;
      if (line !== last) say(`demo: ${line}`);
      last = line;
    })();
  });
  const c = rec.final_counts;
  say(`demo: ${c ? `${c.complete} of ${c.total} tasks complete, ${c.failed} failed` : ''}`);
  if (rec.summary_path) say(`demo: summary ${rec.summary_path}\n${await readFile(rec.summary_path, 'utf8').catch(() => '')}`);
  say(`demo: last decisions:\n${(await readFile(paths.decisionLog, 'utf8')).trim().split('\n').slice(-8).join('\n')}`);
  say(rec.state);
  code = rec.state === 'complete' ? 0 : 1;
} catch (err) {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
} finally {
  rig.kill('SIGTERM');
  await rig;
  if (!values.keep) await rm(shared, { recursive: true, force: true });
  else say(`demo: kept ${shared}`);
}
process.exit(code);
