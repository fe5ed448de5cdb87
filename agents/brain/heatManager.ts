// The I/O around heat.ts: counts the queue by class, writes the brain's load_llm/unload_llm
// meta tasks (persisted in queue/, so a restarted brain de-duplicates against them), and
// archives them once done. Meta tasks of the rig belong to the pseudo-batch "rig".
import { declaredModelMb } from '../core/adapterConfig.ts';
import type { Clock } from '../core/clock.ts';
import { isoTime } from '../core/clock.ts';
import { type Config, sameModelName, taskModel } from '../core/config.ts';
import type { Heartbeat } from '../core/heartbeat.ts';
import type { DecisionLog } from '../core/decisionLog.ts';
import type { MountPaths, TaskFolder } from '../core/paths.ts';
import type { TaskStore } from '../core/store.ts';
import { type TaskInput, taskId } from '../core/task.ts';
import { type SealRecord, addToSeal, readSeal, writeSeal } from '../core/seal.ts';
import type { TaskView } from './decide.ts';
import { awaitsGate } from './gateSkip.ts';
import { type HeatAction, type HeatPlan, type ModelDemand, decideHeat, heldBy } from './heat.ts';
import { OpenMeta } from './openMeta.ts';
import type { AgentWatcher } from './watchAgents.ts';

export const RIG_BATCH = 'rig';

/** rig__load_llm.gpu-0.<ms>: type, target agent and a stamp, readable from the id alone. */
export function parseRigTaskId(id: string): { type: 'load_llm' | 'unload_llm'; agent: string } | null {
  const m = /^rig__(load_llm|unload_llm)\.(.+)\.\d+$/.exec(id);
  return m ? { type: m[1] as 'load_llm' | 'unload_llm', agent: m[2]! } : null;
}

/** Not finished anywhere: waiting (and not expanded), queued or running. */
function isOpen(v: TaskView): boolean {
  return v.folder === 'queue' || v.folder === 'processing' || (v.folder === 'private' && v.task.result === null && v.task.expanded_into === null);
}

function* chain<T>(...lists: Iterable<T>[]): Iterable<T> {
  for (const l of lists) yield* l;
}

export class HeatManager {
  private readonly o: { paths: MountPaths; config: Config; clock: Clock; store: TaskStore; log: DecisionLog };
  private readonly lastChange = new Map<string, number>();
  private readonly lastWanted = new Map<string, number>();
  private readonly lastHeld = new Map<string, string | null>();
  /** Mean request time per model, ms, and measured resident sizes, MB. */
  private readonly taskMs = new Map<string, number>();
  private readonly sizes = new Map<string, number>();
  /** The model of each meta task this brain queued (ids of an earlier life: unknown). */
  private readonly metaModels = new Map<string, string | null>();
  private readonly waitSaid = new Map<string, string>();
  /** Loads done, per agent, until its heartbeat shows the model. */
  private readonly loadsDone = new Map<string, { model: string | null; at: number }>();
  private rigSeal: SealRecord | null = null;
  private lastRun = 0;
  /** Meta tasks open across passes, unseen ones too for three external cycles (openMeta.ts). */
  private readonly openMeta: OpenMeta;

  constructor(o: { paths: MountPaths; config: Config; clock: Clock; store: TaskStore; log: DecisionLog }) {
    this.o = o;
    this.openMeta = new OpenMeta(3 * o.config.cycles.external_s * 1000);
  }

