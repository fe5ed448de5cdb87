// Writes the agent's heartbeat one at a time, in order: a claim, a finished worker and the
// cycle each write one, and two at once would both find (and report) a bad file in its place.
// Each write takes the next seq, which grows with every write of this life.
import { type HeartbeatInput, writeHeartbeat } from '../core/heartbeat.ts';
import type { MountPaths } from '../core/paths.ts';

/**
 * The least time between two writes' starts, ms, unless one is urgent. A busy agent's claims,
 * task starts and finishes come several times a second, each a file and a rename, while the
 * brain reads heartbeats about once a second and judges liveness over minutes. What must not
 * wait (the classes it accepts changed, its model, its stop) is written at once.
 */
export const HEARTBEAT_GAP_MS = 1000;

export class HeartbeatWriter {
  /** The seq of the next write: set at start from the previous life's heartbeat. */
  seq = 0;
  private chain: Promise<void> = Promise.resolve();
  /** A write queued and not yet begun: later requests join it (it builds from the state of its turn). */
  private pending: Promise<void> | null = null;
  /** Ends the pending write's wait for its gap (an urgent request joined it). */
  private hurry: (() => void) | null = null;
  private urgent = false;
  private lastAt = -Infinity;
  private build: (seq: number) => HeartbeatInput = () => {
    throw new Error('no heartbeat to write');
  };
  private readonly paths: MountPaths;
  /** Told what was in the heartbeat's place and had to be moved away. */
  private readonly onMovedAside: (what: string) => Promise<unknown>;
  private readonly minGapMs: number;
  private readonly now: () => number;

  constructor(paths: MountPaths, onMovedAside: (what: string) => Promise<unknown>, o: { minGapMs?: number; now?: () => number } = {}) {
    this.paths = paths;
    this.onMovedAside = onMovedAside;
    this.minGapMs = o.minGapMs ?? HEARTBEAT_GAP_MS;
    this.now = o.now ?? (() => performance.now());
  }

  /**
   * Queues a write of the heartbeat `build` makes for its seq, when the write before it is done
   * and minGapMs after the last one began (at once when `urgent`); joins one already waiting.
   */
  write(build: (seq: number) => HeartbeatInput, urgent = false): Promise<void> {
    // The latest request's builder: a 'stopping' beat that joins a waiting write still says so.
    this.build = build;
    if (urgent) {
      this.urgent = true;
      this.hurry?.();
    }
    if (this.pending) return this.pending;
    const next = this.chain.then(async () => {
      const wait = this.urgent ? 0 : this.lastAt + this.minGapMs - this.now();
      if (wait > 0) {
        await new Promise<void>((r) => {
          const timer = setTimeout(r, wait);
          this.hurry = () => (clearTimeout(timer), r());
        });
      }
      // From here on a request needs a write of its own: this one may have read the state already.
      this.pending = null;
      this.hurry = null;
      this.urgent = false;
      this.lastAt = this.now();
      const movedAside = await writeHeartbeat(this.paths, this.build(this.seq++));
      if (movedAside) await this.onMovedAside(movedAside);
    });
    this.pending = next;
    this.chain = next.catch(() => {});
    return next;
  }
}
