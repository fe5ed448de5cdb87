// Non-overlapping ticks: a periodic timer that can also be poked to run at once.
// A poke during a run schedules exactly one more run, so events coalesce.

export interface TickerOptions {
  /** Milliseconds between runs when nothing pokes. */
  intervalMs: number | (() => number);
  /** Called with each error; the ticker keeps going. */
  onError: (err: unknown) => void;
  signal?: AbortSignal;
  /**
   * The least time from one run's start to the next when pokes come faster (default 0): under
   * load, pokes that arrive during a run or soon after it share one run instead of each paying
   * a whole pass. A poke after a quiet spell still runs at once.
   */
  minGapMs?: number | (() => number);
}

export class Ticker {
  private readonly fn: () => Promise<void>;
  private readonly opts: TickerOptions;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  /** performance.now() at the start of the last run. */
  private startedAt: number | null = null;
  /** A run is already set for the end of the gap. */
  private soon = false;

  constructor(fn: () => Promise<void>, opts: TickerOptions) {
    this.fn = fn;
    this.opts = opts;
    opts.signal?.addEventListener('abort', () => this.stop(), { once: true });
  }

  start(): void {
    this.poke();
  }

  /** Run as soon as possible (now, or right after the run in progress). */
  poke(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    const wait = this.gapLeft();
    if (wait > 0) {
      // Too soon after the last run: one run at the end of the gap takes every poke until then.
      if (!this.soon) {
        if (this.timer) clearTimeout(this.timer);
        this.soon = true;
        this.timer = setTimeout(() => {
          this.soon = false;
          this.timer = null;
          this.poke();
        }, wait);
      }
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.soon = false;
    this.running = this.run();
  }

  /** ms until minGapMs has passed since the last run started (0: may run now). */
  private gapLeft(): number {
    const g = this.opts.minGapMs ?? 0;
    const gap = typeof g === 'function' ? g() : g;
    if (gap <= 0 || this.startedAt === null) return 0;
    return Math.max(0, Math.ceil(gap - (performance.now() - this.startedAt)));
  }

  private async run(): Promise<void> {
    this.startedAt = performance.now();
    try {
      await this.fn();
    } catch (err) {
      this.opts.onError(err);
    }
    this.running = null;
    if (this.stopped) return;
    if (this.again) {
      this.again = false;
      // Yield to the event loop so a storm of pokes cannot starve I/O callbacks.
      this.timer = setTimeout(() => this.poke(), this.gapLeft());
      return;
    }
    const every = this.opts.intervalMs;
    this.timer = setTimeout(() => this.poke(), typeof every === 'function' ? every() : every);
  }

  /** Stops scheduling; resolves when the run in progress (if any) ends. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}
