// Brain entry point: node --import tsx agents/brain/main.ts [--shared DIR]
import { watch } from 'node:fs';
import { parseCommand } from '../core/args.ts';
import { systemClock } from '../core/clock.ts';
import { loadConfigOrExit } from '../core/config.ts';
import { errorMessage } from '../core/errors.ts';
import { EXIT_REFUSED, startDaemon } from '../core/lifecycle.ts';
import { Ticker } from '../core/loop.ts';
import { ensureMount, mountPaths } from '../core/paths.ts';
import { BellReader, Doorbell, LOCAL_BELL_EVERY_MS, startBellWatch } from '../core/doorbell.ts';
import { Brain } from './brain.ts';
import { MERGE_BUSY_MS, mergePaceMs } from './spoolMergeRules.ts';
import { requestsDir } from '../core/request.ts';
import { BrainLockedError, acquireBrainLock } from './lock.ts';

const { values, shared } = parseCommand('usage: brain [--shared DIR] [--config FILE]', { config: { type: 'string' } });
const paths = mountPaths(shared);
const configFile = values.config ?? paths.config;
const config = await loadConfigOrExit(configFile);
await ensureMount(paths);
const daemon = startDaemon('brain');
let lock;
try {
  // A lease held by a brain on another host (or a frozen one here) is taken over once its seq
  // has not moved for heartbeat_stale_s on this brain's clock; until then this start waits.
  lock = await acquireBrainLock(paths, (err) => void daemon.stop(`lost the brain lock: ${err.message}`), {
    staleMs: config.timeouts.heartbeat_stale_s * 1000,
    say: daemon.log,
  });
} catch (err) {
  process.stderr.write(`brain: ${errorMessage(err)}\n`);
  process.exit(err instanceof BrainLockedError ? EXIT_REFUSED : 1);
}
daemon.onStop(() => lock.release());
// A submitted plan is checked in a worker thread; when the check ends, a pass takes its result.
let ticker: Ticker | null = null;
const bell = new Doorbell(paths.doorbells, 'brain', (err) => daemon.log(`doorbell not rung: ${errorMessage(err)}`));
await bell.announce();
const brain = new Brain({ paths, config, clock: systemClock, say: daemon.log, wake: () => ticker?.poke(), bell });
if (lock.previousPid !== null) await brain.store.recoverInterrupted(lock.previousPid);
if (lock.tookOver) await brain.note('TAKEOVER', lock.tookOver);
await brain.recover();
ticker = new Ticker(async () => {
  await brain.pass();
  // Nothing on the mount announces tasks the pass itself made: they are released by the next pass, now.
  if (brain.followUp) ticker?.poke();
}, {
  intervalMs: config.cycles.internal_s * 1000,
  // A pass reads every task folder and walks every task of the active batches: with many tasks
  // on the way, the events of up to 100 ms share one pass; a lone task (a chain) waits ~10 ms at most.
  minGapMs: () => Math.min(100, 12 * brain.inFlight),
  onError: (err) => daemon.log(`pass failed: ${err instanceof Error ? err.stack : String(err)}`),
});
daemon.onStop(() => ticker?.stop());
// Events only make the reaction faster; the periodic pass is the source of truth (NFS sends no events).
// The agents' doorbells: a task finished (or returned to queue/) on another host is seen within
// doorbell_s; on an idle rig (nothing in flight, nothing moved for a while) within a few seconds,
// and at once again after the first local event or release of its own (doorbell.ts nextLookMs).
const bells = startBellWatch(new BellReader({ dir: paths.doorbells, self: 'brain', now: () => performance.now(), localEveryMs: LOCAL_BELL_EVERY_MS }), brain.store, {
  intervalMs: config.cycles.doorbell_s * 1000,
  wake: (news) => {
    if (news.rescan || news.moved.some((e) => e.to === 'complete' || e.to === 'failed')) ticker.poke();
  },
  onError: (err) => daemon.log(`doorbells: ${errorMessage(err)}`),
  busy: () => brain.inFlight > 0,
  ownMoves: () => bell.seq,
});
daemon.onStop(() => bells.stop());
// fs.watch on each folder itself: chokidar keeps a watcher per file and re-reads the whole
// folder on every event, which cost seconds per event with 10^5 files in complete/.
// requests/: a realtime question (forge ask) is taken at once.
const watchers = [paths.folders.complete, paths.folders.failed, paths.inbox, paths.approvals, requestsDir(paths)].map((dir) => {
  const w = watch(dir, () => {
    ticker.poke();
    bells.stir();
  });
  w.on('error', () => {});
  return w;
});
// Claims matter only while a batch holds tasks back for release.max_queued: then each frees room
// in queue/. Bells name no claims: on another host the next finish or periodic pass refills.
const claims = watch(paths.folders.processing, () => {
  if (brain.holdsReleases) ticker?.poke();
});
claims.on('error', () => {});
watchers.push(claims);
daemon.onStop(() => {
  for (const w of watchers) w.close();
});
// Lines the launchers, agents and doctor wrote on any host reach brain_decisions.log within about a
// second: this host's at once (a file event in the spool folders starts a round), another host's
// by the timed rounds, every second while the rig has work and every few seconds on an idle rig
// (spoolMergeRules.ts mergePaceMs; within 10 s when the mount's cached stat hides an append: logMerge.ts).
// A brain starts idle: its own start-up lines go straight into the log, not through the spool.
let linesAt = -Infinity;
// A round refused (the pass merged less than a second ago, or is merging) is tried again a second later.
let refused = false;
const merges = new Ticker(
  async () => {
    const round = await brain.mergeLogs();
    refused = round === null;
    if (round && (round.lines > 0 || round.samples > 0)) linesAt = performance.now();
  },
  {
    intervalMs: () => mergePaceMs(brain.inFlight > 0, performance.now() - linesAt, refused),
    minGapMs: MERGE_BUSY_MS,
    onError: (err) => daemon.log(`merging logs: ${errorMessage(err)}`),
  },
);
const spoolWatchers = [paths.spoolDecisions, paths.spoolSamples].map((dir) => {
  const w = watch(dir, () => merges.poke());
  w.on('error', () => {});
  return w;
});
merges.start();
daemon.onStop(() => {
  for (const w of spoolWatchers) w.close();
  return merges.stop();
});
ticker.start();
daemon.log(`running on ${paths.root} (pid ${process.pid})`);
