// Pure decisions of `forge forward`: which sinks an event still needs, and when a failing sink
// is tried again. The I/O around them is drain.ts.

export interface SinkHealth {
  /** Failures in a row. */
  failures: number;
  /** Clock (ms) before which the sink is not tried. */
  retryAt: number;
}

/** Pure: the configured sinks (in config order) the event has not reached. */
export function pendingSinks(configured: readonly string[], done: readonly string[]): string[] {
  const reached = new Set(done);
  return configured.filter((s) => !reached.has(s));
}

/** Pure: the wait after the n-th failure in a row (1-based): base, 2 base, 4 base ... at most cap. */
export function backoffMs(failures: number, baseS: number, capS: number): number {
  return Math.min(capS, baseS * 2 ** Math.max(0, failures - 1)) * 1000;
}

/** Pure: whether a sink may be tried now. */
export function sinkReady(h: SinkHealth | undefined, now: number): boolean {
  return h === undefined || now >= h.retryAt;
}

/** Pure: a sink's health after a delivery (ok) or a failure. */
export function afterTry(h: SinkHealth | undefined, ok: boolean, now: number, baseS: number, capS: number): SinkHealth | undefined {
  if (ok) return undefined;
  const failures = (h?.failures ?? 0) + 1;
  return { failures, retryAt: now + backoffMs(failures, baseS, capS) };
}
