// Predicts a batch's run from its task graph: list scheduling of the DAG onto the rig's GPUs,
// simulated in time. Pure: the dry run (plan/dryRun.ts) gathers the graph, the learned profiles
// and the GPUs, and formats what this returns.
//
// The model of the rig, kept to what decides a batch's length and its cards' memory:
// - a task can start `lagMs` after its dependencies are all done (the rig's own delay: release,
//   claim, worker start), then runs `runMs`;
// - tasks run by the brain (a foreach's close, batch_summary) take no card;
// - a card runs a task when it has a free worker (max_workers, meta tasks excepted) and the
//   task's reservation fits what is left of its VRAM budget; a card with no known budget is
//   limited by its workers only;
// - an llm task needs its model on the card: a cold card loads it first (`loadMs`), taking the
//   whole card while it does; a card that holds the model runs up to `slots` llm tasks at once;
//   a card holding a model takes no script task (the seed's hot/cold matrix) while a cold card
//   exists; with none left, a hot card is cooled for it once idle;
// - ready tasks are placed in the order they became ready, then in the graph's order, each on
//   the card holding its model (llm), else the card running the fewest tasks, then the lowest
//   index: agents claim at once, so work spreads over the cards.
// A card's memory is its model's size while one is loaded plus what its running tasks hold.
import type { TaskClass } from '../core/task.ts';

export interface PredictNode {
  id: string;
  deps: readonly string[];
  /** 'brain': runs on no card. */
  place: 'gpu' | 'brain';
  taskClass: TaskClass;
  /** Counts against a card's max_workers (a worker process; meta tasks run inside the agent). */
  worker: boolean;
  runMs: number;
  lagMs: number;
  /** What it reserves of a cold card's budget while it runs, MB (claimPolicy.taskCost). */
  reserveMb: number;
  /** What it holds of the card's memory while it runs, MB (its learned peak). */
  holdMb: number;
  /** An llm task's model. */
  model: string | null;
}

export interface PredictGpu {
  name: string;
  /** The VRAM budget, MB; null: unknown, not limited. */
  budgetMb: number | null;
  maxWorkers: number;
  /** llm requests served at once (num_parallel). */
  slots: number;
  /** The model it holds now; null: cold. */
  model: string | null;
}

export interface ModelFacts {
  loadMs: (model: string) => number;
  /** Resident size, MB; null when not known. */
  sizeMb: (model: string) => number | null;
}

export interface Placed {
  id: string;
  /** The card's index in the gpus given; null for tasks the brain runs and tasks no card can take. */
  gpu: number | null;
  startMs: number;
  endMs: number;
}

export interface ModelLoad {
  gpu: number;
  model: string;
  atMs: number;
  ms: number;
}

export interface Prediction {
  makespanMs: number;
  /** Per card, in the order given: its highest memory in use and how many tasks it ran. */
  gpus: Array<{ name: string; peakMb: number; tasks: number }>;
  schedule: Placed[];
  loads: ModelLoad[];
  /** Tasks no card can ever take (counted as done at once, so their dependants go on in the prediction). */
  unplaceable: Array<{ id: string; reason: string }>;
}

interface Card {
  g: PredictGpu;
  model: string | null;
  /** When a model load ends (the card takes nothing before). */
  busyUntil: number;
  running: Array<{ node: PredictNode; end: number }>;
  peak: number;
  tasks: number;
}

function heldMb(c: Card, models: ModelFacts): number {
  const model = c.model === null ? 0 : (models.sizeMb(c.model) ?? 0);
  return model + c.running.reduce((s, r) => s + r.node.holdMb, 0);
}

