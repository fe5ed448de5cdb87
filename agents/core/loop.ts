// Non-overlapping ticks: a periodic timer that can also be poked to run at once.
// A poke during a run schedules exactly one more run, so events coalesce.

export interface TickerOptions {
  /** Milliseconds between runs when nothing pokes. */
  intervalMs: number;
  /** Called with each error; the ticker keeps going. */
  onError: (err: unknown) => void;
  signal?: AbortSignal;
}

export class Ticker {
  private readonly fn: () => Promise<void>;
  private readonly opts: TickerOptions;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

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
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = this.run();
  }

  private async run(): Promise<void> {
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
      this.timer = setTimeout(() => this.poke(), 0);
      return;
    }
    this.timer = setTimeout(() => this.poke(), this.opts.intervalMs);
  }

  /** Stops scheduling; resolves when the run in progress (if any) ends. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}
