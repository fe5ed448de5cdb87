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
import { MinHeap } from './minHeap.ts';

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

interface Ready {
  n: PredictNode;
  at: number;
  order: number;
}

const earlier = (a: Ready, b: Ready): boolean => a.at < b.at || (a.at === b.at && a.order < b.order);

/** Nodes alike in everything a card's "can I take it" looks at: when one does not fit now, none of them does. */
function kindOf(n: PredictNode): string {
  return `${n.place}|${n.taskClass}|${n.worker}|${n.reserveMb}|${n.model ?? ''}`;
}

/**
 * One simulation: the cards, what runs, what has ended, and the time. Ready nodes wait in one
 * queue per kind (kindOf), ordered by the time they became ready, then the graph's order; a
 * pass places from the queue whose head comes first until every queue's head is later or does
 * not fit. So a foreach of 100,000 items costs a few operations per item, not a scan of all.
 */
class Simulation {
  readonly cards: Card[];
  readonly end = new Map<string, number>();
  readonly schedule: Placed[] = [];
  readonly loads: ModelLoad[] = [];
  readonly unplaceable: Prediction['unplaceable'] = [];
  now = 0;
  private readonly brainRunning = new MinHeap<{ node: PredictNode; end: number }>((a, b) => a.end < b.end);
  private readonly queues = new Map<string, MinHeap<Ready>>();
  private readonly order = new Map<string, number>();
  private readonly depsLeft = new Map<string, number>();
  private readonly depsEnd = new Map<string, number>();
  private readonly dependants = new Map<string, PredictNode[]>();
  private readonly gpus: readonly PredictGpu[];
  private readonly models: ModelFacts;

  constructor(nodes: readonly PredictNode[], gpus: readonly PredictGpu[], models: ModelFacts) {
    this.gpus = gpus;
    this.models = models;
    nodes.forEach((n, i) => this.order.set(n.id, i));
    for (const n of nodes) {
      for (const d of new Set(n.deps)) {
        if (!this.order.has(d)) throw new Error(`bug: ${n.id} depends on ${d}, which is not in the graph`);
        const list = this.dependants.get(d);
        if (list) list.push(n);
        else this.dependants.set(d, [n]);
      }
      this.depsLeft.set(n.id, new Set(n.deps).size);
    }
    this.cards = gpus.map((g) => ({ g, model: g.model, busyUntil: 0, running: [], peak: 0, tasks: 0 }));
    for (const c of this.cards) c.peak = heldMb(c, models);
    for (const n of nodes) if (n.deps.length === 0) this.becomeReady(n, 0);
  }

  private becomeReady(n: PredictNode, depsEnd: number): void {
    const kind = kindOf(n);
    let q = this.queues.get(kind);
    if (!q) this.queues.set(kind, (q = new MinHeap(earlier)));
    q.push({ n, at: depsEnd + n.lagMs, order: this.order.get(n.id)! });
  }

  private ended(n: PredictNode, at: number): void {
    this.end.set(n.id, at);
    for (const d of this.dependants.get(n.id) ?? []) {
      const left = this.depsLeft.get(d.id)! - 1;
      const latest = Math.max(this.depsEnd.get(d.id) ?? 0, at);
      this.depsLeft.set(d.id, left);
      this.depsEnd.set(d.id, latest);
      if (left === 0) this.becomeReady(d, latest);
    }
  }

  /** Ends what runs until t. */
  finishUpTo(t: number): void {
    for (const c of this.cards) {
      const done = c.running.filter((r) => r.end <= t);
      if (!done.length) continue;
      c.running = c.running.filter((r) => r.end > t);
      for (const r of done) this.ended(r.node, r.end);
    }
    while ((this.brainRunning.peek()?.end ?? Infinity) <= t) {
      const r = this.brainRunning.pop()!;
      this.ended(r.node, r.end);
    }
  }

  private start(n: PredictNode, card: number | null, load: boolean): void {
    const at = this.now;
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
  private place(n: PredictNode): boolean {
    const never = neverFits(n, this.gpus);
    if (never !== null) {
      this.unplaceable.push({ id: n.id, reason: never });
      this.schedule.push({ id: n.id, gpu: null, startMs: this.now, endMs: this.now });
      this.ended(n, this.now);
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

  /** Places what is ready now, earliest first; true when something ready has to wait for a card. */
  placeReady(): boolean {
    const stuck = new Set<string>();
    for (;;) {
      let best: { kind: string; head: Ready } | null = null;
      for (const [kind, q] of this.queues) {
        const head = q.peek();
        if (!head || head.at > this.now || stuck.has(kind)) continue;
        if (!best || earlier(head, best.head)) best = { kind, head };
      }
      if (!best) return stuck.size > 0;
      if (this.place(best.head.n)) this.queues.get(best.kind)!.pop();
      else stuck.add(best.kind);
    }
  }

  /** The next time something ends or becomes ready; Infinity when nothing will. */
  nextTime(): number {
    let next = this.brainRunning.peek()?.end ?? Infinity;
    for (const c of this.cards) {
      if (c.busyUntil > this.now) next = Math.min(next, c.busyUntil);
      for (const r of c.running) next = Math.min(next, r.end);
    }
    for (const q of this.queues.values()) {
      const head = q.peek();
      if (head && head.at > this.now) next = Math.min(next, head.at);
    }
    return next;
  }
}

export function predictSchedule(nodes: readonly PredictNode[], gpus: readonly PredictGpu[], models: ModelFacts): Prediction {
  const sim = new Simulation(nodes, gpus, models);
  for (;;) {
    sim.finishUpTo(sim.now);
    if (sim.end.size === nodes.length) break;
    const waiting = sim.placeReady();
    const next = sim.nextTime();
    if (next === Infinity) {
      // Nothing runs and nothing becomes ready later: done (tasks no card takes end at once), or a bug.
      if (sim.end.size === nodes.length) break;
      throw new Error(waiting ? 'bug: ready tasks wait on an idle rig' : 'bug: the graph has a cycle or a node never became ready');
    }
    sim.now = Math.max(sim.now, next);
  }
  let makespanMs = 0;
  for (const e of sim.end.values()) makespanMs = Math.max(makespanMs, e);
  return {
    makespanMs,
    gpus: sim.cards.map((c) => ({ name: c.g.name, peakMb: Math.round(c.peak), tasks: c.tasks })),
    schedule: sim.schedule,
    loads: sim.loads,
    unplaceable: sim.unplaceable,
  };
}