/** Whether the card can take the node now, and whether a load comes first. */
function fits(c: Card, n: PredictNode, now: number, anyCold: boolean): { ok: boolean; load: boolean } {
  const no = { ok: false, load: false };
  if (c.busyUntil > now) return no;
  const workers = c.running.filter((r) => r.node.worker).length;
  if (n.worker && workers >= c.g.maxWorkers) return no;
  if (n.taskClass === 'llm') {
    if (c.model !== null && n.model !== null && c.model === n.model) {
      const llm = c.running.filter((r) => r.node.taskClass === 'llm').length;
      return { ok: llm < c.g.slots, load: false };
    }
    // Cold, or holding another model: the whole card, empty, to (re)load.
    return { ok: c.running.length === 0, load: true };
  }
  // A card holding a model takes no script task; with no cold card left, an idle one is cooled for it.
  if (n.taskClass === 'script' && c.model !== null && (anyCold || c.running.length > 0)) return no;
  const reserved = c.running.reduce((s, r) => s + (r.node.taskClass === 'llm' && c.model !== null ? 0 : r.node.reserveMb), 0);
  const budget = c.g.budgetMb ?? Infinity;
  return { ok: reserved + n.reserveMb <= budget, load: false };
}

/** Why no card can ever take this node, or null. */
function neverFits(n: PredictNode, gpus: readonly PredictGpu[]): string | null {
  if (n.place === 'brain') return null;
  if (!gpus.length) return 'the rig has no GPU';
  if (n.taskClass === 'llm' || n.reserveMb === 0) return null;
  const budgets = gpus.map((g) => g.budgetMb ?? Infinity);
  const largest = Math.max(...budgets);
  return n.reserveMb > largest ? `needs ${n.reserveMb} MB, more than the largest VRAM budget (${largest} MB)` : null;
}

/** One simulation: the cards, what runs, what has ended, and the time. */
class Simulation {
  readonly cards: Card[];
  readonly end = new Map<string, number>();
  readonly started = new Set<string>();
  readonly schedule: Placed[] = [];
  readonly loads: ModelLoad[] = [];
  readonly unplaceable: Prediction['unplaceable'] = [];
  readonly brainRunning: Array<{ node: PredictNode; end: number }> = [];
  now = 0;
  private readonly order: Map<string, number>;
  readonly nodes: readonly PredictNode[];
  private readonly gpus: readonly PredictGpu[];
  private readonly models: ModelFacts;

  constructor(nodes: readonly PredictNode[], gpus: readonly PredictGpu[], models: ModelFacts) {
    this.nodes = nodes;
    this.gpus = gpus;
    this.models = models;
    this.order = new Map(nodes.map((n, i) => [n.id, i]));
    for (const n of nodes) for (const d of n.deps) if (!this.order.has(d)) throw new Error(`bug: ${n.id} depends on ${d}, which is not in the graph`);
    this.cards = gpus.map((g) => ({ g, model: g.model, busyUntil: 0, running: [], peak: 0, tasks: 0 }));
    for (const c of this.cards) c.peak = heldMb(c, models);
  }

  /** When the node may start: its dependencies' latest end plus its lag; null while one has not ended. */
  private readyAt(n: PredictNode): number | null {
    let t = 0;
    for (const d of n.deps) {
      const e = this.end.get(d);
      if (e === undefined) return null;
      t = Math.max(t, e);
    }
    return t + n.lagMs;
  }

  /** Ends what runs until now. */
  finishUpTo(t: number): void {
    for (const c of this.cards) {
      c.running = c.running.filter((r) => r.end > t || (this.end.set(r.node.id, r.end), false));
    }
    for (let i = this.brainRunning.length - 1; i >= 0; i--) {
      const r = this.brainRunning[i]!;
      if (r.end > t) continue;
      this.end.set(r.node.id, r.end);
      this.brainRunning.splice(i, 1);
    }
  }

  /** Nodes not started whose dependencies have ended, by the time they may start, then the graph's order. */
  ready(): Array<{ n: PredictNode; at: number }> {
    return this.nodes
      .filter((n) => !this.started.has(n.id))
      .map((n) => ({ n, at: this.readyAt(n) }))
      .filter((r): r is { n: PredictNode; at: number } => r.at !== null)
      .sort((a, b) => a.at - b.at || this.order.get(a.n.id)! - this.order.get(b.n.id)!);
  }

