// The launcher's restart rule: a process that dies is restarted with backoff, at most
// `max` times in `windowMs`; after that it stays down. Pure: the launcher keeps the history.

export interface RestartPolicy {
  max: number;
  windowMs: number;
  /** First delay; doubles with each restart in the window. */
  baseDelayMs: number;
}

export const DEFAULT_RESTART: RestartPolicy = { max: 3, windowMs: 10 * 60_000, baseDelayMs: 1000 };

export type RestartVerdict = { restart: true; delayMs: number; n: number } | { restart: false; reason: string };

/** restarts: times of earlier restarts of this process. */
export function decideRestart(restarts: readonly number[], now: number, p: RestartPolicy = DEFAULT_RESTART): RestartVerdict {
  const recent = restarts.filter((t) => now - t < p.windowMs);
  if (recent.length >= p.max) {
    return { restart: false, reason: `died ${recent.length + 1} times within ${Math.round(p.windowMs / 60000)} minutes; restarted ${recent.length} times already` };
  }
  return { restart: true, delayMs: p.baseDelayMs * 2 ** recent.length, n: recent.length + 1 };
}
