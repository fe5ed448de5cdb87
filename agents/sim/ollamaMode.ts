// The simulated Ollama's failure modes, switched at runtime (setMode() or POST /sim/mode).

export interface SimMode {
  /** Delay every /api answer by this many ms. */
  slow_ms?: number;
  /** Close every /api connection without answering (a dead or wedged server). */
  refuse?: boolean;
  /** Loads fail with Ollama's out-of-memory error (HTTP 500). */
  oom?: boolean;
  /** Answer every /api request 503 "server busy", like Ollama with its queue full. */
  busy?: boolean;
}

/** A healthy server: no delay, no failure. */
export function healthyMode(): Required<SimMode> {
  return { slow_ms: 0, refuse: false, oom: false, busy: false };
}

/** Sets the fields `m` names (coerced as a JSON body would need), leaving the others. */
export function applyMode(mode: Required<SimMode>, m: SimMode): void {
  if (m.slow_ms !== undefined) mode.slow_ms = Math.max(0, Number(m.slow_ms) || 0);
  if (m.refuse !== undefined) mode.refuse = Boolean(m.refuse);
  if (m.oom !== undefined) mode.oom = Boolean(m.oom);
  if (m.busy !== undefined) mode.busy = Boolean(m.busy);
}
