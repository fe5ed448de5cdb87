// The chaos run's totals over all trials, and how they are printed: one line per figure
// (what `npm run chaos` ends with), or one JSON object with --json.
import type { KillTarget } from './events.ts';
import type { TrialResult } from './trial.ts';

export interface ChaosTotals {
  seed: number;
  trials: number;
  passed: number;
  kills: Record<KillTarget, number>;
  brainOpKills: number;
  deepestBrainOp: number;
  garbageFiles: number;
  garbage: { quarantined: number; rejected: number; ignored: number; unseen: number };
  tasksChecked: number;
  tasksLost: number;
  unexplainedDuplicateRuns: number;
  strayRuns: number;
  extraRuns: { killed: number; failedOnPurpose: number; late: number; resultLost: number };
  crashes: number;
  longestRecoveryS: number;
  /** The recovery that took longest: what the kill hit and what came back. */
  longestRecovery: { seed: number; target: KillTarget; what: string } | null;
  /** Kills after which the interrupted work never ran again. */
  unrecovered: number;
  failedSeeds: number[];
  ok: boolean;
}

export function totalsOf(seed: number, results: TrialResult[]): ChaosTotals {
  const t: ChaosTotals = {
    seed, trials: results.length, passed: 0,
    kills: { brain: 0, agent: 0, worker: 0, task: 0 }, brainOpKills: 0, deepestBrainOp: 0,
    garbageFiles: 0, garbage: { quarantined: 0, rejected: 0, ignored: 0, unseen: 0 },
    tasksChecked: 0, tasksLost: 0, unexplainedDuplicateRuns: 0, strayRuns: 0,
    extraRuns: { killed: 0, failedOnPurpose: 0, late: 0, resultLost: 0 },
    crashes: 0, longestRecoveryS: 0, longestRecovery: null, unrecovered: 0, failedSeeds: [], ok: false,
  };
  let longest = -1;
  for (const r of results) {
    const v = r.verdict;
    if (r.ok) t.passed += 1;
    else t.failedSeeds.push(r.seed);
    for (const k of Object.keys(t.kills) as KillTarget[]) t.kills[k] += v.kills[k];
    t.brainOpKills += v.brainOpKills;
    t.deepestBrainOp = Math.max(t.deepestBrainOp, v.deepestBrainOp);
    t.garbageFiles += v.garbage.dropped;
    t.garbage.quarantined += v.garbage.quarantined;
    t.garbage.rejected += v.garbage.rejected;
    t.garbage.ignored += v.garbage.ignored;
    t.garbage.unseen += v.garbage.unseen;
    t.tasksChecked += v.tasksChecked;
    t.tasksLost += v.tasksLost;
    t.unexplainedDuplicateRuns += v.unexplainedDuplicates;
    t.strayRuns += v.strayRuns;
    t.extraRuns.killed += v.extraRuns.killed;
    t.extraRuns.failedOnPurpose += v.extraRuns.failedOnPurpose;
    t.extraRuns.late += v.extraRuns.late;
    t.extraRuns.resultLost += v.extraRuns.resultLost;
    t.crashes += v.crashes;
    for (const rec of v.recoveries) {
      if (rec.ms === null) {
        if (rec.what.includes('never')) t.unrecovered += 1;
        continue;
      }
      if (rec.ms > longest) {
        longest = rec.ms;
        t.longestRecovery = { seed: r.seed, target: rec.target, what: rec.what };
      }
    }
  }
  t.longestRecoveryS = Math.max(0, longest) / 1000;
  t.ok = t.trials > 0 && t.passed === t.trials;
  return t;
}

export function formatTotals(t: ChaosTotals): string {
  const lines = [
    `trials: ${t.trials}`,
    `kills: brain ${t.kills.brain}, agent ${t.kills.agent}, worker ${t.kills.worker}, task ${t.kills.task}`,
    ...(t.brainOpKills ? [`brain kills at a file operation: ${t.brainOpKills} (each life killed just before its j-th commit; deepest j ${t.deepestBrainOp})`] : []),
    `garbage files: ${t.garbageFiles} (quarantined ${t.garbage.quarantined}, rejected ${t.garbage.rejected}, ignored by design ${t.garbage.ignored}, unseen after the last batch ended ${t.garbage.unseen})`,
    `tasks checked: ${t.tasksChecked}`,
    `tasks lost: ${t.tasksLost}`,
    `unexplained duplicate runs: ${t.unexplainedDuplicateRuns}`,
    `stray runs: ${t.strayRuns}`,
    `extra runs explained by a recorded attempt: ${t.extraRuns.killed} killed, ${t.extraRuns.failedOnPurpose} failed on purpose, ${t.extraRuns.late} late results, ${t.extraRuns.resultLost} finished but result lost`,
    `crashes: ${t.crashes}`,
    `longest recovery: ${t.longestRecoveryS.toFixed(1)} s${t.longestRecovery ? ` (seed ${t.longestRecovery.seed}, ${t.longestRecovery.target} kill: ${t.longestRecovery.what})` : ''}`,
  ];
  if (t.unrecovered) lines.push(`kills whose interrupted work never ran again before the trial ended: ${t.unrecovered}`);
  if (t.failedSeeds.length) lines.push(`failed seeds: ${t.failedSeeds.join(', ')} (replay one with: npm run chaos -- --trials 1 --seed SEED)`);
  lines.push(t.ok ? 'PASS' : 'FAIL');
  return lines.join('\n');
}
