// Heat planning: which agents should hold which model, from the llm work queued and pending per
// model, the cards' health, budgets and request slots, and what a load costs (the load times
// the agents measure; loads go one at a time through the rig's load gate). It heats as many
// agents per model as pay off, round-robin across models so a mixed plan gets cards for each,
// swaps a model nobody needs for one that is wanted, cools what idles, and never changes an
// agent twice within its dwell time. Pure: the brain's HeatManager feeds it and writes the
// load_llm/unload_llm meta tasks it returns.
import { sameModelName } from '../core/config.ts';
import type { Heartbeat } from '../core/heartbeat.ts';

export interface ModelDemand {
  model: string;
  /** llm tasks of this model in queue/ now. */
  queued: number;
  /** llm tasks of this model not finished anywhere (waiting, queued, running). */
  pending: number;
  /** Mean request time of its finished tasks, ms; null before any finished. */
  taskMs: number | null;
  /** Its resident size where known (config models, or measured by an agent), MB. */
  sizeMb: number | null;
}

export interface HeatInput {
  /** Heartbeats of the agents the brain holds alive. */
  beats: Heartbeat[];
  demand: ModelDemand[];
  /** script tasks not finished anywhere. */
  pendingScript: number;
  /** The brain's meta tasks not yet finished: which agent, which kind, which model. */
  inFlight: Array<{ agent: string; type: 'load_llm' | 'unload_llm'; model: string | null }>;
  /** When the brain last heated or cooled each agent (brain clock). */
  lastChange: ReadonlyMap<string, number>;
  /** When each agent's model last had llm work pending (brain clock). */
  lastWanted: ReadonlyMap<string, number>;
  now: number;
  /** Minimum time between two changes of one agent, ms. */
  dwellMs: number;
  /** A hot agent whose model no task has needed for this long is cooled, ms. */
  idleMs: number;
  /** A load's assumed duration before any agent has measured one, ms. */
  defaultLoadMs: number;
  /** resource_limits.vram_budget_percent: what share of a card a model may fill. */
  budgetPercent: number;
  /** The configured model of an agent whose heartbeat names none (an older agent). */
  configuredModel: (agent: string) => string | null;
}

export type HeatAction = { kind: 'heat' | 'cool'; agent: string; model: string | null; reason: string };

export interface HeatPlan {
  actions: HeatAction[];
  /** Models with queued work that no agent holds or is heated for, and why. */
  waits: Array<{ model: string; reason: string }>;
}

const isHot = (b: Heartbeat) => b.model_loaded || b.state === 'hot' || b.state === 'loading';
const overheated = (b: Heartbeat) => b.health === 'constrained' && b.health_reasons.some((r) => /^(temperature|VRAM)/.test(r));
const secs = (ms: number) => `${Math.round(ms / 100) / 10}s`;

/** The model an agent holds or loads, or null. */
export function heldBy(b: Heartbeat, configured: (agent: string) => string | null): string | null {
  if (!isHot(b)) return null;
  return b.model ?? configured(b.name);
}

/** The whole VRAM budget of a card, MB; null without telemetry. */
function budgetOf(b: Heartbeat, percent: number): number | null {
  return b.vram_total_mb ? Math.floor((b.vram_total_mb * percent) / 100) : null;
}

/** A load's expected duration: the longest this model took on any agent, else the longest any load took, else the default. */
export function loadEstimateMs(beats: readonly Heartbeat[], model: string, fallback: number): number {
  let own = -1;
  let any = -1;
  for (const b of beats) {
    for (const [m, ms] of Object.entries(b.load_ms)) {
      any = Math.max(any, ms);
      if (sameModelName(m, model)) own = Math.max(own, ms);
    }
  }
  return own >= 0 ? own : any >= 0 ? any : fallback;
}

/**
 * Whether one more agent with `slots` request slots pays off for a model whose queued work
 * `holderSlots` slots serve now: the time it saves on the queue must exceed its load (and the
 * loads queued before it at the gate). Without a measured task time a task is taken to last a load.
 */
export function oneMorePays(d: ModelDemand, holderSlots: number, slots: number, loadMs: number, loadsAhead: number): { pays: boolean; why: string } {
  if (holderSlots === 0) return { pays: d.queued > 0, why: `${d.queued} queued and no agent holds it` };
  const t = d.taskMs ?? loadMs;
  const now = (d.queued * t) / holderSlots;
  const after = (d.queued * t) / (holderSlots + slots);
  const cost = loadMs * (1 + loadsAhead);
  const saves = now - after;
  return {
    pays: saves > cost,
    why: `${d.queued} queued on ${holderSlots} slot(s) (~${secs(now)} of work at ~${secs(t)} a task); one more card saves ~${secs(saves)} against ~${secs(cost)} of loading`,
  };
}

