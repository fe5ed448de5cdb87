// How long the rig took to get going again after each kill: from the kill until the work it
// interrupted ran again (the next START of each task it hit), else until the killed agent's
// next life started, or the brain's next decision. Pure, like the checker that uses it.
import type { KillEvent, KillTarget } from './events.ts';
import type { MountSnapshot, Run } from './snapshot.ts';

export interface Recovery {
  target: KillTarget;
  at: number;
  /** ms from the kill until the work it interrupted ran again; null when it never did. */
  ms: number | null;
  what: string;
}

/** From a kill until the work it interrupted ran again (the next START of each hit task), or the killed daemon was back. */
export function recoveryOf(k: KillEvent, runs: Run[], decisions: MountSnapshot['decisions']): Recovery {
  const base = { target: k.target, at: k.t };
  if (k.target === 'brain') {
    const d = decisions.find((x) => x.who === 'brain' && x.t > k.t);
    return { ...base, ms: d ? d.t - k.t : null, what: d ? `brain decided again (${d.what})` : 'the brain never decided again' };
  }
  let worst: number | null = null;
  const waits: string[] = [];
  for (const h of k.hit) {
    const next = runs.find((r) => r.task === h.task_id && r.attempt > h.attempt && r.start !== null && r.start > k.t);
    if (next) {
      const ms = next.start! - k.t;
      if (worst === null || ms > worst) worst = ms;
      waits.push(`${h.task_id} attempt ${next.attempt} started after ${ms} ms`);
    }
  }
  if (worst !== null) return { ...base, ms: worst, what: waits.join('; ') };
  if (k.target === 'agent') {
    const d = decisions.find((x) => x.who === k.agent && x.what === 'START' && x.t > k.t);
    return { ...base, ms: d ? d.t - k.t : null, what: d ? `${k.agent} started again` : `${k.agent} never started again` };
  }
  // The kill came too late to matter (the attempt had finished): nothing to recover.
  return { ...base, ms: null, what: 'no attempt was interrupted' };
}