  private start(n: PredictNode, card: number | null, load: boolean): void {
    const at = this.now;
    this.started.add(n.id);
    if (card === null) {
      this.brainRunning.push({ node: n, end: at + n.runMs });
      this.schedule.push({ id: n.id, gpu: null, startMs: at, endMs: at + n.runMs });
      return;
    }
    const c = this.cards[card]!;
    let begin = at;
    if (load && n.model !== null) {
      const ms = this.models.loadMs(n.model);
      this.loads.push({ gpu: card, model: n.model, atMs: at, ms });
      c.model = n.model;
      c.busyUntil = at + ms;
      begin = at + ms;
    }
    c.running.push({ node: n, end: begin + n.runMs });
    c.tasks += 1;
    c.peak = Math.max(c.peak, heldMb(c, this.models));
    this.schedule.push({ id: n.id, gpu: card, startMs: begin, endMs: begin + n.runMs });
  }

  /** Starts the node now if it can: false when it must wait for a card. */
  place(n: PredictNode): boolean {
    const never = neverFits(n, this.gpus);
    if (never !== null) {
      this.started.add(n.id);
      this.end.set(n.id, this.now);
      this.unplaceable.push({ id: n.id, reason: never });
      this.schedule.push({ id: n.id, gpu: null, startMs: this.now, endMs: this.now });
      return true;
    }
    if (n.place === 'brain') {
      this.start(n, null, false);
      return true;
    }
    const anyCold = this.cards.some((c) => c.model === null && (c.g.budgetMb ?? Infinity) >= n.reserveMb);
    const holds = (c: Card) => Number(c.model !== null && c.model === n.model);
    const pick = this.cards
      .map((c, i) => ({ c, i, f: fits(c, n, this.now, anyCold) }))
      .filter((o) => o.f.ok)
      .sort((a, b) => holds(b.c) - holds(a.c) || a.c.running.length - b.c.running.length || a.i - b.i)[0];
    if (!pick) return false;
    // A script task on an idle hot card (no cold one left): the brain cools it first.
    if (n.taskClass === 'script' && pick.c.model !== null) pick.c.model = null;
    this.start(n, pick.i, pick.f.load);
    return true;
  }

  /** The next time something ends or becomes ready; Infinity when nothing will. */
  nextTime(ready: ReadonlyArray<{ at: number }>): number {
    return Math.min(
      ...this.cards.flatMap((c) => [...c.running.map((r) => r.end), c.busyUntil > this.now ? c.busyUntil : Infinity]),
      ...this.brainRunning.map((r) => r.end),
      ...ready.filter((r) => r.at > this.now).map((r) => r.at),
    );
  }
}

export function predictSchedule(nodes: readonly PredictNode[], gpus: readonly PredictGpu[], models: ModelFacts): Prediction {
  const sim = new Simulation(nodes, gpus, models);
  for (;;) {
    sim.finishUpTo(sim.now);
    if (sim.end.size === nodes.length) break;
    const ready = sim.ready();
    const before = sim.started.size;
    let waiting = false;
    for (const { n, at } of ready) if (at <= sim.now && !sim.place(n)) waiting = true;
    const next = sim.nextTime(ready);
    if (next !== Infinity) {
      sim.now = Math.max(sim.now, next);
      continue;
    }
    // A task no card takes ended at once: its dependants may be ready now.
    if (sim.started.size > before) continue;
    // Nothing runs and nothing becomes ready later, yet nodes are left: a task that waits on an idle rig, or a cycle.
    throw new Error(waiting ? 'bug: ready tasks wait on an idle rig' : 'bug: the graph has a cycle or a node never became ready');
  }
  return {
    makespanMs: Math.max(0, ...sim.end.values()),
    gpus: sim.cards.map((c) => ({ name: c.g.name, peakMb: Math.round(c.peak), tasks: c.tasks })),
    schedule: sim.schedule,
    loads: sim.loads,
    unplaceable: sim.unplaceable,
  };
}
