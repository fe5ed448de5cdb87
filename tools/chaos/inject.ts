// The fault injector: a seeded schedule of faults, and the code that delivers each one to the
// live rig. Kills are SIGKILL (no cleanup, no last heartbeat): the brain, an agent (its
// workers live on as orphans), a worker (its task lives on in its own process group), or a
// task's process group (as the kernel's OOM killer would). Garbage is written straight into
// the folders the rig scans, the way a person or a broken tool would leave it.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readHeartbeat } from '../../agents/core/heartbeat.ts';
import type { MountPaths } from '../../agents/core/paths.ts';
import {
  type ChaosEvent, type GarbageFolder, type GarbageKind, type HitTask, type KillTarget,
  GARBAGE_FOLDERS, GARBAGE_KINDS,
} from './events.ts';
import type { Rng } from './prng.ts';
import { type Supervisor, commandLineNames } from './supervisor.ts';

export type Fault =
  | { atMs: number; kind: 'kill'; target: KillTarget }
  | { atMs: number; kind: 'garbage'; folder: GarbageFolder; garbage: GarbageKind };

export interface ScheduleOptions {
  /** How many kills and garbage drops, inclusive ranges. */
  kills: [number, number];
  garbage: [number, number];
  /** Faults fall in [startMs, horizonMs] after the first submission. */
  startMs: number;
  horizonMs: number;
}

const KILL_WEIGHTS: ReadonlyArray<readonly [KillTarget, number]> = [['brain', 2], ['agent', 3], ['worker', 3], ['task', 2]];

export function makeSchedule(rng: Rng, o: ScheduleOptions): Fault[] {
  const at = () => rng.int(o.startMs, o.horizonMs);
  const faults: Fault[] = [];
  for (let i = rng.int(...o.kills); i > 0; i--) faults.push({ atMs: at(), kind: 'kill', target: rng.weighted(KILL_WEIGHTS) });
  for (let i = rng.int(...o.garbage); i > 0; i--) {
    faults.push({ atMs: at(), kind: 'garbage', folder: rng.pick(GARBAGE_FOLDERS), garbage: rng.pick(GARBAGE_KINDS) });
  }
  return faults.sort((a, b) => a.atMs - b.atMs);
}

export interface InjectorOptions {
  paths: MountPaths;
  supervisor: Supervisor;
  gpus: number;
  /** Target picks, restart delays and garbage contents: separate streams of the trial's seed. */
  picks: Rng;
  restarts: Rng;
  garbage: Rng;
  /** Restart delays in ms, inclusive ranges. Agents may stay down past heartbeat_stale_s. */
  brainRestartMs: [number, number];
  agentRestartMs: [number, number];
  /** Batches not yet final, for task-like garbage names. */
  activeBatches: () => string[];
  /** True once the trial stops injecting: a kill waiting for a target gives up. */
  stopped: () => boolean;
  record: (e: ChaosEvent) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Injector {
  private readonly o: InjectorOptions;
  private n = 0;
  private readonly names = new Set<string>();

  constructor(o: InjectorOptions) {
    this.o = o;
  }

  /** Delivers one fault; false when it found no target (nothing running to kill). */
  async apply(f: Fault, until: number): Promise<boolean> {
    if (f.kind === 'garbage') {
      await this.dropGarbage(f.folder, f.garbage);
      return true;
    }
    switch (f.target) {
      case 'brain':
        return this.killDaemon('brain', null, []);
      case 'agent':
        return this.killAgent();
      case 'worker':
      case 'task':
        return this.killWorkerOrTask(f.target, until);
    }
  }

  private killDaemon(role: 'brain' | 'agent', gpu: number | null, hit: HitTask[]): boolean {
    const range = role === 'brain' ? this.o.brainRestartMs : this.o.agentRestartMs;
    const delay = this.o.restarts.int(...range);
    const pid = this.o.supervisor.kill(role, gpu, delay);
    if (pid === null) return false;
    this.o.record({ t: Date.now(), kind: 'kill', target: role, pid, gpu, agent: gpu === null ? null : `gpu-${gpu}`, hit });
    return true;
  }

