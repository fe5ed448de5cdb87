// 4. Scale: the hop measurement again with a history of completed tasks of older batches on
// the mount, as a ratio to the empty mount, and the brain's memory there. Two cases: the
// realistic one (history archived per batch, as the brain leaves it) and the worst case (all
// of it left in tasks/complete/, as by archiving interrupted over and over: the brain moves it
// to the archive when it starts, timed here, before the chain). The reference is the same
// chain on the same mount just before the history is written: on a machine shared with other
// work, figures taken far apart differ more than the history makes them differ.
import { readdir, rm } from 'node:fs/promises';
import { measureHop, type HopResult } from './hop.ts';
import { moveHistoryToComplete, writeArchivedHistory } from './history.ts';
import { readMemory } from './procStat.ts';
import { makeMount, startRigSession } from './rigSession.ts';

export interface ScaleCase {
  /** empty: the same mount before the history is written, the reference measured minutes, not tens of minutes, apart. */
  where: 'empty' | 'archive' | 'complete';
  hop: HopResult;
  /** The brain's resident memory after the chain, and its peak over its life (VmHWM), MB. */
  brain_rss_mb: number | null;
  brain_peak_rss_mb: number | null;
  /** Launcher start to every agent's first heartbeat, seconds. */
  rig_start_s: number;
  /** complete/ only: launcher start until the brain had moved the whole history to the archive, seconds. */
  archive_s: number | null;
}

export interface ScaleResult {
  history_tasks: number;
  write_s: number;
  empty: ScaleCase;
  archived: ScaleCase;
  in_complete: ScaleCase;
}

async function runCase(shared: Awaited<ReturnType<typeof makeMount>>, where: ScaleCase['where'], tmp: string, links: number, timeoutMs: number): Promise<ScaleCase> {
  const t0 = Date.now();
  const session = await startRigSession(shared, 2);
  const rigStart = (Date.now() - t0) / 1000;
  try {
    let archiveS: number | null = null;
    if (where === 'complete') {
      while ((await readdir(shared.folders.complete)).length > 0) {
        if (Date.now() - t0 > timeoutMs) throw new Error(`the brain did not archive the history left in complete/ within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
      archiveS = (Date.now() - t0) / 1000;
    }
    const hop = await measureHop(session, tmp, links, timeoutMs);
    const brain = await session.pidOf('brain');
    const mem = brain === null ? null : await readMemory(brain);
    return { where, hop, brain_rss_mb: mem?.rssMb ?? null, brain_peak_rss_mb: mem?.peakRssMb ?? null, rig_start_s: rigStart, archive_s: archiveS };
  } finally {
    await session.stop();
  }
}

export async function measureScale(tmp: string, historyTasks: number, links: number, worstLinks: number, timeoutMs: number): Promise<ScaleResult> {
  const paths = await makeMount('forge-bench-scale-');
  try {
    const empty = await runCase(paths, 'empty', tmp, links, timeoutMs);
    const t0 = Date.now();
    const history = await writeArchivedHistory(paths, historyTasks, Math.min(1000, historyTasks));
    const writeS = (Date.now() - t0) / 1000;
    const archived = await runCase(paths, 'archive', tmp, links, timeoutMs);
    await moveHistoryToComplete(paths, history);
    const inComplete = await runCase(paths, 'complete', tmp, worstLinks, timeoutMs);
    return { history_tasks: historyTasks, write_s: writeS, empty, archived, in_complete: inComplete };
  } finally {
    await rm(paths.root, { recursive: true, force: true });
  }
}
