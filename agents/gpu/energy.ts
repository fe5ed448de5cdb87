// What an llm task cost the card: its share of the GPU's time and energy. Between two readings
// the power is taken as the latest reading's, and the card's time is shared evenly among the
// GPU tasks (llm and script) running then: two requests served side by side each get half.
// Pure: the agent calls it at each reading and when a task ends.
import type { LlmUsage, TaskClass } from '../core/task.ts';

export interface Accrual {
  task: { task_class: TaskClass };
  startedAt: number;
  /** The card's time and energy shared to it so far, ms and joules; up to accruedTo (agent clock, ms). */
  gpuMs: number;
  energyJ: number;
  accruedTo: number;
}

const onGpu = (c: TaskClass) => c === 'llm' || c === 'script';

/** Shares [accruedTo, now] of every GPU task's run among them at powerW (null: time only, no energy). */
export function accrue(entries: readonly Accrual[], now: number, powerW: number | null): void {
  const gpu = entries.filter((e) => onGpu(e.task.task_class));
  if (!gpu.length) return;
  for (const e of gpu) {
    const from = Math.max(e.accruedTo, e.startedAt);
    const dt = Math.max(0, now - from);
    e.gpuMs += dt / gpu.length;
    if (powerW !== null) e.energyJ += (powerW * dt) / 1000 / gpu.length;
    e.accruedTo = Math.max(e.accruedTo, now);
  }
}

/** The usage a worker reported, with the agent's share of the card added: GPU-seconds and Wh (null without any power reading). */
export function withCardShare(usage: LlmUsage, e: Pick<Accrual, 'gpuMs' | 'energyJ'>, sawPower: boolean): LlmUsage {
  return {
    ...usage,
    gpu_s: Math.round(e.gpuMs) / 1000,
    energy_wh: sawPower ? Math.round((e.energyJ / 3600) * 10_000) / 10_000 : null,
  };
}
