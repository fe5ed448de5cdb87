// A circuit breaker for the agent's LLM runtime: after repeated failures the agent stops
// claiming llm work instead of failing task after task, probes now and then, and resumes
// when a probe succeeds. Pure: the state is a value, the time is passed in.
//
//   closed --N consecutive failures--> open --cool-down passed, canUse()--> half_open (one probe)
//   half_open --success--> closed (cool-down back to its base)
//   half_open --failure--> open (cool-down doubled, up to the cap)

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitOptions {
  /** Consecutive failures that open the circuit. Default 3. */
  failureThreshold?: number;
  /** First cool-down after opening, in ms. Default 60 000. */
  coolDownMs?: number;
  /** Largest cool-down after repeated failed probes, in ms. Default 600 000. */
  maxCoolDownMs?: number;
  /** A probe that never reports back is given up after this long and another is allowed, in ms. Default: coolDownMs. */
  probeTimeoutMs?: number;
}

export interface CircuitSnapshot {
  state: CircuitState;
  /** Consecutive failures while closed. */
  failures: number;
  /** The last error, for the heartbeat's llm_reason; null once a call succeeds. */
  reason: string | null;
  /** While open: when a probe will be allowed (ms since the epoch). */
  openUntil: number | null;
  /** The cool-down used the last time it opened, in ms. */
  coolDownMs: number;
  /** While half_open: when the probe was granted. */
  probeAt: number | null;
}

type Settings = Required<CircuitOptions>;

export function circuitSettings(opts: CircuitOptions = {}): Settings {
  const coolDownMs = opts.coolDownMs ?? 60_000;
  const s: Settings = {
    failureThreshold: opts.failureThreshold ?? 3,
    coolDownMs,
    maxCoolDownMs: Math.max(opts.maxCoolDownMs ?? 600_000, coolDownMs),
    probeTimeoutMs: opts.probeTimeoutMs ?? coolDownMs,
  };
  if (!Number.isInteger(s.failureThreshold) || s.failureThreshold < 1) {
    throw new Error(`circuit failureThreshold must be an integer of at least 1, got ${opts.failureThreshold}`);
  }
  if (!(s.coolDownMs > 0)) throw new Error(`circuit coolDownMs must be positive, got ${opts.coolDownMs}`);
  return s;
}

export function initialCircuit(s: Settings): CircuitSnapshot {
  return { state: 'closed', failures: 0, reason: null, openUntil: null, coolDownMs: s.coolDownMs, probeAt: null };
}

/** May a call go out now? Returns the new snapshot too: granting the half-open probe is a transition. */
export function circuitAllow(c: CircuitSnapshot, s: Settings, now: number): { allowed: boolean; next: CircuitSnapshot } {
  switch (c.state) {
    case 'closed':
      return { allowed: true, next: c };
    case 'open':
      if (c.openUntil !== null && now < c.openUntil) return { allowed: false, next: c };
      return { allowed: true, next: { ...c, state: 'half_open', openUntil: null, probeAt: now } };
    case 'half_open':
      // One probe at a time; a probe lost without a report is given up after probeTimeoutMs.
      if (c.probeAt !== null && now - c.probeAt < s.probeTimeoutMs) return { allowed: false, next: c };
      return { allowed: true, next: { ...c, probeAt: now } };
  }
}

export function circuitSuccess(c: CircuitSnapshot, s: Settings): CircuitSnapshot {
  // Any success proves the runtime answers, even one that was in flight when the circuit opened.
  void c;
  return initialCircuit(s);
}

export function circuitFailure(c: CircuitSnapshot, s: Settings, now: number, reason: string): CircuitSnapshot {
  switch (c.state) {
    case 'closed': {
      const failures = c.failures + 1;
      if (failures < s.failureThreshold) return { ...c, failures, reason };
      return { state: 'open', failures, reason, openUntil: now + s.coolDownMs, coolDownMs: s.coolDownMs, probeAt: null };
    }
    case 'half_open': {
      const coolDownMs = Math.min(c.coolDownMs * 2, s.maxCoolDownMs);
      return { state: 'open', failures: c.failures, reason, openUntil: now + coolDownMs, coolDownMs, probeAt: null };
    }
    case 'open':
      // A call that was already in flight when it opened: note why, keep the schedule.
      return { ...c, reason };
  }
}

/** The breaker as an object for the agent loop; every decision is one of the pure functions above. */
export class CircuitBreaker {
  private readonly settings: Settings;
  private snap: CircuitSnapshot;

  constructor(opts: CircuitOptions = {}) {
    this.settings = circuitSettings(opts);
    this.snap = initialCircuit(this.settings);
  }

  get state(): CircuitState {
    return this.snap.state;
  }

  get reason(): string | null {
    return this.snap.reason;
  }

  snapshot(): CircuitSnapshot {
    return { ...this.snap };
  }

  /** True when a call may go out now. In half_open it grants one probe and then answers false. */
  canUse(now: number): boolean {
    const { allowed, next } = circuitAllow(this.snap, this.settings, now);
    this.snap = next;
    return allowed;
  }

  recordSuccess(): void {
    this.snap = circuitSuccess(this.snap, this.settings);
  }

  recordFailure(now: number, reason: string): void {
    this.snap = circuitFailure(this.snap, this.settings, now, reason);
  }
}
