// The agent's view of its GPU and host: telemetry (nvidia-smi), the health it implies, what
// each worker holds on the card, and the host's figures. One reading at a time: the internal
// cycle and a claim pass may both ask for one.
import type { DecisionVerb } from '../core/decisionLog.ts';
import type { Clock } from '../core/clock.ts';
import type { Config, GpuConfig } from '../core/config.ts';
import { type HealthVerdict, evaluateHealth } from './claimPolicy.ts';
import { accrue } from './energy.ts';
import { readHostStats } from './hostStats.ts';
import { type TelemetrySnapshot, readGpuTelemetry } from './readTelemetry.ts';
import type { GpuReading } from './telemetry.ts';
import { type Running, measureWorkers } from './workers.ts';
import type { AgentLog } from './runtimeWatch.ts';

/** The log line for a change of health (a new state, or other kinds of reasons), or null when nothing worth saying changed. */
export function healthChange(prev: HealthVerdict, next: HealthVerdict): { what: DecisionVerb; reason: string } | null {
  const kinds = (r: string[]) => r.map((x) => x.split(' ')[0]).join();
  if (prev.health === next.health && kinds(prev.reasons) === kinds(next.reasons)) return null;
  const what = next.health === 'healthy' ? 'HEALTHY' : next.health === 'constrained' ? 'CONSTRAINED' : 'UNHEALTHY';
  return { what, reason: next.reasons.join('; ') || 'all figures under their limits' };
}

export interface GpuWatchOptions {
  config: Config;
  gpu: GpuConfig;
  clock: Clock;
  log: AgentLog;
  /** The tasks running now, to measure. */
  running: () => Running[];
}

export class GpuWatch {
  telemetry: TelemetrySnapshot | null = null;
  health: HealthVerdict = { health: 'unhealthy', reasons: ['no telemetry yet'] };
  host: { cpu_load_percent: number | null; mem_available_mb: number | null } | null = null;
  /** When the GPU was last read (agent clock, ms). */
  readAt = 0;
  private reading: Promise<void> | null = null;
  private readonly o: GpuWatchOptions;

  constructor(o: GpuWatchOptions) {
    this.o = o;
  }

  /** The last good reading's figures, or null. */
  get gpu(): GpuReading | null {
    return this.telemetry?.ok ? this.telemetry.gpu : null;
  }

  /**
   * Whether a cycle should read the GPU now. An agent with nothing running and nothing queued
   * does so once per external cycle (what its heartbeat shows), not every internal one: each
   * reading is a process, and an idle rig should cost next to nothing.
   */
  due(busy: boolean): boolean {
    if (busy || !this.telemetry?.ok) return true;
    return this.o.clock.now() - this.readAt >= this.o.config.cycles.external_s * 1000;
  }

  /** Telemetry, health, per-worker VRAM and host figures; joins a reading in progress. */
  observe(): Promise<void> {
    this.reading ??= this.read().finally(() => {
      this.reading = null;
    });
    return this.reading;
  }

  /**
   * A finished worker's memory leaves the last reading too: until the next reading it would
   * otherwise count as memory that is not ours and shrink the budget for no reason.
   */
  forget(mb: number): void {
    const g = this.gpu;
    if (!g || mb <= 0 || g.memory_used_mb === null) return;
    g.memory_used_mb = Math.max(0, g.memory_used_mb - mb);
  }

  /** The power of the latest reading, W; null without one. Some reading with power seen since start: sawPower. */
  get powerW(): number | null {
    return this.gpu?.power_draw_w ?? null;
  }
  sawPower = false;

  /** Shares the card's time and energy up to now among the running GPU tasks (energy.ts), at the latest power. */
  shareCard(now: number): void {
    const p = this.powerW;
    if (p !== null) this.sawPower = true;
    accrue(this.o.running(), now, p);
  }

  private async read(): Promise<void> {
    const { config, gpu, clock } = this.o;
    this.readAt = clock.now();
    // worker_env also reaches nvidia-smi: a simulator finds its state through it. Compute
    // processes are listed only while a worker runs: they are read to measure workers.
    const snap = await readGpuTelemetry(config.nvidia_smi, gpu.id, { env: config.worker_env, apps: this.o.running().length > 0 });
    const prev = this.health;
    this.telemetry = snap;
    if (snap.ok) {
      const g = snap.gpu;
      this.shareCard(clock.now());
      const figures = { temperature_c: g.temperature_c, power_draw_w: g.power_draw_w, memory_used_mb: g.memory_used_mb, memory_total_mb: g.memory_total_mb };
      this.health = evaluateHealth(figures, null, config.resource_limits);
      await measureWorkers(this.o.running(), snap.procs);
    } else {
      this.health = evaluateHealth(null, snap.reason, config.resource_limits);
    }
    const change = healthChange(prev, this.health);
    if (change) await this.o.log(change.what, null, change.reason);
    this.host = await readHostStats().catch(() => null);
  }
}
