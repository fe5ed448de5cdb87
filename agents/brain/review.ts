// A task newly seen complete: its measured VRAM peak is learned for the next batch, and the
// brain model (evaluate.ts) may judge its generated text; output below the bar sends the task
// back to the queue, the attempt counted as an app failure.
import type { Task } from '../core/task.ts';
import type { BrainIndex } from './brainIndex.ts';
import type { Evaluator, Verdict } from './evaluate.ts';
import { learnFrom, writeEstimates } from './learn.ts';
import { learnTaskProfile } from './profileLearning.ts';

export async function reviewCompleted(ix: BrainIndex, evaluator: Evaluator, t: Task): Promise<void> {
  const learned = learnFrom(ix.estimates, t, ix.now());
  if (learned) {
    await writeEstimates(ix.paths, ix.estimates);
    await ix.decide({ what: 'LEARN', task: t.id, reason: `${learned.key}: measured peak ${learned.peak} MB (estimate was ${t.vram_estimate_mb} MB); the next batch uses it` });
  }
  await learnTaskProfile(ix, t);
  const verdict = await evaluator.judge(t);
  if (verdict) await applyEvaluation(ix, t, verdict);
}

async function applyEvaluation(ix: BrainIndex, t: Task, v: Verdict): Promise<void> {
  const evaluated = await ix.store.write('complete', { ...t, evaluation: { score: v.score, reason: v.reason, model: v.model } });
  if (!v.requeue) {
    ix.tasks.set(t.id, { folder: 'complete', task: evaluated });
    await ix.decide({ what: 'EVALUATE', task: t.id, reason: `score ${v.score}/5 by ${v.model}: ${v.reason}` });
    return;
  }
  // Below the bar: the attempt counts as an app failure, and the task goes back to the queue.
  const attempts = evaluated.attempts.map((a) => (a.attempt === t.attempt ? { ...a, outcome: 'failed' as const, failure_kind: 'app' as const, reason: `quality score ${v.score}/5: ${v.reason}` } : a));
  const back = await ix.store.write('complete', { ...evaluated, attempts });
  if (await ix.moveTask(t.id, 'complete', 'queue', back)) {
    const app = attempts.filter((a) => a.failure_kind === 'app').length;
    await ix.decide({ what: 'REQUEUE', task: t.id, attempt: { n: app + 1, of: t.max_attempts }, reason: `quality score ${v.score}/5 by ${v.model} is below ${ix.config.brain_llm?.min_score}: ${v.reason}` });
  }
}
