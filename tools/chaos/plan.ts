// The plans the chaos run submits, generated from the seed. Every task runs scripts/step.mjs,
// which appends one line to {BATCH_PATH}/runs.log when it starts and one when it ends, so
// every real run of a task is on record whatever the rig believes:
//
//   <epoch ms> <task id> <attempt> <pid> START
//   <epoch ms> <task id> <attempt> <pid> END ok|fail
//
// Shape: a small chain (c1 -> c2 ...), a scan that writes a manifest and a foreach over it
// (item.1 ... item.N), a gather that waits for both, and a task that fails its first run on
// purpose (flaky) so the app-retry path runs too. Nothing fails for good: with max_attempts 3
// every batch must complete.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkPlan } from '../../agents/plan/load.ts';
import type { MountPaths } from '../../agents/core/paths.ts';
import type { Rng } from './prng.ts';

export interface ChaosPlanSpec {
  /** The plan folder's name on the mount, e.g. chaos-1. */
  name: string;
  /** Milliseconds each chain step sleeps; chain[i] is task c<i+1>. */
  chain: number[];
  scanMs: number;
  /** Milliseconds each foreach item sleeps; one child per entry. */
  items: number[];
  gatherMs: number;
  flakyMs: number;
}

/** What every run of a task appends to {BATCH_PATH}/runs.log (plain Node, no dependencies). */
export const STEP_SCRIPT = `// Chaos step: records its START and END in runs.log, sleeps, and does its mode's work.
import { appendFileSync, existsSync, renameSync, writeFileSync } from 'node:fs';
const [dir, ms, mode, arg] = process.argv.slice(2);
const id = process.env.FORGE_TASK_ID;
const attempt = process.env.FORGE_ATTEMPT;
const line = (what) => appendFileSync(dir + '/runs.log', Date.now() + ' ' + id + ' ' + attempt + ' ' + process.pid + ' ' + what + '\\n');
line('START');
await new Promise((r) => setTimeout(r, Number(ms)));
if (mode === 'scan') {
  const items = arg.split(',').map((m, i) => ({ id: 'i' + (i + 1), ms: Number(m) }));
  const tmp = dir + '/.manifest.json.' + process.pid + '.tmp';
  writeFileSync(tmp, JSON.stringify({ items }));
  renameSync(tmp, dir + '/manifest.json');
}
if (mode === 'fail-first') {
  const marker = dir + '/' + process.env.FORGE_TASK_NAME + '.failed-once';
  if (!existsSync(marker)) {
    writeFileSync(marker, String(attempt));
    line('END fail');
    console.error('chaos: failing the first run on purpose');
    process.exit(3);
  }
}
line('END ok');
`;

export function makePlanSpec(rng: Rng, name: string, opts: { maxItems: number }): ChaosPlanSpec {
  const ms = () => rng.int(50, 600);
  // Half the batches start with a long step: long enough to outlive an agent's restart, so
  // that what a new life does with its previous life's processes is tested too.
  const first = rng.chance(0.5) ? rng.int(2000, 7000) : ms();
  return {
    name,
    chain: [first, ...Array.from({ length: rng.int(1, 2) }, ms)],
    scanMs: ms(),
    items: Array.from({ length: rng.int(2, opts.maxItems) }, ms),
    gatherMs: ms(),
    flakyMs: ms(),
  };
}

/** Task names of a batch of this plan once expanded, batch_summary included. */
export function expectedTaskNames(spec: ChaosPlanSpec): string[] {
  return [
    ...spec.chain.map((_, i) => `c${i + 1}`),
    'scan',
    'item',
    ...spec.items.map((_, i) => `item.${i + 1}`),
    'gather',
    'flaky',
    'batch_summary',
  ];
}

export function planMarkdown(spec: ChaosPlanSpec): string {
  const task = (name: string, command: string, extra: string[] = []) =>
    [`### ${name}`, '- **task_class**: cpu', `- **command**: \`${command}\``, '- **timeout_s**: 60', ...extra, ''].join('\n');
  const step = (ms: number | string, mode: string, arg?: string) =>
    `node scripts/step.mjs {BATCH_PATH} ${ms} ${mode}${arg ? ` ${arg}` : ''}`;
  const chain = spec.chain.map((ms, i) => task(`c${i + 1}`, step(ms, 'ok'), i ? [`- **depends_on**: c${i}`] : []));
  return [
    `# Chaos ${spec.name}`,
    '',
    '## Goal',
    'Every run of every task is recorded in {BATCH_PATH}/runs.log, so the chaos checker can',
    'compare what really ran with what the rig recorded.',
    '',
    '## Tasks',
    '',
    ...chain,
    task('scan', step(spec.scanMs, 'scan', spec.items.join(','))),
    task('item', step('{ITEM.ms}', 'ok'), ['- **depends_on**: scan', '- **foreach**: {BATCH_PATH}/manifest.json:items']),
    task('gather', step(spec.gatherMs, 'ok'), [`- **depends_on**: item, c${spec.chain.length}`]),
    task('flaky', step(spec.flakyMs, 'fail-first')),
  ].join('\n');
}

/** Writes the plan folder under <shared>/plans/<name>/ and checks it as submit would. */
export async function writeChaosPlan(paths: MountPaths, spec: ChaosPlanSpec): Promise<string> {
  const dir = join(paths.plans, spec.name);
  await mkdir(join(dir, 'scripts'), { recursive: true });
  await writeFile(join(dir, 'plan.md'), planMarkdown(spec));
  await writeFile(join(dir, 'scripts', 'step.mjs'), STEP_SCRIPT);
  const { problems } = await checkPlan(dir, {});
  if (problems.length) throw new Error(`the generated chaos plan ${spec.name} is invalid (a bug in tools/chaos/plan.ts):\n${problems.join('\n')}`);
  return dir;
}