  /** `extra`: llm work outside the batches (the realtime questions' open tasks, brain/requests.ts), counted as demand too. */
  async step(tasks: ReadonlyMap<string, TaskView>, rigTasks: ReadonlyMap<string, TaskFolder>, watcher: AgentWatcher, extra: Iterable<TaskView> = []): Promise<void> {
    const now = this.o.clock.now();
    // Every pass, before archiving: a finished task is seen finished once, then it is gone.
    const open = this.openMeta.update(rigTasks, now);
    await this.archiveFinished(rigTasks);
    if (now - this.lastRun < 1000) return;
    this.lastRun = now;
    const { config } = this.o;
    const beats = watcher.aliveBeats();
    this.learnSizes(beats);
    const { demand, pendingScript } = this.demandOf(tasks, extra);
    const configuredModel = (agent: string) => config.gpus.find((g) => g.name === agent)?.model ?? null;
    this.noteWanted(beats, demand, now, configuredModel);
    const inFlight = open
      .map((id) => {
        const p = parseRigTaskId(id);
        return p ? { ...p, model: this.metaModels.get(id) ?? null } : null;
      })
      .filter((x): x is NonNullable<typeof x> => x !== null);
    inFlight.push(...this.loadsNotYetSeen(beats, now, configuredModel).filter((l) => !inFlight.some((f) => f.agent === l.agent)));
    const plan = decideHeat({
      beats, demand, pendingScript, inFlight, lastChange: this.lastChange, lastWanted: this.lastWanted, now,
      dwellMs: config.heat_dwell_s * 1000, idleMs: config.heat_idle_s * 1000,
      // Before any agent has measured a load: a tenth of the load deadline (30 s by default).
      defaultLoadMs: (config.timeouts.model_load_s * 1000) / 10,
      budgetPercent: config.resource_limits.vram_budget_percent, configuredModel,
    });
    for (const a of plan.actions) await this.queueMeta(a, now);
    await this.logWaits(plan.waits);
  }

  /** llm work per model (queued and pending, mean task time, size), and script work pending. */
  private demandOf(tasks: ReadonlyMap<string, TaskView>, extra: Iterable<TaskView> = []): { demand: ModelDemand[]; pendingScript: number } {
    const { config } = this.o;
    const byModel = new Map<string, ModelDemand & { msSum: number; msN: number }>();
    let pendingScript = 0;
    const gateMemo = new Map<string, boolean>();
    for (const v of chain(tasks.values(), extra)) {
      const t = v.task;
      // Behind a gate that has not said yes yet: it may never run (brain/gateSkip.ts).
      if (v.folder === 'private' && awaitsGate(t.id, tasks, gateMemo)) continue;
      if (t.task_class === 'script') {
        if (isOpen(v)) pendingScript += 1;
        continue;
      }
      if (t.task_class !== 'llm') continue;
      const m = taskModel(t, config);
      const key = [...byModel.keys()].find((k) => sameModelName(k, m)) ?? m;
      const d = byModel.get(key) ?? { model: key, queued: 0, pending: 0, taskMs: null, sizeMb: this.sizeOf(key), msSum: 0, msN: 0 };
      byModel.set(key, d);
      if (isOpen(v)) {
        d.pending += 1;
        if (v.folder === 'queue') d.queued += 1;
      } else if (v.folder === 'complete' && t.result?.llm) {
        d.msSum += t.result.llm.request_ms;
        d.msN += 1;
      }
    }
    const demand: ModelDemand[] = [];
    for (const d of byModel.values()) {
      // Finished tasks leave the view once archived: the last mean seen is kept.
      if (d.msN) this.taskMs.set(d.model, d.msSum / d.msN);
      if (d.pending === 0) continue;
      demand.push({ model: d.model, queued: d.queued, pending: d.pending, taskMs: this.taskMs.get(d.model) ?? null, sizeMb: d.sizeMb });
    }
    return { demand, pendingScript };
  }

  /**
   * Loads that finished but whose agent's heartbeat does not show the model yet (the brain reads
   * heartbeats once per pass): counted as in flight, or the brain would heat the same card twice.
   * Given up after three external cycles.
   */
  private loadsNotYetSeen(beats: readonly Heartbeat[], now: number, configured: (a: string) => string | null) {
    const out: Array<{ agent: string; type: 'load_llm'; model: string | null }> = [];
    for (const [agent, l] of this.loadsDone) {
      const b = beats.find((x) => x.name === agent);
      const held = b ? heldBy(b, configured) : null;
      if ((held && l.model && sameModelName(held, l.model)) || now - l.at > 3 * this.o.config.cycles.external_s * 1000) this.loadsDone.delete(agent);
      else out.push({ agent, type: 'load_llm', model: l.model });
    }
    return out;
  }

  /** A model's resident size: the config's, else the smallest an agent has measured. */
  sizeOf(model: string): number | null {
    const declared = declaredModelMb(this.o.config.models, model);
    if (declared !== null) return declared;
    for (const [m, mb] of this.sizes) if (sameModelName(m, model)) return mb;
    return null;
  }

  private learnSizes(beats: readonly Heartbeat[]): void {
    for (const b of beats) {
      if (!b.model || !b.model_loaded || b.model_mb <= 0) continue;
      const was = this.sizes.get(b.model);
      if (was === undefined || b.model_mb < was) this.sizes.set(b.model, b.model_mb);
    }
  }

