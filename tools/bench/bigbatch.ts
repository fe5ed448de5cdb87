// 9. A big batch: one foreach over a manifest of N no-op cpu items, far over foreach.window,
// on a fresh rig of its own. What a big fan-out costs the rig: the time to the first item's
// claim (the whole manifest is checked first), the brain's memory (windows keep it bounded),
// `forge status --json` while it runs, the release and completion rates, and that every item
// ran exactly once (read back from the batch's archive).
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readBatchRecord, readBrainState } from '../../agents/core/batch.ts';
import { loadConfig } from '../../agents/core/config.ts';
import { parseDecisionLine } from '../../agents/core/decisionLog.ts';
import type { MountPaths } from '../../agents/core/paths.ts';
import { submitPlan, waitFor } from '../harness/runRig.ts';
import { timeStatusJson } from './idle.ts';
import { readMemory } from './procStat.ts';
import { makeMount, startRigSession } from './rigSession.ts';
import { median } from './stats.ts';

export interface BigbatchOptions {
  items: number;
  gpus: number;
  /** Stop after this many seconds of running (figures so far, done_once null); null: run to the end. */
  limitS: number | null;
  timeoutMs: number;
  /** Seconds between `forge status --json` samples while it runs. */
  statusEveryS: number;
  say: (line: string) => void;
}

export interface BigbatchResult {
  items: number;
  window: number;
  gpus: number;
  /** The batch ended (complete or failed); false when the time limit stopped the run first. */
  finished: boolean;
  state: string | null;
  /** Submit to the first CLAIM of an item (the manifest task's run and the expansion included), s. */
  first_claim_s: number | null;
  /** Submit to the claim of the task that writes the manifest, s: what the first item's wait is made of. */
  manifest_claim_s: number | null;
  /** RELEASE lines of items over their span (first to last), per s. */
  release_per_s: number | null;
  releases: number;
  /** VmHWM of the brain, MB: the highest of the samples taken while it ran and at the end. */
  brain_rss_peak_mb: number | null;
  /** VmRSS at the end, MB. */
  brain_rss_end_mb: number | null;
  /** Median of the samples' medians of `forge status --json`, wall ms. */
  status_ms: number | null;
  status_samples: Array<{ at_s: number; median_ms: number; p90_ms: number; runs: number; node_ms: number }>;
  /** The median of the samples' bare `node -e 0` times, taken beside each status run: what starting any node command costs on the machine then. */
  status_node_ms: number | null;
  /** How bin/forge ran at the last sample: from its bundle, or through tsx (a source changed since the build: far slower). */
  status_via: string | null;
  /** Items completed over the busy window (first item claim to last item end), per s. */
  tasks_per_s: number | null;
  busy_s: number | null;
  /** Submit to the batch's end, s (null when stopped first). */
  end_to_end_s: number | null;
  /** Every item's child archived exactly once with a successful result; null when not finished. */
  done_once: boolean | null;
  archive: { children: number; distinct_items: number; missing: number; duplicates: number; not_success: number } | null;
  /**
   * On every run, ended or stopped: no item claimed or done twice by the decision log, no archived
   * child repeated or unsuccessful. What a run stopped by its limit can show of "exactly once".
   */
  done_once_so_far: boolean | null;
  runs_so_far: ItemRuns & { archived: number; archived_duplicates: number; archived_not_success: number } | null;
}

const TEMPLATE = 'work';

/** The plan (pure): a task that writes the manifest, then a foreach of `true` over it. */
export function renderBigbatchPlan(items: number): string {
  return [
    `# Bench: a foreach of ${items} items`,
    '',
    '## Goal',
    'A big fan-out of no-op cpu items: what it costs the rig.',
    '',
    '## Tasks',
    '',
    '### items',
    '- **task_class**: cpu',
    `- **command**: \`node scripts/items.mjs ${items} {BATCH_PATH}/manifest.json\``,
    '',
    `### ${TEMPLATE}`,
    '- **task_class**: cpu',
    '- **command**: `true`',
    '- **depends_on**: items',
    '- **foreach**: {BATCH_PATH}/manifest.json:items',
    '',
  ].join('\n');
}

