// 6. GPU idle gap: GPU tasks sized so one fits a card at a time, all released at once, so
// every agent always has claimable work waiting. The gap is the time an agent has no worker
// running: its previous task's end (finished_at) to its next claim; and to the next worker's start.
import { readHeartbeat } from '../../agents/core/heartbeat.ts';
import { agentGaps, spread, type Spread } from './timeline.ts';
import { gpuTasks, writePlanFolder } from './plans.ts';
import type { RigSession } from './rigSession.ts';

export interface IdleGapResult {
  tasks: number;
  vram_estimate_mb: number;
  gaps: number;
  to_claim: Spread;
  to_worker_start: Spread;
}

export async function measureIdleGap(session: RigSession, tmp: string, count: number, timeoutMs: number): Promise<IdleGapResult> {
  const beat = await readHeartbeat(session.paths, 0);
  // 60% of the budget left on an idle card: one task fits, a second does not.
  const vram = Math.max(1, Math.floor(0.6 * (beat?.budget_available_mb ?? 4000)));
  const plan = await writePlanFolder(tmp, `bench-gpu-${count}`, `Bench: ${count} GPU tasks`, 'No-op script tasks, one per card at a time: the GPU idle gap.', gpuTasks(count, vram));
  const run = await session.runPlan(plan, timeoutMs);
  const gaps = agentGaps([...run.tasks.values()].filter((t) => t.executor === 'worker'));
  return { tasks: count, vram_estimate_mb: vram, gaps: gaps.toClaim.length, to_claim: spread(gaps.toClaim), to_worker_start: spread(gaps.toStart) };
}
