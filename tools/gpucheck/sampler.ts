// While the check's tasks run: every interval, the agent's heartbeat, gpu-check's own two
// nvidia-smi queries and the host's process tree, turned into one Sample. Ticks never
// overlap; stop() waits for the one in flight.
import { execa } from 'execa';
import { readHeartbeat } from '../../agents/core/heartbeat.ts';
import type { MountPaths } from '../../agents/core/paths.ts';
import { processGroupOf } from '../../agents/gpu/procGroup.ts';
import { readProcessTree } from '../../agents/gpu/readTelemetry.ts';
import { attributeApps } from './attribute.ts';
import type { HeartbeatView, Sample } from './report.ts';
import { type SmiApp, type SmiGpu, appQueryArgs, gpuQueryArgs, parseSmiApps, parseSmiGpus } from './smi.ts';

export interface SamplerOptions {
  paths: MountPaths;
  gpu: number;
  nvidiaSmi: string;
  /** Environment for nvidia-smi (FORGE_SIM_DIR for the simulator). */
  env: Record<string, string>;
  intervalMs: number;
}

export class Sampler {
  readonly samples: Sample[] = [];
  /** Task id → the pid of its (latest) worker, learned from heartbeats. */
  private readonly workers = new Map<string, number>();
  /** GPU pids found in /proc at least once, and how often each was listed but not found. */
  private readonly resolved = new Set<number>();
  private readonly missing = new Map<number, number>();
  private readonly o: SamplerOptions;
  private running = false;
  private loop: Promise<void> | null = null;

  constructor(o: SamplerOptions) {
    this.o = o;
  }

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const started = Date.now();
        await this.tick().catch(() => {});
        const wait = Math.max(0, this.o.intervalMs - (Date.now() - started));
        if (this.running) await new Promise((r) => setTimeout(r, wait));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /**
   * GPU pids nvidia-smi listed that this host's /proc never had (another pid namespace).
   * A process that exits between the query and the /proc read is missing once, not twice.
   */
  unknownPids(): number[] {
    return [...this.missing].filter(([pid, n]) => n >= 2 && !this.resolved.has(pid)).map(([pid]) => pid);
  }

  /** The latest heartbeat seen, if any. */
  lastHeartbeat(): HeartbeatView | null {
    for (let i = this.samples.length - 1; i >= 0; i--) {
      const hb = this.samples[i]!.heartbeat;
      if (hb) return hb;
    }
    return null;
  }

  private async tick(): Promise<void> {
    const [hb, gpu, apps] = await Promise.all([this.heartbeat(), this.queryGpu(), this.queryApps()]);
    for (const a of hb?.active ?? []) if (a.pid !== null) this.workers.set(a.task_id, a.pid);
    let tasks: Sample['tasks'] = {};
    if (apps.length) {
      const tree = await readProcessTree();
      const pgrp = new Map<number, number | null>();
      for (const a of apps) {
        const g = await processGroupOf(a.pid);
        pgrp.set(a.pid, g);
        if (g !== null) this.resolved.add(a.pid);
        else this.missing.set(a.pid, (this.missing.get(a.pid) ?? 0) + 1);
      }
      tasks = Object.fromEntries(attributeApps(apps, this.workers, (pid) => tree.descendantsOf(pid), pgrp));
    }
    this.samples.push({ at: Date.now(), gpu, heartbeat: hb, tasks });
  }

  private async heartbeat(): Promise<HeartbeatView | null> {
    const hb = await readHeartbeat(this.o.paths, this.o.gpu).catch(() => null);
    if (!hb) return null;
    return {
      seq: hb.seq,
      at: Date.parse(hb.last_updated),
      health: hb.health,
      reasons: hb.health_reasons,
      vram_used_mb: hb.vram_used_mb,
      power_draw_w: hb.power_draw_w,
      temperature_c: hb.temperature_c,
      active: hb.active_tasks.map((a) => ({ task_id: a.task_id, task_name: a.task_name, pid: a.pid, task_pgid: a.task_pgid ?? null, peak_vram_mb: a.peak_vram_mb })),
    };
  }

  private async queryGpu(): Promise<SmiGpu | null> {
    const r = await execa(this.o.nvidiaSmi, gpuQueryArgs(this.o.gpu), { reject: false, timeout: 5000, env: this.o.env, stdin: 'ignore' });
    if (r.exitCode !== 0) return null;
    return parseSmiGpus(String(r.stdout ?? '')).find((g) => g.index === this.o.gpu) ?? null;
  }

  private async queryApps(): Promise<SmiApp[]> {
    const r = await execa(this.o.nvidiaSmi, appQueryArgs(), { reject: false, timeout: 5000, env: this.o.env, stdin: 'ignore' });
    if (r.exitCode !== 0) return [];
    return parseSmiApps(String(r.stdout ?? ''));
  }
}