// Written whole (temp + rename): the brain reads the manifest as soon as the task completes.
const ITEMS_SCRIPT = `import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
const [n, out] = process.argv.slice(2);
const items = Array.from({ length: Number(n) }, (_, i) => ({ n: i }));
await mkdir(dirname(out), { recursive: true });
await writeFile(out + '.tmp', JSON.stringify({ items }));
await rename(out + '.tmp', out);
`;

async function writeBigbatchPlan(dir: string, items: number): Promise<string> {
  const planDir = join(dir, `bench-bigbatch-${items}`);
  await mkdir(join(planDir, 'scripts'), { recursive: true });
  await writeFile(join(planDir, 'plan.md'), renderBigbatchPlan(items));
  await writeFile(join(planDir, 'scripts', 'items.mjs'), ITEMS_SCRIPT);
  return planDir;
}

/** The decision log and its rotated files, oldest first. */
async function readDecisionLines(paths: MountPaths): Promise<string[]> {
  const texts: string[] = [];
  for (let i = 9; i >= 1; i--) texts.push(await readFile(`${paths.decisionLog}.${i}`, 'utf8').catch(() => ''));
  texts.push(await readFile(paths.decisionLog, 'utf8').catch(() => ''));
  return texts.join('\n').split('\n');
}

export interface LogFigures {
  firstItemClaim: number | null;
  manifestClaim: number | null;
  releases: number;
  releaseSpanS: number | null;
}

/** CLAIM and RELEASE times of the batch's tasks (pure). */
export function logFigures(lines: readonly string[], batchId: string): LogFigures {
  const item = `${batchId}__${TEMPLATE}.`;
  const manifest = `${batchId}__items`;
  let firstItemClaim: number | null = null;
  let manifestClaim: number | null = null;
  let relFirst = Infinity;
  let relLast = -Infinity;
  let releases = 0;
  for (const line of lines) {
    const d = parseDecisionLine(line);
    if (!d?.task || (d.task.startsWith(item) && !/^\d+$/.test(d.task.slice(item.length)))) continue;
    if (d.what === 'CLAIM') {
      if (d.task.startsWith(item)) firstItemClaim = Math.min(firstItemClaim ?? Infinity, d.t);
      else if (d.task === manifest) manifestClaim = Math.min(manifestClaim ?? Infinity, d.t);
    } else if (d.what === 'RELEASE' && d.who === 'brain' && d.task.startsWith(item)) {
      releases++;
      relFirst = Math.min(relFirst, d.t);
      relLast = Math.max(relLast, d.t);
    }
  }
  return { firstItemClaim, manifestClaim, releases, releaseSpanS: releases > 1 ? (relLast - relFirst) / 1000 : null };
}

export interface ItemRuns {
  /** Items with a CLAIM line; of them, claimed more than once. */
  claimed: number;
  claimed_twice: number;
  /** Items with a DONE line (an attempt that succeeded); of them, done more than once. */
  done: number;
  done_twice: number;
}

/**
 * How often each item was claimed and done, by the decision log (pure). Item i's child is
 * <template>.<i+1> (childName); a number outside 1..items counts as twice.
 */
