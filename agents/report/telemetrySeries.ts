// Temperature and VRAM over time, for the batch report. No process keeps a time series on the
// mount (a heartbeat holds only the latest reading), so the brain keeps one in memory: each new
// heartbeat it reads becomes a sample, at most one per GPU every gap (MIN_GAP_MS at first). A
// GPU keeps at most MAX_PER_GPU samples: when full, every other one is dropped and its gap
// doubles, so the memory stays bounded and a long run keeps its start at a coarser grain. A
// brain restart starts it empty: the report then shows the part of the batch it saw.
import type { Heartbeat } from '../core/heartbeat.ts';

export interface TelemetrySample {
  /** Brain clock, ms since the epoch. */
  t: number;
  gpu_id: number;
  /** The agent's name, as the Gantt's lanes are named. */
  agent: string;
  temperature_c: number | null;
  vram_used_mb: number | null;
  vram_total_mb: number | null;
}

export const MIN_GAP_MS = 1_000;
export const MAX_PER_GPU = 2_000;

export class TelemetrySeries {
  private readonly byGpu = new Map<number, TelemetrySample[]>();
  private readonly lastSeq = new Map<number, string>();
  private readonly gap = new Map<number, number>();

  /** Takes a sample of each heartbeat that is new (another seq or life) and not too close to the last sample. */
  record(beats: readonly Heartbeat[], now: number): void {
    for (const b of beats) {
      const key = `${b.pid}:${b.seq}`;
      if (this.lastSeq.get(b.gpu_id) === key) continue;
      const list = this.byGpu.get(b.gpu_id) ?? [];
      const last = list.at(-1);
      const gap = this.gap.get(b.gpu_id) ?? MIN_GAP_MS;
      if (last && now - last.t < gap) continue;
      this.lastSeq.set(b.gpu_id, key);
      list.push({ t: now, gpu_id: b.gpu_id, agent: b.name, temperature_c: b.temperature_c, vram_used_mb: b.vram_used_mb, vram_total_mb: b.vram_total_mb });
      this.byGpu.set(b.gpu_id, list.length > MAX_PER_GPU ? list.filter((_, i) => i % 2 === 1) : list);
      if (list.length > MAX_PER_GPU) this.gap.set(b.gpu_id, gap * 2);
    }
  }

  /** Samples from `fromMs` to `toMs` inclusive, every GPU, in time order per GPU. */
  between(fromMs: number, toMs: number): TelemetrySample[] {
    const out: TelemetrySample[] = [];
    for (const id of [...this.byGpu.keys()].sort((a, b) => a - b)) {
      for (const s of this.byGpu.get(id)!) if (s.t >= fromMs && s.t <= toMs) out.push(s);
    }
    return out;
  }
}
