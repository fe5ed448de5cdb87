// The agent's health over time, two ways: as its heartbeats showed it (sampled), and as it
// wrote it in logs/brain_decisions.log (its CONSTRAINED / HEALTHY / UNHEALTHY lines). Pure.

export type HealthState = 'healthy' | 'constrained' | 'unhealthy';

export interface HealthPoint {
  /** Epoch milliseconds. */
  at: number;
  health: HealthState;
  reasons: string[];
}

export interface Transition {
  at: number;
  from: HealthState | null;
  to: HealthState;
  /** The reasons of the new state (empty for healthy). */
  reasons: string[];
}

/**
 * Changes of health in a time-ordered list of observations. A first observation counts as a
 * transition from null; the same state with other reasons is not a transition.
 */
export function healthTransitions(points: readonly HealthPoint[]): Transition[] {
  const out: Transition[] = [];
  let prev: HealthState | null = null;
  for (const p of points) {
    if (p.health === prev) continue;
    out.push({ at: p.at, from: prev, to: p.health, reasons: p.reasons });
    prev = p.health;
  }
  return out;
}

const LOG_WORD: Record<string, HealthState> = { HEALTHY: 'healthy', CONSTRAINED: 'constrained', UNHEALTHY: 'unhealthy' };

/**
 * The health lines of one agent in the decision log (formatDecision's layout:
 * `<iso time> <who padded to 6> <WHAT> [batch=..] [task=..] — <reason>`), in file order.
 */
export function healthFromLog(text: string, agentName: string): HealthPoint[] {
  const out: HealthPoint[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(\S+)\s+(HEALTHY|CONSTRAINED|UNHEALTHY)\b(?:.*? — (.*))?$/.exec(line);
    if (!m || m[2] !== agentName) continue;
    const at = Date.parse(m[1]!);
    if (!Number.isFinite(at)) continue;
    const health = LOG_WORD[m[3]!]!;
    const reason = m[4] ?? '';
    out.push({ at, health, reasons: health === 'healthy' || reason === '' ? [] : reason.split('; ') });
  }
  return out;
}

/** Whether the agent went from constrained back to healthy at least once. */
export function sawConstrainedToHealthy(transitions: readonly Transition[]): boolean {
  return transitions.some((t) => t.from === 'constrained' && t.to === 'healthy');
}