export function itemRuns(lines: readonly string[], batchId: string, items: number): ItemRuns {
  const item = `${batchId}__${TEMPLATE}.`;
  const claims = new Uint8Array(items);
  const dones = new Uint8Array(items);
  let outside = 0;
  for (const line of lines) {
    // The cheap test first: a 100,000-item run's log has millions of lines.
    if (!line.includes(item)) continue;
    const d = parseDecisionLine(line);
    if (!d?.task?.startsWith(item) || (d.what !== 'CLAIM' && d.what !== 'DONE')) continue;
    const rest = d.task.slice(item.length);
    if (!/^\d+$/.test(rest)) continue;
    const i = Number(rest) - 1;
    const into = d.what === 'CLAIM' ? claims : dones;
    if (i < 0 || i >= items) outside++;
    else into[i] = Math.min(255, into[i]! + 1);
  }
  const count = (a: Uint8Array, min: number) => a.reduce((n, x) => n + (x >= min ? 1 : 0), 0);
  return { claimed: count(claims, 1), claimed_twice: count(claims, 2) + outside, done: count(dones, 1), done_twice: count(dones, 2) };
}

export interface ArchivedChild {
  index: number | null;
  success: boolean;
  claimed: number | null;
  finished: number | null;
}

/** Exactly once (pure): each item index 0..items-1 archived once with a success. */
export function checkDoneOnce(children: readonly ArchivedChild[], items: number): NonNullable<BigbatchResult['archive']> & { ok: boolean } {
  const seen = new Uint32Array(items);
  let notSuccess = 0;
  let outside = 0;
  for (const c of children) {
    if (!c.success) notSuccess++;
    if (c.index === null || c.index < 0 || c.index >= items) outside++;
    else seen[c.index]!++;
  }
  let missing = 0;
  let duplicates = outside;
  let distinct = 0;
  for (const n of seen) {
    if (n === 0) missing++;
    else distinct++;
    if (n > 1) duplicates += n - 1;
  }
  return { children: children.length, distinct_items: distinct, missing, duplicates, not_success: notSuccess, ok: missing === 0 && duplicates === 0 && notSuccess === 0 };
}

/** The items' children in tasks/archive/<batch>/, read a few hundred at a time (only the fields needed). */
async function readArchivedChildren(paths: MountPaths, batchId: string): Promise<ArchivedChild[]> {
  const dir = join(paths.tasks, 'archive', batchId);
  // <template>.<n>.json: the template's own file (<template>.json) is not an item.
  const child = new RegExp(`^${batchId}__${TEMPLATE}\\.\\d+\\.json$`);
  const names = (await readdir(dir)).filter((n) => child.test(n));
  const out: ArchivedChild[] = [];
  const ms = (s: unknown) => (typeof s === 'string' ? Date.parse(s) : null);
  for (let i = 0; i < names.length; i += 256) {
    out.push(...(await Promise.all(names.slice(i, i + 256).map(async (n) => {
      const t = JSON.parse(await readFile(join(dir, n), 'utf8')) as { item_index?: number | null; claimed_at?: string | null; result?: { outcome?: string; finished_at?: string } | null };
      return { index: t.item_index ?? null, success: t.result?.outcome === 'success', claimed: ms(t.claimed_at), finished: ms(t.result?.finished_at) };
    }))));
  }
  return out;
}

