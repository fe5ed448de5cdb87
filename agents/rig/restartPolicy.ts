// The launcher's restart rule: a process that dies is restarted with backoff (doubling from
// the first delay, up to a cap), at most `max` times in `windowMs`; after that it stays down.
// Pure: the launcher keeps the history.
import type { ChildKind } from './roles.ts';

export interface RestartPolicy {
  max: number;
  windowMs: number;
  /** First delay; doubles with each restart in the window. */
  baseDelayMs: number;
  /** The longest delay, however many restarts came before. */
  maxDelayMs: number;
}

/** The brain and the agents: a crash is a bug or a broken mount, so three tries (1, 2, 4 s), then a person. */
export const DEFAULT_RESTART: RestartPolicy = { max: 3, windowMs: 10 * 60_000, baseDelayMs: 1000, maxDelayMs: 60_000 };

/**
 * A GPU's LLM server: servers die of things that pass (a driver hiccup, an out-of-memory
 * load, a port held for a moment), and while one is down its GPU does no LLM work, so more
 * tries: 10 in 10 minutes, waiting 1 s doubling up to 60 s (about 5 minutes in all).
 */
export const RUNTIME_RESTART: RestartPolicy = { max: 10, windowMs: 10 * 60_000, baseDelayMs: 1000, maxDelayMs: 60_000 };

export function restartPolicyFor(kind: ChildKind): RestartPolicy {
  return kind === 'runtime' ? RUNTIME_RESTART : DEFAULT_RESTART;
}

export type RestartVerdict = { restart: true; delayMs: number; n: number; max: number } | { restart: false; reason: string };

/** restarts: times of earlier restarts of this process. */
export function decideRestart(restarts: readonly number[], now: number, p: RestartPolicy = DEFAULT_RESTART): RestartVerdict {
  const recent = restarts.filter((t) => now - t < p.windowMs);
  if (recent.length >= p.max) {
    return { restart: false, reason: `died ${recent.length + 1} times within ${Math.round(p.windowMs / 60000)} minutes; restarted ${recent.length} times already` };
  }
  return { restart: true, delayMs: Math.min(p.baseDelayMs * 2 ** recent.length, p.maxDelayMs), n: recent.length + 1, max: p.max };
}
