// Writes the agent's heartbeat one at a time, in order: a claim, a finished worker and the
// cycle each write one, and two at once would both find (and report) a bad file in its place.
// Each write takes the next seq, which grows with every write of this life.
import { type HeartbeatInput, writeHeartbeat } from '../core/heartbeat.ts';
import type { MountPaths } from '../core/paths.ts';

export class HeartbeatWriter {
  /** The seq of the next write: set at start from the previous life's heartbeat. */
  seq = 0;
  private chain: Promise<void> = Promise.resolve();
  /** A write queued and not yet begun: later requests join it (it builds from the state of its turn). */
  private pending: Promise<void> | null = null;
  private lastAt = -Infinity;
  private build: (seq: number) => HeartbeatInput = () => {
    throw new Error('no heartbeat to write');
  };
  private readonly paths: MountPaths;
  /** Told what was in the heartbeat's place and had to be moved away. */
  private readonly onMovedAside: (what: string) => Promise<unknown>;
  private readonly minGapMs: number;

  /**
   * minGapMs: the least time between two writes' starts. A busy agent's claims, task starts
   * and finishes come tens of times a second; each write is a file, an fsync and a rename,
   * and the readers (brain, status) look at most a few times a second.
   */
  constructor(paths: MountPaths, onMovedAside: (what: string) => Promise<unknown>, minGapMs = 100) {
    this.paths = paths;
    this.onMovedAside = onMovedAside;
    this.minGapMs = minGapMs;
  }

  /** Queues a write of the heartbeat `build` makes for its seq, when the write before it is done; joins one already waiting. */
  write(build: (seq: number) => HeartbeatInput): Promise<void> {
    // The latest request's builder: a 'stopping' beat that joins a waiting write still says so.
    this.build = build;
    if (this.pending) return this.pending;
    const next = this.chain.then(async () => {
      const wait = this.lastAt + this.minGapMs - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      // From here on a request needs a write of its own: this one may have read the state already.
      this.pending = null;
      this.lastAt = performance.now();
      const movedAside = await writeHeartbeat(this.paths, this.build(this.seq++));
      if (movedAside) await this.onMovedAside(movedAside);
    });
    this.pending = next;
    this.chain = next.catch(() => {});
    return next;
  }
}
