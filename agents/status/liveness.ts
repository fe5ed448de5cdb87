// Whether the brain and each agent run, as one look can tell. Pure: snapshot.ts reads the
// brain's lease (brain/brain.lock, brain/brain.owner) and probes the pids that name this host.
// A pid means something only on the host that wrote it; on another host status cannot tell
// from one look without comparing a file's time with this host's clock (hosts' clocks
// differ), so it says so instead of guessing. The brain judges agents by seq over time
// (brain/monitor.ts); status, a one-shot command, sees a dead agent of this host at once by
// its pid, and the others by the heartbeat's age.
import type { LockOwner } from '../brain/leaseOwner.ts';

/** What the look found of the brain's lease. */
export interface BrainLeaseSeen {
  /** brain/brain.lock exists: a brain holds the lock, or one that died holding it. A brain that stopped removed it. */
  locked: boolean;
  /** brain/brain.owner, or null when absent or unreadable. */
  owner: LockOwner | null;
  /** Whether the owner's pid lives, when the owner names this host; null otherwise. */
  pid_alive: boolean | null;
}

/**
 * running: on this host, its pid alive; down: on this host, its pid gone; not_running: no
 * lock held; elsewhere: on another host, not checkable from here; unknown: the lock is held
 * and nobody readable owns it (a brain starting, or a garbage owner file).
 */
export type BrainState = 'running' | 'down' | 'not_running' | 'elsewhere' | 'unknown';

export interface BrainView {
  state: BrainState;
  pid: number | null;
  host: string | null;
  since: string | null;
  /** One line for people: "brain: …". */
  text: string;
}

/** What a wait reason says instead of promising that the brain will act, while none runs. */
export const NO_BRAIN = 'no brain is running: start the rig';

export function judgeBrain(seen: BrainLeaseSeen): BrainView {
  const o = seen.owner;
  const who = { pid: o?.pid ?? null, host: o?.host ?? null, since: o?.since ?? null };
  if (!seen.locked) {
    const last = o ? ` (the last one was pid ${o.pid} on ${o.host})` : '';
    return { state: 'not_running', ...who, text: `brain: not running${last}; start the rig` };
  }
  if (!o) return { state: 'unknown', ...who, text: 'brain: the lock is held but brain/brain.owner names no owner (a brain starting?)' };
  if (seen.pid_alive === true) return { state: 'running', ...who, text: `brain: running, pid ${o.pid} on this host (${o.host})${o.since ? ` since ${o.since}` : ''}` };
  if (seen.pid_alive === false) return { state: 'down', ...who, text: `brain: down: pid ${o.pid} on this host (${o.host}) is gone, its lock left behind; start the rig` };
  return { state: 'elsewhere', ...who, text: `brain: on host ${o.host} (pid ${o.pid}), not checkable from here` };
}

/** Whether no brain acts on the mount now, as far as this look can tell. */
export function brainIsDown(b: BrainView): boolean {
  return b.state === 'down' || b.state === 'not_running';
}

/**
 * An agent is alive when its heartbeat is fresh and, on this host, its pid lives: a dead
 * agent of this host shows as down at once, not only after heartbeat_stale_s.
 */
export function agentAlive(ageS: number | null, staleS: number, pidAlive: boolean | null): boolean {
  return ageS !== null && ageS <= staleS && pidAlive !== false;
}
