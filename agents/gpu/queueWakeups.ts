// What wakes the agent's claim pass before its period: a file event in queue/ (this host's
// own moves), and the brain's doorbell (a release made on another host: no file event crosses
// the mount, and this host's listing of queue/ may be seconds old).
import { watch } from 'node:fs';
import { isTempName } from '../core/atomic.ts';
import { BellReader, type BellWatch, type Doorbell, LOCAL_BELL_EVERY_MS, startBellWatch } from '../core/doorbell.ts';
import type { MountPaths } from '../core/paths.ts';
import type { TaskStore } from '../core/store.ts';

export interface QueueWakeupOptions {
  paths: MountPaths;
  store: TaskStore;
  /** The agent's own doorbell, announced so the brain reads it. */
  bell: Doorbell;
  /** How often the brain's doorbell is read, seconds (cycles.doorbell_s). */
  doorbellS: number;
  poke: () => void;
  onError: (err: unknown) => void;
  /** Whether the agent has work (running or queued): then the brain's bell is never read at the idle pace. */
  busy: () => boolean;
}

export interface QueueWakeups {
  stop(): Promise<void>;
}

export async function watchQueue(o: QueueWakeupOptions): Promise<QueueWakeups> {
  // fs.watch on the folder itself (chokidar re-reads the whole folder on every event).
  let bells: BellWatch | null = null;
  const watcher = watch(o.paths.folders.queue, (_event, name) => {
    if (name !== null && isTempName(String(name))) return;
    o.poke();
    bells?.stir();
  });
  watcher.on('error', () => {});
  await o.bell.announce();
  // An idle agent reads the bell every few seconds; its own moves and the first file event here bring the pace back (doorbell.ts nextLookMs).
  bells = startBellWatch(new BellReader({ dir: o.paths.doorbells, sources: ['brain'], now: () => performance.now(), localEveryMs: LOCAL_BELL_EVERY_MS }), o.store, {
    intervalMs: o.doorbellS * 1000,
    wake: (news) => {
      if (news.rescan || news.moved.some((e) => e.to === 'queue')) o.poke();
    },
    onError: o.onError,
    busy: o.busy,
    ownMoves: () => o.bell.seq,
  });
  return {
    async stop() {
      watcher.close();
      await bells?.stop();
    },
  };
}