  /** Idle time starts when an agent's model stops having work, or when it takes a new model. */
  private noteWanted(beats: readonly Heartbeat[], demand: readonly ModelDemand[], now: number, configured: (a: string) => string | null): void {
    for (const b of beats) {
      const m = heldBy(b, configured);
      const changed = this.lastHeld.get(b.name) !== m;
      this.lastHeld.set(b.name, m);
      const wanted = m !== null && demand.some((d) => sameModelName(d.model, m) && d.pending > 0);
      if (changed || wanted || !this.lastWanted.has(b.name)) this.lastWanted.set(b.name, now);
    }
  }

  private async queueMeta(a: HeatAction, now: number): Promise<void> {
    const type = a.kind === 'heat' ? 'load_llm' : 'unload_llm';
    const gpu = this.o.config.gpus.find((g) => g.name === a.agent);
    const name = `${type}.${a.agent}.${now}`;
    const id = taskId(RIG_BATCH, name);
    const meta: TaskInput = {
      id, batch: RIG_BATCH, plan: RIG_BATCH, name, type, task_class: 'meta', executor: 'agent',
      target: a.agent, model: a.model ?? gpu?.model ?? null, command: null, argv: null, cwd: this.o.paths.root, batch_path: this.o.paths.root,
      vram_estimate_mb: 0, timeout_s: this.o.config.timeouts.model_load_s, max_attempts: 1, created_at: isoTime(now),
    };
    await this.sealMeta(meta);
    await this.o.store.write('queue', meta);
    this.lastChange.set(a.agent, now);
    this.openMeta.queued(id, now);
    this.metaModels.set(id, meta.model ?? null);
    if (this.metaModels.size > 1000) this.metaModels.delete(this.metaModels.keys().next().value!);
    await this.o.log.write({ who: 'brain', what: a.kind === 'heat' ? 'HEAT' : 'COOL', task: id, reason: `${a.agent}: ${a.reason}` });
  }

  /** Why queued llm work has no card: logged once per model and reason, and again when the reason changes. */
  private async logWaits(waits: HeatPlan['waits']): Promise<void> {
    const seen = new Set<string>();
    for (const w of waits) {
      seen.add(w.model);
      if (this.waitSaid.get(w.model) === w.reason) continue;
      this.waitSaid.set(w.model, w.reason);
      await this.o.log.write({ who: 'brain', what: 'HEAT_HOLD', reason: `${w.model}: queued llm work waits; ${w.reason}` });
    }
    for (const m of [...this.waitSaid.keys()]) if (!seen.has(m)) this.waitSaid.delete(m);
  }

  /** The rig's own tasks are sealed like a batch's (brain/seals/rig.json), keeping the newest few hundred. */
  private async sealMeta(t: TaskInput): Promise<void> {
    const seal = addToSeal(this.rigSeal ?? (await readSeal(this.o.paths, RIG_BATCH)), RIG_BATCH, this.o.paths.root, [t]);
    const ids = Object.keys(seal.tasks);
    for (const old of ids.slice(0, Math.max(0, ids.length - 500))) delete seal.tasks[old];
    await writeSeal(this.o.paths, seal);
    this.rigSeal = seal;
  }

  /** Finished meta tasks of the rig are logged and moved out of the live folders. */
  private async archiveFinished(rigTasks: ReadonlyMap<string, TaskFolder>): Promise<void> {
    for (const [id, folder] of rigTasks) {
      if (folder !== 'complete' && folder !== 'failed') continue;
      const r = await this.o.store.read(folder, id);
      if (!r.ok && r.reason === 'not_ready') continue; // torn or unreadable for now: the next pass looks again
      await this.o.store.archive(id, folder, RIG_BATCH).catch(() => false);
      if (r.ok) {
        const meta = parseRigTaskId(id);
        if (meta?.type === 'load_llm' && folder === 'complete') this.loadsDone.set(meta.agent, { model: r.task.model, at: this.o.clock.now() });
        await this.o.log.write({
          who: 'brain', what: folder === 'complete' ? 'META_DONE' : 'META_FAILED', task: id,
          reason: `${r.task.claimed_by ?? '?'}: ${r.task.result?.reason ?? r.task.result?.outcome ?? ''}`,
        });
      }
    }
  }
}
