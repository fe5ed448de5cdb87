// 2. Throughput: many independent no-op cpu tasks submitted as one plan, run by the rig on
// its default settings. Rate over the busy window (first claim to last worker end), so the
// plan's submission and the batch's summary are not counted; the end-to-end time is shown too.
import { loadConfig } from '../../agents/core/config.ts';
import { readHeartbeat } from '../../agents/core/heartbeat.ts';
import { busyWindow } from './timeline.ts';
import { waitFor } from '../harness/runRig.ts';
import { independentTasks, writePlanFolder } from './plans.ts';
import type { RigSession } from './rigSession.ts';
import { type CoordCpu, coordCpu, snapshot } from './coordCpu.ts';
import { readSmiCalls, type SmiCalls } from '../../agents/sim/smiCalls.ts';

export interface ThroughputResult {
  tasks: number;
  tasks_per_s: number;
  busy_s: number;
  /** Submit to the batch record's end (ingest, release, run, summary, archive), seconds. */
  end_to_end_s: number;
  peak_concurrency: number;
  /** How the tasks were shared between agents. */
  per_agent: Record<string, number>;
  /** cpu tasks one idle agent may run at once: its free budget / resource_limits.cpu_task_cost_mb. */
  slots_per_agent: number;
  /** The rig's own CPU per task over the run (coordCpu.ts). */
  cpu: CoordCpu;
  /** Calls of the simulated nvidia-smi during the run (served from its cache, or by node). */
  smi_calls: SmiCalls;
}

export async function measureThroughput(session: RigSession, tmp: string, count: number, timeoutMs: number): Promise<ThroughputResult> {
  const plan = await writePlanFolder(tmp, `bench-independent-${count}`, `Bench: ${count} independent tasks`, 'No-op cpu tasks with no dependencies: throughput.', independentTasks(count));
  // An idle agent's budget: the part before may have just ended, and its last heartbeat may
  // still name a running task (beats are at least 100 ms apart).
  const beat = await waitFor('an idle heartbeat of gpu-0', async () => {
    const b = await readHeartbeat(session.paths, 0);
    return b && b.active_tasks.length === 0 ? b : null;
  }, 30_000, 100);
  const config = await loadConfig(session.paths.config);
  const slots = Math.max(1, Math.floor((beat?.budget_available_mb ?? 0) / Math.max(1, config.resource_limits.cpu_task_cost_mb)));
  const smiBefore = await readSmiCalls(session.paths.sim);
  const before = await snapshot(session.launcherPid);
  const run = await session.runPlan(plan, timeoutMs);
  const after = await snapshot(session.launcherPid);
  const smiAfter = await readSmiCalls(session.paths.sim);
  const work = [...run.tasks.values()].filter((t) => t.executor === 'worker');
  const w = busyWindow(work);
  const perAgent: Record<string, number> = {};
  for (const t of work) perAgent[t.claimed_by ?? '?'] = (perAgent[t.claimed_by ?? '?'] ?? 0) + 1;
  return {
    tasks: w.tasks,
    tasks_per_s: w.tasksPerS,
    busy_s: w.seconds,
    end_to_end_s: (Date.parse(run.record.finished_at ?? new Date().toISOString()) - run.submittedAtMs) / 1000,
    peak_concurrency: w.peakConcurrency,
    per_agent: perAgent,
    slots_per_agent: slots,
    cpu: coordCpu(before, after, w.tasks),
    smi_calls: { hits: smiAfter.hits - smiBefore.hits, misses: smiAfter.misses - smiBefore.misses },
  };
}
