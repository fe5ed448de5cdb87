// Hot/cold management: the brain heats an agent (load_llm) when llm work is queued and no
// agent holds its model, cools agents (unload_llm) when only script work remains, and unloads
// an overheated agent's model to help it recover. Pure; hysteresis keeps it from flapping.
import type { Heartbeat } from '../core/heartbeat.ts';

export interface HeatInput {
  /** Heartbeats of the agents the brain holds alive. */
  beats: Heartbeat[];
  queuedLlm: number;
  /** llm tasks not finished anywhere (waiting, queued, running). */
  pendingLlm: number;
  /** script tasks not finished anywhere. */
  pendingScript: number;
  /** Brain meta tasks not yet finished: which agent, which kind. */
  inFlight: Array<{ agent: string; type: 'load_llm' | 'unload_llm' }>;
  /** When the brain last heated or cooled each agent (brain clock). */
  lastChange: ReadonlyMap<string, number>;
  now: number;
  /** Minimum time between two changes of one agent, ms. */
  dwellMs: number;
}

export type HeatAction = { kind: 'heat' | 'cool'; agent: string; reason: string };

const isHot = (b: Heartbeat) => b.model_loaded || b.state === 'hot' || b.state === 'loading';
const overheated = (b: Heartbeat) => b.health === 'constrained' && b.health_reasons.some((r) => /^(temperature|VRAM)/.test(r));

export function decideHeat(h: HeatInput): HeatAction[] {
  const out: HeatAction[] = [];
  const pending = new Set(h.inFlight.map((f) => f.agent));
  const settled = (agent: string) => h.now - (h.lastChange.get(agent) ?? -Infinity) >= h.dwellMs;

  // An overheated hot agent gives up its model first: nothing else helps it cool down.
  for (const b of h.beats) {
    if (isHot(b) && b.model_loaded && overheated(b) && !pending.has(b.name)) {
      out.push({ kind: 'cool', agent: b.name, reason: `overheated (${b.health_reasons.join(', ')}); unloading its model to help it recover` });
      pending.add(b.name);
    }
  }

  const hot = h.beats.filter((b) => isHot(b) && !overheated(b));
  const loading = h.inFlight.some((f) => f.type === 'load_llm');
  if (h.queuedLlm > 0 && hot.length === 0 && !loading) {
    const candidates = h.beats
      .filter((b) => !isHot(b) && b.health === 'healthy' && b.llm_circuit !== 'open' && !pending.has(b.name) && settled(b.name))
      // The coolest, least busy card takes the model.
      .sort((a, b) => a.active_workers - b.active_workers || (a.temperature_c ?? 0) - (b.temperature_c ?? 0) || a.gpu_id - b.gpu_id);
    const pick = candidates[0];
    if (pick) out.push({ kind: 'heat', agent: pick.name, reason: `${h.queuedLlm} llm task(s) queued and no agent is hot; ${pick.name} is the coolest idle healthy card` });
  }

  if (h.pendingLlm === 0 && h.pendingScript > 0) {
    for (const b of h.beats) {
      if (b.model_loaded && !pending.has(b.name) && settled(b.name)) {
        out.push({ kind: 'cool', agent: b.name, reason: `only script work remains (${h.pendingScript} task(s)); freeing the card` });
      }
    }
  }
  return out;
}
