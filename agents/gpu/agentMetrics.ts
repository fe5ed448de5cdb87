// An agent's Prometheus metrics (metrics/agent-<name>.prom): its counts since it started
// (claims, attempts by outcome, tokens, the energy shared to its tasks) and its GPU now
// (temperature, power, VRAM used and reserved by its tasks, hot or cold). Every family
// carries agent and gpu labels, so `forge metrics` can join the agents' files into one
// exposition. Written whole in the external cycle.
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { writeFileAtomic } from '../core/atomic.ts';
import { type Family, formatFamilies } from '../core/promText.ts';
import { type MountPaths, assertSafeName } from '../core/paths.ts';
import type { Outcome, WorkerResult } from '../core/task.ts';
import type { GpuReading } from './telemetry.ts';

const MB = 1024 * 1024;

/** What the agent counts as it runs. */
export class AgentCounters {
  claims = 0;
  readonly outcomes = new Map<Outcome, number>();
  promptTokens = 0;
  outputTokens = 0;
  /** Joules shared to this agent's tasks (energy.ts), summed as they end. */
  taskEnergyJ = 0;

  claimed(): void {
    this.claims += 1;
  }

  finished(result: WorkerResult, energyJ: number): void {
    this.outcomes.set(result.outcome, (this.outcomes.get(result.outcome) ?? 0) + 1);
    this.promptTokens += result.llm?.prompt_tokens ?? 0;
    this.outputTokens += result.llm?.output_tokens ?? 0;
    this.taskEnergyJ += energyJ;
  }
}

export interface AgentNow {
  name: string;
  gpuId: number;
  gpu: GpuReading | null;
  /** VRAM its running tasks hold by their claims, MB. */
  claimedMb: number;
  hot: boolean;
  model: string | null;
}

/** The agent's families. Pure. A GPU figure not read (no telemetry yet, or the card does not say) is left out, not written as 0. */
export function agentFamilies(c: AgentCounters, now: AgentNow): Family[] {
  const base = { agent: now.name, gpu: String(now.gpuId) };
  const gauge = (name: string, help: string, value: number | null | undefined): Family[] =>
    value === null || value === undefined ? [] : [{ name, help, type: 'gauge', samples: [{ labels: base, value }] }];
  const g = now.gpu;
  return [
    { name: 'forge_agent_claims_total', help: 'Tasks this agent claimed since it started.', type: 'counter', samples: [{ labels: base, value: c.claims }] },
    {
      name: 'forge_agent_tasks_finished_total', help: 'Attempts this agent finished since it started, by outcome.', type: 'counter',
      samples: [...c.outcomes].sort(([a], [b]) => a.localeCompare(b)).map(([outcome, value]) => ({ labels: { ...base, outcome }, value })),
    },
    {
      name: 'forge_agent_llm_tokens_total', help: 'LLM tokens of this agent\'s tasks since it started, as the runtime counted them.', type: 'counter',
      samples: [{ labels: { ...base, kind: 'prompt' }, value: c.promptTokens }, { labels: { ...base, kind: 'output' }, value: c.outputTokens }],
    },
    { name: 'forge_agent_task_energy_joules_total', help: 'GPU energy shared to this agent\'s finished tasks since it started (from sampled power draw).', type: 'counter', samples: [{ labels: base, value: round(c.taskEnergyJ) }] },
    ...gauge('forge_gpu_temperature_celsius', 'GPU temperature.', g?.temperature_c),
    ...gauge('forge_gpu_power_watts', 'GPU power draw.', g?.power_draw_w),
    ...gauge('forge_gpu_memory_used_bytes', 'GPU memory in use on the card (every process).', g?.memory_used_mb == null ? null : g.memory_used_mb * MB),
    ...gauge('forge_gpu_memory_total_bytes', 'GPU memory of the card.', g?.memory_total_mb == null ? null : g.memory_total_mb * MB),
    ...gauge('forge_gpu_memory_reserved_bytes', 'GPU memory this agent\'s running tasks hold by their claims.', now.claimedMb * MB),
    ...gauge('forge_gpu_utilization_ratio', 'GPU utilization, 0 to 1.', g?.utilization_percent == null ? null : g.utilization_percent / 100),
    {
      name: 'forge_agent_hot', help: 'Whether the agent has its model loaded (1: hot, 0: cold); the model label names it.', type: 'gauge',
      samples: [{ labels: { ...base, model: now.model ?? '' }, value: now.hot ? 1 : 0 }],
    },
  ];
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** metrics/agent-<name>.prom */
export function agentMetricsPath(paths: MountPaths, name: string): string {
  return join(paths.metrics, `agent-${assertSafeName(name, 'agent name')}.prom`);
}

export async function writeAgentMetrics(paths: MountPaths, c: AgentCounters, now: AgentNow): Promise<void> {
  await mkdir(paths.metrics, { recursive: true });
  // No fsync: a lost metrics file is rewritten at the next cycle.
  await writeFileAtomic(agentMetricsPath(paths, now.name), formatFamilies(agentFamilies(c, now)), { sync: false });
}
