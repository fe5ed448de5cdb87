// Writes the agent's heartbeat one at a time, in order: a claim, a finished worker and the
// cycle each write one, and two at once would both find (and report) a bad file in its place.
// Each write takes the next seq, which grows with every write of this life.
import { type HeartbeatInput, writeHeartbeat } from '../core/heartbeat.ts';
import type { MountPaths } from '../core/paths.ts';

export class HeartbeatWriter {
  /** The seq of the next write: set at start from the previous life's heartbeat. */
  seq = 0;
  private chain: Promise<void> = Promise.resolve();
  private readonly paths: MountPaths;
  /** Told what was in the heartbeat's place and had to be moved away. */
  private readonly onMovedAside: (what: string) => Promise<unknown>;

  constructor(paths: MountPaths, onMovedAside: (what: string) => Promise<unknown>) {
    this.paths = paths;
    this.onMovedAside = onMovedAside;
  }

  /** Queues a write of the heartbeat `build` makes for its seq, when the write before it is done. */
  write(build: (seq: number) => HeartbeatInput): Promise<void> {
    const next = this.chain.then(async () => {
      const movedAside = await writeHeartbeat(this.paths, build(this.seq++));
      if (movedAside) await this.onMovedAside(movedAside);
    });
    this.chain = next.catch(() => {});
    return next;
  }
}
