// What `forge submit --dry-run` says about a plan, as a pure function of what the dry run read:
// the batch's tasks as the brain would make them, the rig's config and heartbeats, and the
// learned profiles (brain/profiles.json). It orders the tasks, asks the executor policy about
// each command (the workers' own judge, checkPolicy), turns the graph into a predictor's graph
// (agents/plan/predict.ts) with the learned figures, and says what it assumed where it had none.
import { type Config, taskModel } from '../core/config.ts';
import type { Heartbeat } from '../core/heartbeat.ts';
import type { Task } from '../core/task.ts';
import { type Profiles, type TemplateProfile, profileKey } from '../brain/profiles.ts';
import { taskCost } from '../gpu/claimPolicy.ts';
import { budgetTotal } from '../gpu/decideClaims.ts';
import { checkPolicy, type Verdict } from '../worker/policy.ts';
import { MinHeap } from './minHeap.ts';
import { type ModelFacts, type PredictGpu, type PredictNode, predictSchedule } from './predict.ts';

/** A model load with no measured time is counted as this long (a 7B model from a local disk; old cards over PCIe x1 take longer). */
export const DEFAULT_MODEL_LOAD_MS = 60_000;

export interface DryRunFacts {
  tasks: readonly Task[];
  config: Config;
  heartbeats: readonly Heartbeat[];
  profiles: Profiles;
}

export interface DryRunTask {
  name: string;
  type: Task['type'];
  task_class: Task['task_class'];
  executor: Task['executor'];
  depends_on: string[];
  command: string | null;
  /** A foreach template: its manifest and the items it is counted with. */
  foreach: null | { manifest: string; items: number | null; counted_as: number; note: string };
  /** Learned runtime of one run (the median of the last batch), ms; null: no history. */
  runtime_ms: number | null;
  /** Learned VRAM peak of one run, MB; null: never measured. */
  peak_vram_mb: number | null;
  /** The VRAM the agent reserves for it (vram_estimate_mb, as learned estimates set it). */
  vram_estimate_mb: number;
  model: string | null;
  /** The executor policy's verdict on its command; null for tasks with no command. */
  policy: null | { verdict: Verdict; reason: string };
  /** The batch the learned figures come from. */
  learned_from: string | null;
}

export interface DryRunReport {
  plan: string;
  tasks: DryRunTask[];
  prediction: {
    wall_ms: number;
    gpus: Array<{ name: string; peak_vram_mb: number; budget_mb: number | null; tasks: number }>;
    /** Tasks with no learned runtime: counted as 0 s. */
    no_history: string[];
    /** Tasks no GPU could take (the brain would fail them as unschedulable). */
    unschedulable: Array<{ task: string; reason: string }>;
    /** What was assumed where nothing was learned or seen, in words. */
    notes: string[];
  };
  model_loads: Array<{ gpu: string; model: string; load_ms: number; load_from: string }>;
  needs_approval: Array<{ task: string; reason: string }>;
  blocked: Array<{ task: string; reason: string }>;
}

/** The tasks in an order where each comes after its dependencies; among those ready, the plan's order. */
export function orderTasks<T extends Pick<Task, 'id' | 'depends_on'>>(tasks: readonly T[]): T[] {
  const index = new Map(tasks.map((t, i) => [t.id, i]));
  const left = tasks.map((t) => new Set(t.depends_on.filter((d) => index.has(d))).size);
  const dependants = tasks.map(() => [] as number[]);
  tasks.forEach((t, i) => new Set(t.depends_on).forEach((d) => index.has(d) && dependants[index.get(d)!]!.push(i)));
  const ready = new MinHeap<number>((a, b) => a < b);
  left.forEach((n, i) => n === 0 && ready.push(i));
  const out: T[] = [];
  for (let i = ready.pop(); i !== undefined; i = ready.pop()) {
    out.push(tasks[i]!);
    for (const d of dependants[i]!) if (--left[d]! === 0) ready.push(d);
  }
  if (out.length < tasks.length) {
    const stuck = tasks.filter((_, i) => left[i]! > 0).map((t) => t.id);
    throw new Error(`bug: the tasks ${stuck.join(', ')} depend on one another (the plan passed its checks)`);
  }
  return out;
}