export function decideHeat(h: HeatInput): HeatPlan {
  const out: HeatAction[] = [];
  const waits: HeatPlan['waits'] = [];
  const busy = new Set(h.inFlight.map((f) => f.agent));
  const settled = (agent: string) => h.now - (h.lastChange.get(agent) ?? -Infinity) >= h.dwellMs;
  const held = (b: Heartbeat) => heldBy(b, h.configuredModel);
  const demandOf = (m: string | null) => (m ? h.demand.find((d) => sameModelName(d.model, m)) : undefined);

  // An overheated hot agent gives up its model first: nothing else helps it cool down.
  for (const b of h.beats) {
    if (b.model_loaded && b.swappable && overheated(b) && !busy.has(b.name)) {
      out.push({ kind: 'cool', agent: b.name, model: held(b), reason: `overheated (${b.health_reasons.join(', ')}); unloading its model to help it recover` });
      busy.add(b.name);
    }
  }

  const { slotsOf, addSlots } = holderSlots(h, held);
  let loadsAhead = h.inFlight.filter((f) => f.type === 'load_llm').length;

  // A card may take a model when it serves, is free to change, fits it, and holds nothing anyone needs.
  const whyNot = (b: Heartbeat, d: ModelDemand): string | null => {
    const m = held(b);
    if (m && sameModelName(m, d.model)) return 'holds it';
    if (!serving(b)) return b.llm_circuit === 'open' ? 'runtime circuit open' : `${b.health}`;
    if (busy.has(b.name)) return 'a load or unload in progress';
    if (!settled(b.name)) return 'changed within heat_dwell_s';
    if (!b.swappable) return `its server serves ${m ?? 'another model'} only`;
    const budget = budgetOf(b, h.budgetPercent);
    if (d.sizeMb !== null && budget !== null && d.sizeMb > budget) return `${d.sizeMb} MB does not fit its ${budget} MB budget`;
    const other = demandOf(m);
    if (m && other && other.pending > 0) return `holds ${m}, which has work`;
    return null;
  };
  const rank = (b: Heartbeat) => [held(b) ? 1 : 0, b.active_workers, b.temperature_c ?? 0, b.gpu_id];
  const byRank = (a: Heartbeat, b: Heartbeat) => {
    const ra = rank(a);
    const rb = rank(b);
    for (let i = 0; i < ra.length; i++) if (ra[i] !== rb[i]) return ra[i]! - rb[i]!;
    return 0;
  };

  // Round-robin: each model with queued work takes its best card while one more pays off.
  const wanting = h.demand.filter((d) => d.queued > 0).sort((a, b) => b.queued - a.queued || (a.model < b.model ? -1 : 1));
  const done = new Set<string>();
  for (let progress = true; progress; ) {
    progress = false;
    for (const d of wanting) {
      if (done.has(d.model)) continue;
      const candidates = h.beats.filter((b) => whyNot(b, d) === null).sort(byRank);
      const pick = candidates[0];
      const have = slotsOf(d.model);
      if (!pick) {
        done.add(d.model);
        if (have === 0) waits.push({ model: d.model, reason: noCardReason(h.beats, (b) => whyNot(b, d)) });
        continue;
      }
      const verdict = oneMorePays(d, have, pick.num_parallel, loadEstimateMs(h.beats, d.model, h.defaultLoadMs), loadsAhead);
      if (!verdict.pays) {
        done.add(d.model);
        continue;
      }
      const was = held(pick);
      const how = was ? `swapping out ${was} (no work for it)` : 'the coolest idle healthy card';
      out.push({ kind: 'heat', agent: pick.name, model: d.model, reason: `${d.model}: ${verdict.why}; ${pick.name} is ${how}` });
      busy.add(pick.name);
      addSlots(d.model, pick.num_parallel);
      loadsAhead += 1;
      progress = true;
    }
  }

  out.push(...decideCools(h, busy, settled));
  return { actions: out, waits };
}

const serving = (b: Heartbeat) => b.health === 'healthy' && b.llm_circuit !== 'open' && !b.stopping && !overheated(b);

/** The request slots that hold (or are being loaded with) each model: serving agents and loads in flight. */
function holderSlots(h: HeatInput, held: (b: Heartbeat) => string | null) {
  const slots = new Map<string, number>();
  const keyOf = (m: string) => [...slots.keys()].find((k) => sameModelName(k, m)) ?? m;
  const addSlots = (m: string, n: number) => slots.set(keyOf(m), (slots.get(keyOf(m)) ?? 0) + n);
  for (const b of h.beats) {
    const m = held(b);
    if (m && serving(b)) addSlots(m, b.num_parallel);
  }
  for (const f of h.inFlight) {
    const b = h.beats.find((x) => x.name === f.agent);
    const m = b ? held(b) : null;
    if (f.type === 'load_llm' && f.model && b && !(m && sameModelName(m, f.model))) addSlots(f.model, b.num_parallel);
  }
  return { slotsOf: (m: string) => slots.get(keyOf(m)) ?? 0, addSlots };
}

/** Cool what idles: a model no pending task needs, held past heat_idle_s (or at once when only script work remains). */
function decideCools(h: HeatInput, busy: ReadonlySet<string>, settled: (agent: string) => boolean): HeatAction[] {
  const out: HeatAction[] = [];
  const llmPending = h.demand.reduce((n, d) => n + d.pending, 0);
  for (const b of h.beats) {
    const m = heldBy(b, h.configuredModel);
    if (!m || !b.model_loaded || !b.swappable || busy.has(b.name) || !settled(b.name)) continue;
    if (h.demand.some((d) => sameModelName(d.model, m) && d.pending > 0)) continue;
    if (llmPending === 0 && h.pendingScript > 0) {
      out.push({ kind: 'cool', agent: b.name, model: m, reason: `only script work remains (${h.pendingScript} task(s)); freeing the card` });
      continue;
    }
    const idle = h.now - (h.lastWanted.get(b.name) ?? h.now);
    if (idle >= h.idleMs) out.push({ kind: 'cool', agent: b.name, model: m, reason: `idle ${secs(idle)}: no llm task needs ${m} (heat_idle_s ${secs(h.idleMs)})` });
  }
  return out;
}

/** Why no card takes a model: each agent with its reason, or that none is alive. */
function noCardReason(beats: readonly Heartbeat[], whyNot: (b: Heartbeat) => string | null): string {
  if (!beats.length) return 'no live agent';
  return `no card can take it now: ${beats.map((b) => `${b.name} ${whyNot(b) ?? 'busy'}`).join('; ')}`;
}
