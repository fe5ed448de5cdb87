// How big each measurement is: the full run (the sizes) and the short --quick form
// that CI runs only to see the bench still works.

export interface BenchCounts {
  spawnSequential: number;
  spawnParallel: number;
  spawnTsxSequential: number;
  fsTasks: number;
  /** The spawn floor measured again right before the rig's and BullMQ's runs. */
  baselineSequential: number;
  baselineParallel: number;
  throughputTasks: number;
  /** Tasks of the throughput run with workers.preboot false (shorter: the comparison, not the figure). */
  coldThroughputTasks: number;
  /** Tasks of the strace run that counts the file work per task. */
  fileOpsTasks: number;
  /** Calls timed to price one simulated nvidia-smi call (cached and not). */
  smiCostCalls: number;
  chainLinks: number;
  /** Chain for the worst case of the scale test (history in complete/), shorter to bound its time. */
  worstChainLinks: number;
  historyTasks: number;
  idleSeconds: number;
  idleSettleSeconds: number;
  idleGapTasks: number;
  /** Agents of the rig for throughput, hop, idle gap and scale; and of the idle rig. */
  gpus: number;
  idleGpus: number;
  /** Generate tasks of the LLM part, run on a rig of llmGpus GPUs and on one of 1 GPU. */
  llmTasks: number;
  llmGpus: number;
  /**
   * simulator.tok_s and simulator.answer_tokens of the LLM part's rigs: the seed's 7B card
   * (22.6 tok/s) answering in about 100 tokens takes some 4.4 s a request, as real LLM work
   * does, far over the rig's own cost per task.
   */
  llmTokS: number;
  llmAnswerTokens: number;
  /** Items of the bigbatch part's one foreach (far over foreach.window), on a rig of `gpus`. */
  bigbatchItems: number;
}

export const FULL: BenchCounts = {
  spawnSequential: 20,
  spawnParallel: 40,
  spawnTsxSequential: 5,
  fsTasks: 1000,
  baselineSequential: 10,
  baselineParallel: 24,
  throughputTasks: 2000,
  coldThroughputTasks: 500,
  fileOpsTasks: 200,
  smiCostCalls: 100,
  chainLinks: 50,
  worstChainLinks: 20,
  historyTasks: 100_000,
  idleSeconds: 30,
  idleSettleSeconds: 20,
  idleGapTasks: 60,
  gpus: 2,
  idleGpus: 3,
  llmTasks: 60,
  llmGpus: 3,
  llmTokS: 22.6,
  llmAnswerTokens: 100,
  bigbatchItems: 100_000,
};

export const QUICK: BenchCounts = {
  spawnSequential: 3,
  spawnParallel: 4,
  spawnTsxSequential: 0,
  fsTasks: 50,
  baselineSequential: 2,
  baselineParallel: 2,
  throughputTasks: 20,
  coldThroughputTasks: 10,
  fileOpsTasks: 10,
  smiCostCalls: 5,
  chainLinks: 5,
  worstChainLinks: 5,
  historyTasks: 5_000,
  idleSeconds: 6,
  idleSettleSeconds: 1,
  idleGapTasks: 6,
  gpus: 2,
  idleGpus: 3,
  llmTasks: 20,
  llmGpus: 3,
  llmTokS: 22.6,
  llmAnswerTokens: 40,
  bigbatchItems: 300,
};