function gpusOf(facts: DryRunFacts, notes: string[]): Array<PredictGpu & { budget: number | null }> {
  const { config, heartbeats } = facts;
  return config.gpus.map((g) => {
    const hb = heartbeats.find((h) => h.gpu_id === g.id);
    if (!hb) notes.push(`${g.name}: no heartbeat on the mount, so its VRAM is not known; counted with no VRAM limit (start the rig for a better prediction)`);
    const total = hb?.vram_total_mb ?? null;
    const budget = total ? budgetTotal({ gpu: { memory_total_mb: total, memory_used_mb: null } }, config) : null;
    // Loading counts as held: the load is under way, not one this batch causes.
    const hot = hb && hb.model !== null && (hb.model_loaded || hb.state === 'hot' || hb.state === 'loading') ? hb.model : null;
    return { name: g.name, budgetMb: budget, budget, maxWorkers: config.resource_limits.max_workers, slots: g.num_parallel, model: hot };
  });
}

function modelFacts(facts: DryRunFacts): ModelFacts & { source: (m: string) => string } {
  const measured = (m: string) => {
    const seen = facts.heartbeats.filter((h) => h.load_ms[m] !== undefined);
    if (seen.length) return { ms: Math.max(...seen.map((h) => h.load_ms[m]!)), from: `measured by ${seen.map((h) => h.name).join(', ')}` };
    const learned = facts.profiles.models[m];
    if (learned) return { ms: learned.load_ms, from: 'learned from a load_llm task' };
    return { ms: DEFAULT_MODEL_LOAD_MS, from: 'never measured, so the default' };
  };
  return {
    loadMs: (m) => measured(m).ms,
    source: (m) => measured(m).from,
    sizeMb: (m) => {
      const hb = facts.heartbeats.find((h) => h.model === m && h.model_mb > 0);
      return hb?.model_mb ?? facts.config.models[m]?.vram_mb ?? null;
    },
  };
}

interface Figures {
  profile: TemplateProfile | undefined;
  runMs: number | null;
  holdMb: number;
}

function figuresOf(t: Task, facts: DryRunFacts): Figures {
  const profile = facts.profiles.templates[profileKey(t.plan, t.name)];
  const runMs = profile && profile.runs > 0 ? (t.executor === 'brain' && !t.foreach ? 0 : profile.median_ms) : null;
  const measured = profile?.peak_vram_mb ?? null;
  const holdMb = measured ?? (t.task_class === 'script' ? t.vram_estimate_mb : 0);
  return { profile, runMs, holdMb };
}

/** The predictor's nodes of one task: one, or for a foreach template its items and its close. */
function nodesOf(t: Task, f: Figures, items: number, facts: DryRunFacts, budget: number, names: Map<string, string>): PredictNode[] {
  const base = {
    deps: t.depends_on,
    place: t.executor === 'brain' ? ('brain' as const) : ('gpu' as const),
    taskClass: t.task_class,
    worker: t.task_class !== 'meta' && t.executor === 'worker',
    runMs: f.runMs ?? 0,
    lagMs: f.profile?.start_lag_ms ?? 0,
    reserveMb: taskCost(t, facts.config, budget, false),
    holdMb: f.holdMb,
    model: t.task_class === 'llm' ? taskModel(t, facts.config) : null,
  };
  if (!t.foreach) return [{ id: t.id, ...base }];
  const children = Array.from({ length: items }, (_, i) => ({ ...base, id: `${t.id}.${i + 1}`, place: 'gpu' as const }));
  for (const c of children) names.set(c.id, t.name);
  const close: PredictNode = { ...base, id: t.id, deps: children.map((c) => c.id), place: 'brain', worker: false, runMs: 0, lagMs: f.profile?.close_ms ?? 0, reserveMb: 0, holdMb: 0, model: null };
  return [...children, close];
}

