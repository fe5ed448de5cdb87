// 3. Hop latency: a chain of tasks, each depending on the one before. A hop is the time from
// one task's worker finishing (its own finished_at) to the next task's worker starting (its
// own started_at), split into the steps the files let us see.
import { chainHops, spread, type Spread } from './timeline.ts';
import { chainTasks, taskNames, writePlanFolder } from './plans.ts';
import type { RigSession } from './rigSession.ts';

export interface HopResult {
  links: number;
  hops: number;
  hop: Spread;
  /** Medians of the hop's steps (see timeline.ts HopParts). */
  steps: { flush: Spread; release: Spread; claim: Spread; start: Spread };
  /** Submit to the batch's end, seconds. */
  batch_s: number;
}

export async function measureHop(session: RigSession, tmp: string, links: number, timeoutMs: number): Promise<HopResult> {
  const plan = await writePlanFolder(tmp, `bench-chain-${links}`, `Bench: a chain of ${links}`, 'Each no-op task waits for the one before it: hop latency.', chainTasks(links));
  const run = await session.runPlan(plan, timeoutMs);
  const parts = chainHops(taskNames(links), run.tasks, run.writtenAt, run.releasedAt);
  return {
    links,
    hops: parts.hop.length,
    hop: spread(parts.hop),
    steps: { flush: spread(parts.flush), release: spread(parts.release), claim: spread(parts.claim), start: spread(parts.start) },
    batch_s: (Date.parse(run.record.finished_at ?? new Date().toISOString()) - run.submittedAtMs) / 1000,
  };
}