export async function measureBigbatch(tmp: string, o: BigbatchOptions): Promise<BigbatchResult> {
  const plan = await writeBigbatchPlan(tmp, o.items);
  const paths = await makeMount('forge-bench-bigbatch-');
  const session = await startRigSession(paths, o.gpus, { removeOnStop: true });
  try {
    const window = (await loadConfig(session.paths.config)).foreach.window;
    const brain = await session.pidOf('brain');
    let peak: number | null = null;
    const sampleMemory = async () => {
      const m = brain === null ? null : await readMemory(brain);
      if (m) peak = Math.max(peak ?? 0, m.peakRssMb);
      return m;
    };
    const t0 = Date.now();
    const batchId = await submitPlan(paths.root, plan);
    const samples: BigbatchResult['status_samples'] = [];
    let via: string | null = null;
    // The first status sample one period in: three status runs at the submit would compete with
    // the manifest task and the first window on the same cores, and first claim is measured then.
    let nextStatus = Date.now() + o.statusEveryS * 1000;
    let state: string | null = null;
    let lastSay = Date.now();
    for (;;) {
      await sampleMemory();
      if (Date.now() >= nextStatus) {
        const s = await timeStatusJson(paths.root, 3);
        via = s.via;
        samples.push({ at_s: Math.round((Date.now() - t0) / 100) / 10, median_ms: s.median_ms, p90_ms: s.p90_ms, runs: s.runs, node_ms: s.node_ms });
        nextStatus = Date.now() + o.statusEveryS * 1000;
      }
      const rec = await readBatchRecord(paths, batchId);
      state = rec?.state ?? null;
      if (state && ['complete', 'failed', 'cancelled'].includes(state)) break;
      const ranS = (Date.now() - t0) / 1000;
      if (Date.now() - lastSay > 30_000) {
        const w = rec ? Object.values(rec.windows)[0] : undefined;
        o.say(`bench: bigbatch: ${ranS.toFixed(0)} s: ${w ? `${w.complete} of ${w.items} items complete, ${w.created} made` : 'expanding'}; brain peak ${peak === null ? '?' : (peak as number).toFixed(0)} MB`);
        lastSay = Date.now();
      }
      if (o.limitS !== null && ranS >= o.limitS) break;
      if (Date.now() - t0 > o.timeoutMs) throw new Error(`batch ${batchId} did not end within ${o.timeoutMs / 1000} s (state ${state})`);
      await sleep(1000);
    }
    const finished = state !== null && ['complete', 'failed', 'cancelled'].includes(state);
    const endS = (Date.now() - t0) / 1000;
    if (finished) {
      // The record says it ended before the brain archives the last files; state.json drops it after.
      await waitFor(`batch ${batchId} to be archived`, async () => !(await readBrainState(paths))?.active_batches.includes(batchId), 120_000, 200);
    }
    const end = await sampleMemory();
    const lines = await readDecisionLines(paths);
    const log = logFigures(lines, batchId);
    const r: BigbatchResult = {
      items: o.items, window, gpus: o.gpus, finished, state,
      first_claim_s: log.firstItemClaim === null ? null : (log.firstItemClaim - t0) / 1000,
      manifest_claim_s: log.manifestClaim === null ? null : (log.manifestClaim - t0) / 1000,
      release_per_s: log.releaseSpanS ? log.releases / log.releaseSpanS : null,
      releases: log.releases,
      brain_rss_peak_mb: peak, brain_rss_end_mb: end?.rssMb ?? null,
      status_ms: median(samples.map((s) => s.median_ms)), status_samples: samples, status_node_ms: median(samples.map((s) => s.node_ms)), status_via: via,
      tasks_per_s: null, busy_s: null, end_to_end_s: finished ? endS : null, done_once: null, archive: null,
      done_once_so_far: null, runs_so_far: null,
    };
    const children = await readArchivedChildren(paths, batchId).catch(() => [] as ArchivedChild[]);
    const ran = children.filter((c) => c.success && c.claimed !== null && c.finished !== null);
    if (ran.length) {
      // A loop, not Math.min(...): a spread of 100,000 arguments may overflow the stack.
      let first = Infinity;
      let last = -Infinity;
      for (const c of ran) {
        first = Math.min(first, c.claimed!);
        last = Math.max(last, c.finished!);
      }
      r.busy_s = (last - first) / 1000;
      r.tasks_per_s = r.busy_s > 0 ? ran.length / r.busy_s : null;
    }
    const runs = itemRuns(lines, batchId, o.items);
    const { ok, ...archive } = checkDoneOnce(children, o.items);
    r.runs_so_far = { ...runs, archived: archive.children, archived_duplicates: archive.duplicates, archived_not_success: archive.not_success };
    r.done_once_so_far = runs.claimed_twice === 0 && runs.done_twice === 0 && archive.duplicates === 0 && archive.not_success === 0;
    if (finished) {
      r.archive = archive;
      r.done_once = ok && state === 'complete';
    }
    return r;
  } finally {
    await session.stop();
  }
}
