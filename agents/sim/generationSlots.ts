// How long the simulated card takes to generate, and how many requests it serves at once.
//
// The speed model (tok_s = output tokens per second of one request alone on the card):
// - A request first reads its prompt, at 10 × tok_s tokens per second (prompt processing is
//   batched and much faster than generation): prompt_tokens / (10 × tok_s) seconds.
// - It then generates its output tokens. With n requests admitted at once, each proceeds at
//   rate = tok_s / n^0.3 tokens per second, so the card's aggregate throughput n × rate =
//   tok_s × n^0.7 grows with batching, but less than linearly, as real GPUs do.
// - Rates are recomputed whenever a request starts or finishes: each request's progress is
//   brought up to date at the old rate, then the next completion is timed at the new one
//   (a fair-share simulation with one timer).
// - At most numParallel requests are admitted (Ollama's OLLAMA_NUM_PARALLEL, llama-server's
//   --parallel); the others wait in FIFO order, and their wait is part of their wall time.
// With tok_s null every generation takes no time (the simulator's instant answers), but still
// passes through the slots, so the counters stay true.
import { HttpError } from './ollamaHttp.ts';

/** How aggregate throughput grows with the number of requests generating at once: rate = tok_s / n^BATCH_EXPONENT. */
export const BATCH_EXPONENT = 0.3;
/** Prompt tokens are read this many times faster than output tokens are generated. */
export const PROMPT_SPEEDUP = 10;
/** A request this close to done (ms) is done: timers fire on whole milliseconds. */
const DONE_EPSILON_MS = 0.5;

export interface SlotTimers {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface SlotStats {
  /** Requests generating now. */
  active: number;
  /** Requests waiting for a slot. */
  queued: number;
  /** The most requests ever generating at once. */
  max_active: number;
  /** Requests answered (generation finished). */
  served: number;
}

export interface GenerationSlotsOptions {
  /** Output tokens per second of one request alone; null: generation takes no time. */
  tokS: number | null;
  /** Requests generating at once, at least 1. */
  numParallel: number;
  /** Aborted when the server closes: every waiting and generating request then fails with 503. */
  closing: AbortSignal;
  /** The clock and timers; default the real ones (tests pass a manual clock). */
  timers?: SlotTimers;
}

interface Job {
  promptMsLeft: number;
  outputLeft: number;
  resolve: () => void;
  reject: (err: Error) => void;
  detach: () => void;
}

const realTimers: SlotTimers = {
  now: () => performance.now(),
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Output tokens per second of each request when n generate at once. */
export function rateOf(tokS: number, n: number): number {
  return tokS / Math.max(1, n) ** BATCH_EXPONENT;
}

export class GenerationSlots {
  private readonly o: GenerationSlotsOptions;
  private readonly timers: SlotTimers;
  private readonly active: Job[] = [];
  private readonly queue: Job[] = [];
  private maxActive = 0;
  private served = 0;
  private lastUpdate: number;
  private timer: unknown = null;

  constructor(o: GenerationSlotsOptions) {
    if (!Number.isInteger(o.numParallel) || o.numParallel < 1) throw new Error(`numParallel must be an integer of at least 1, got ${o.numParallel}`);
    if (o.tokS !== null && !(o.tokS > 0)) throw new Error(`tokS must be a number above 0 or null, got ${o.tokS}`);
    this.o = o;
    this.timers = o.timers ?? realTimers;
    this.lastUpdate = this.timers.now();
    o.closing.addEventListener('abort', () => this.failAll(), { once: true });
  }

  stats(): SlotStats {
    return { active: this.active.length, queued: this.queue.length, max_active: this.maxActive, served: this.served };
  }

  /** Resolves once the request's tokens are generated; `cancel` (the client went away) gives its slot up. */
  generate(promptTokens: number, outputTokens: number, cancel?: AbortSignal): Promise<void> {
    if (this.o.closing.aborted) return Promise.reject(new HttpError(503, 'server shutting down'));
    return new Promise<void>((resolve, reject) => {
      const tokS = this.o.tokS;
      const onCancel = () => this.drop(job, new HttpError(499, 'the client closed the request'));
      const job: Job = {
        promptMsLeft: tokS === null ? 0 : (promptTokens / (PROMPT_SPEEDUP * tokS)) * 1000,
        outputLeft: tokS === null ? 0 : outputTokens,
        resolve,
        reject,
        detach: () => cancel?.removeEventListener('abort', onCancel),
      };
      if (cancel?.aborted) return reject(new HttpError(499, 'the client closed the request'));
      cancel?.addEventListener('abort', onCancel, { once: true });
      this.queue.push(job);
      this.reschedule();
    });
  }

  /** Brings every active request's progress up to now, at the rate of the current count. */
  private advance(): void {
    const now = this.timers.now();
    const elapsed = Math.max(0, now - this.lastUpdate);
    this.lastUpdate = now;
    if (this.o.tokS === null) return;
    const perMs = rateOf(this.o.tokS, this.active.length) / 1000;
    for (const job of this.active) {
      const reading = Math.min(job.promptMsLeft, elapsed);
      job.promptMsLeft -= reading;
      job.outputLeft = Math.max(0, job.outputLeft - (elapsed - reading) * perMs);
    }
  }

  private msLeft(job: Job, n: number): number {
    if (this.o.tokS === null) return 0;
    return job.promptMsLeft + (job.outputLeft / rateOf(this.o.tokS, n)) * 1000;
  }

  /** Settles what is done, admits waiting requests to free slots, and times the next completion. */
  private reschedule(): void {
    this.advance();
    if (this.timer !== null) this.timers.clear(this.timer);
    this.timer = null;
    for (const job of this.active.filter((j) => this.msLeft(j, this.active.length) <= DONE_EPSILON_MS)) {
      this.remove(job);
      this.served += 1;
      job.resolve();
    }
    while (this.active.length < this.o.numParallel && this.queue.length > 0) {
      this.active.push(this.queue.shift() as Job);
      this.maxActive = Math.max(this.maxActive, this.active.length);
    }
    if (this.active.length === 0) return;
    const next = Math.min(...this.active.map((j) => this.msLeft(j, this.active.length)));
    this.timer = this.timers.set(() => this.reschedule(), Math.max(0, Math.ceil(next)));
  }

  private remove(job: Job): void {
    job.detach();
    const a = this.active.indexOf(job);
    if (a >= 0) this.active.splice(a, 1);
    const q = this.queue.indexOf(job);
    if (q >= 0) this.queue.splice(q, 1);
  }

  /** A cancelled request leaves its slot (or its place in the queue); the others speed up. */
  private drop(job: Job, err: Error): void {
    this.advance();
    this.remove(job);
    job.reject(err);
    this.reschedule();
  }

  private failAll(): void {
    if (this.timer !== null) this.timers.clear(this.timer);
    this.timer = null;
    for (const job of [...this.active, ...this.queue]) {
      this.remove(job);
      job.reject(new HttpError(503, 'server shutting down'));
    }
  }
}