export function buildDryRunReport(facts: DryRunFacts): DryRunReport {
  const notes: string[] = [];
  const ordered = orderTasks(facts.tasks);
  const nameOf = new Map(ordered.map((t) => [t.id, t.name]));
  const gpus = gpusOf(facts, notes);
  const budget = Math.max(0, ...gpus.map((g) => g.budget ?? 0));
  const models = modelFacts(facts);
  const nodes: PredictNode[] = [];
  const tasks: DryRunTask[] = [];
  const noHistory: string[] = [];
  const needsApproval: DryRunReport['needs_approval'] = [];
  const blocked: DryRunReport['blocked'] = [];
  for (const t of ordered) {
    const f = figuresOf(t, facts);
    let foreach: DryRunTask['foreach'] = null;
    let items = 1;
    if (t.foreach) {
      const learned = f.profile?.items ?? null;
      const writers = t.depends_on.map((d) => nameOf.get(d) ?? d).join(', ') || 'its dependencies';
      items = learned ?? 1;
      // The batch's folder does not exist yet: shown as the plan writes it.
      const path = t.foreach.path.startsWith(t.batch_path) ? `{BATCH_PATH}${t.foreach.path.slice(t.batch_path.length)}` : t.foreach.path;
      const manifest = `${path}:${t.foreach.key}`;
      const note = learned !== null ? `${learned} items, as in batch ${f.profile!.batch}` : `unknown until ${writers} runs; counted as 1 item`;
      foreach = { manifest, items: learned, counted_as: items, note };
    }
    if (f.runMs === null && t.executor !== 'brain') noHistory.push(t.name);
    if (t.task_class === 'script' && f.profile?.peak_vram_mb == null) {
      notes.push(`${t.name}: no measured VRAM; counted at its estimate, ${t.vram_estimate_mb} MB`);
    }
    nodes.push(...nodesOf(t, f, items, facts, budget, nameOf));
    let policy: DryRunTask['policy'] = null;
    if (t.type === 'shell' && t.argv) {
      const d = checkPolicy(t.argv, { policy: facts.config.executor, cwd: t.cwd, batchPath: t.batch_path, approved: false });
      policy = { verdict: d.verdict, reason: d.reason };
      if (d.verdict === 'NEEDS_APPROVAL') needsApproval.push({ task: t.name, reason: d.reason });
      if (d.verdict === 'BLOCKED') blocked.push({ task: t.name, reason: d.reason });
    }
    tasks.push({
      name: t.name, type: t.type, task_class: t.task_class, executor: t.executor,
      depends_on: t.depends_on.map((d) => nameOf.get(d) ?? d), command: t.command, foreach,
      runtime_ms: t.executor === 'brain' && !t.foreach ? 0 : f.runMs, peak_vram_mb: f.profile?.peak_vram_mb ?? null,
      vram_estimate_mb: t.vram_estimate_mb, model: t.task_class === 'llm' || t.type === 'load_llm' ? taskModel(t, facts.config) : null,
      policy, learned_from: f.profile?.batch ?? null,
    });
  }
  if (noHistory.length) notes.push(`no history for ${noHistory.join(', ')}: counted as 0 s each (a task's timeout would say hours; its real time is unknown until it has run once)`);
  const p = predictSchedule(nodes, gpus, models);
  for (const l of p.loads) {
    if (models.sizeMb(l.model) === null) notes.push(`${l.model}: resident size not known (config models, or a load seen in a heartbeat); counted as 0 MB in the peaks`);
  }
  return {
    plan: ordered[0]?.plan ?? '',
    tasks,
    prediction: {
      wall_ms: Math.round(p.makespanMs),
      gpus: p.gpus.map((g, i) => ({ name: g.name, peak_vram_mb: g.peakMb, budget_mb: gpus[i]!.budget, tasks: g.tasks })),
      no_history: noHistory,
      unschedulable: p.unplaceable.map((u) => ({ task: nameOf.get(u.id) ?? u.id, reason: u.reason })),
      notes: [...new Set(notes)],
    },
    model_loads: p.loads.map((l) => ({ gpu: gpus[l.gpu]!.name, model: l.model, load_ms: l.ms, load_from: models.source(l.model) })),
    needs_approval: needsApproval,
    blocked,
  };
}
