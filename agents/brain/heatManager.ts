// The I/O around heat.ts: counts the queue by class, writes the brain's load_llm/unload_llm
// meta tasks (persisted in queue/, so a restarted brain de-duplicates against them), and
// archives them once done. Meta tasks of the rig belong to the pseudo-batch "rig".
import type { Clock } from '../core/clock.ts';
import { isoTime } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import type { DecisionLog } from '../core/decisionLog.ts';
import type { MountPaths, TaskFolder } from '../core/paths.ts';
import type { TaskStore } from '../core/store.ts';
import { type TaskInput, taskId } from '../core/task.ts';
import { type SealRecord, addToSeal, readSeal, writeSeal } from '../core/seal.ts';
import type { TaskView } from './decide.ts';
import { decideHeat } from './heat.ts';
import type { AgentWatcher } from './watchAgents.ts';

export const RIG_BATCH = 'rig';

/** rig__load_llm.gpu-0.<ms>: type, target agent and a stamp, readable from the id alone. */
export function parseRigTaskId(id: string): { type: 'load_llm' | 'unload_llm'; agent: string } | null {
  const m = /^rig__(load_llm|unload_llm)\.(.+)\.\d+$/.exec(id);
  return m ? { type: m[1] as 'load_llm' | 'unload_llm', agent: m[2]! } : null;
}

export class HeatManager {
  private readonly o: { paths: MountPaths; config: Config; clock: Clock; store: TaskStore; log: DecisionLog };
  private readonly lastChange = new Map<string, number>();
  private rigSeal: SealRecord | null = null;
  private lastRun = 0;

  constructor(o: { paths: MountPaths; config: Config; clock: Clock; store: TaskStore; log: DecisionLog }) {
    this.o = o;
  }

  async step(tasks: ReadonlyMap<string, TaskView>, rigTasks: ReadonlyMap<string, TaskFolder>, watcher: AgentWatcher): Promise<void> {
    const now = this.o.clock.now();
    await this.archiveFinished(rigTasks);
    if (now - this.lastRun < 1000) return;
    this.lastRun = now;
    let queuedLlm = 0;
    let pendingLlm = 0;
    let pendingScript = 0;
    for (const v of tasks.values()) {
      const open = v.folder === 'queue' || v.folder === 'processing' || (v.folder === 'private' && v.task.result === null && v.task.expanded_into === null);
      if (!open) continue;
      if (v.task.task_class === 'llm') {
        pendingLlm += 1;
        if (v.folder === 'queue') queuedLlm += 1;
      } else if (v.task.task_class === 'script') pendingScript += 1;
    }
    const inFlight = [...rigTasks]
      .filter(([, f]) => f === 'queue' || f === 'processing')
      .map(([id]) => parseRigTaskId(id))
      .filter((x): x is NonNullable<typeof x> => x !== null);
    const actions = decideHeat({
      beats: watcher.aliveBeats(), queuedLlm, pendingLlm, pendingScript, inFlight, lastChange: this.lastChange, now,
      dwellMs: this.o.config.heat_dwell_s * 1000,
    });
    for (const a of actions) {
      const type = a.kind === 'heat' ? 'load_llm' : 'unload_llm';
      const gpu = this.o.config.gpus.find((g) => g.name === a.agent);
      const name = `${type}.${a.agent}.${now}`;
      const meta: TaskInput = {
        id: taskId(RIG_BATCH, name), batch: RIG_BATCH, plan: RIG_BATCH, name, type, task_class: 'meta', executor: 'agent',
        target: a.agent, model: gpu?.model ?? null, command: null, argv: null, cwd: this.o.paths.root, batch_path: this.o.paths.root,
        vram_estimate_mb: 0, timeout_s: this.o.config.timeouts.model_load_s, max_attempts: 1, created_at: isoTime(now),
      };
      await this.sealMeta(meta);
      await this.o.store.write('queue', meta);
      this.lastChange.set(a.agent, now);
      await this.o.log.write({ who: 'brain', what: a.kind === 'heat' ? 'HEAT' : 'COOL', task: taskId(RIG_BATCH, name), reason: `${a.agent}: ${a.reason}` });
    }
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
        await this.o.log.write({
          who: 'brain', what: folder === 'complete' ? 'META_DONE' : 'META_FAILED', task: id,
          reason: `${r.task.claimed_by ?? '?'}: ${r.task.result?.reason ?? r.task.result?.outcome ?? ''}`,
        });
      }
    }
  }
}