  private async killAgent(): Promise<boolean> {
    const up: Array<{ gpu: number; hit: HitTask[] }> = [];
    for (let gpu = 0; gpu < this.o.gpus; gpu++) {
      const pid = this.o.supervisor.pidOf('agent', gpu);
      if (pid === null) continue;
      // What it holds, as far as its last heartbeat says (a beat of an earlier life says nothing).
      const hb = await readHeartbeat(this.o.paths, gpu).catch(() => null);
      up.push({ gpu, hit: hb && hb.pid === pid ? hb.active_tasks.map(toHit) : [] });
    }
    if (!up.length) return false;
    // An agent that holds work, when one does: killing an idle agent tests little.
    const busy = up.filter((a) => a.hit.length > 0);
    const a = this.o.picks.pick(busy.length ? busy : up);
    return this.killDaemon('agent', a.gpu, a.hit);
  }

  /** Kills a running worker, or its task's process group; waits for one to exist until `until`. */
  private async killWorkerOrTask(target: 'worker' | 'task', until: number): Promise<boolean> {
    for (;;) {
      const candidates: Array<{ gpu: number; agent: string; hit: HitTask; pid: number }> = [];
      for (let gpu = 0; gpu < this.o.gpus; gpu++) {
        const hb = await readHeartbeat(this.o.paths, gpu).catch(() => null);
        if (!hb || hb.pid !== this.o.supervisor.pidOf('agent', gpu)) continue;
        for (const a of hb.active_tasks) {
          const pid = target === 'worker' ? a.pid : (a.task_pgid ?? null);
          // The heartbeat may be a second old: make sure the pid is still one of this trial's.
          if (pid !== null && (await commandLineNames(pid, this.o.paths.root))) candidates.push({ gpu, agent: hb.name, hit: toHit(a), pid });
        }
      }
      if (candidates.length) {
        candidates.sort((a, b) => a.hit.task_id.localeCompare(b.hit.task_id) || a.pid - b.pid);
        const c = this.o.picks.pick(candidates);
        try {
          // The worker alone (its task lives on in its own group), or the task's whole group.
          process.kill(target === 'worker' ? c.pid : -c.pid, 'SIGKILL');
        } catch {
          return false;
        }
        this.o.record({ t: Date.now(), kind: 'kill', target, pid: c.pid, gpu: c.gpu, agent: c.agent, hit: [c.hit] });
        return true;
      }
      if (Date.now() >= until || this.o.stopped()) return false;
      await sleep(100);
    }
  }

  private unique(name: string): string {
    let n = name;
    for (let i = 2; this.names.has(n); i++) n = name.replace(/(\.[a-z]+)$/, `-${i}$1`);
    this.names.add(n);
    return n;
  }

  private async dropGarbage(folder: GarbageFolder, kind: GarbageKind): Promise<void> {
    const r = this.o.garbage;
    const active = this.o.activeBatches();
    const batch = active.length ? r.pick(active) : null;
    const prefix = batch ?? 'chaos';
    const n = ++this.n;
    const halfTask = () => {
      const text = JSON.stringify({ id: `${prefix}__bogus${n}`, batch: prefix, plan: 'chaos', name: `bogus${n}`, task_class: 'cpu', command: 'true', argv: ['true'] }, null, 2);
      return text.slice(0, Math.max(1, Math.floor(text.length / 2)));
    };
    let name: string;
    let data: string | Uint8Array;
    switch (kind) {
      case 'random':
        name = this.unique(`junk-${r.hex(3)}.bin`);
        data = r.bytes(r.int(1, 300));
        break;
      case 'readme':
        name = this.unique('README.txt');
        data = 'Notes from a person: please do not delete this folder.\n';
        break;
      case 'half-task':
        name = this.unique(`${prefix}__bogus${n}.json`);
        data = halfTask();
        break;
      case 'alien':
        name = this.unique(`${prefix}__alien${n}.json`);
        data = JSON.stringify({ hello: 'world', note: 'valid JSON, not a task' }) + '\n';
        break;
      case 'temp':
        // What writeFileAtomic leaves when its writer dies between write and rename.
        name = this.unique(`.${prefix}__c1.json.${r.int(1000, 99999)}.${r.hex(4)}.tmp`);
        data = halfTask();
        break;
    }
    const dir = folder === 'inbox' ? this.o.paths.inbox : this.o.paths.folders[folder];
    await writeFile(join(dir, name), data);
    this.o.record({ t: Date.now(), kind: 'garbage', folder, name, garbage: kind, batch });
  }
}

function toHit(a: { task_id: string; attempt?: number | undefined; pid: number | null; task_pgid?: number | null | undefined }): HitTask {
  return { task_id: a.task_id, attempt: a.attempt ?? 0, worker_pid: a.pid, task_pgid: a.task_pgid ?? null };
}
