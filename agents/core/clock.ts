// Time is injected: daemons take a Clock so tests can drive it without sleeping.
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** A clock a test moves by hand. */
export class ManualClock implements Clock {
  private ms: number;
  constructor(startMs = Date.parse('2026-01-01T00:00:00Z')) {
    this.ms = startMs;
  }
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

/**
 * This process's monotonic clock in ms, as performance.now() but without loading
 * node:perf_hooks (which costs a short command a millisecond or two of its start).
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
