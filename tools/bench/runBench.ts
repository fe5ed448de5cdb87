// The whole benchmark, in one run on one machine: each measurement in turn, never two at
// once (they would share the cores). A measurement that fails leaves its figures null with
// a note, and the others still run.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorMessage } from '../../agents/core/errors.ts';
import { type BigbatchResult, measureBigbatch } from './bigbatch.ts';
import { measureBullmq, type BullmqResult } from './bullmq.ts';
import { type BenchCounts, FULL, QUICK } from './counts.ts';
import { measureHop, type HopResult } from './hop.ts';
import { measureIdle, type IdleResult } from './idle.ts';
import { measureIdleGap, type IdleGapResult } from './idleGap.ts';
import { measureLlm, type LlmResult } from './llm.ts';
import { measureLimits, measureSpawnBaseline, type LimitsResult, type SpawnBaseline } from './limits.ts';
import { describeMachine, loadNow, type Machine } from './machine.ts';
import { entryInUse } from './noopWorker.ts';
import { REDIS_HINT, redisAvailable } from './redis.ts';
import { makeMount, startRigSession } from './rigSession.ts';
import { measureScale, type ScaleResult } from './scale.ts';
import { measureThroughput, type ThroughputResult } from './throughput.ts';
import { type FileOpCounts, measureFileOps } from './fileOps.ts';
import { measureSmiCallCost, type SmiCallCost } from '../../agents/sim/smiCalls.ts';

export const PARTS = ['limits', 'hop', 'idle_gap', 'throughput', 'scale', 'idle', 'bullmq', 'llm', 'bigbatch'] as const;
export type Part = (typeof PARTS)[number];

export interface BenchOptions {
  quick: boolean;
  /** Parts to run (default all). */
  parts?: readonly Part[];
  /** GPUs of the LLM part's larger rig (default: the size's llmGpus). */
  llmGpus?: number;
  /** Items of the bigbatch part (default: the size's bigbatchItems). */
  bigbatchItems?: number;
  /** Stop the bigbatch part after this many seconds, with the figures so far (default: run to the end). */
  bigbatchLimitS?: number;
  /** Progress lines (stderr). */
  say: (line: string) => void;
}

export interface BenchResult {
  mode: 'full' | 'quick';
  counts: BenchCounts;
  machine: Machine;
  worker_entry: 'compiled' | 'tsx';
  limits: LimitsResult | null;
  /** The spawn floor right before the rig's runs and right before BullMQ's. */
  baselines: { rig: SpawnBaseline | null; bullmq: SpawnBaseline | null };
  throughput: ThroughputResult | null;
  /** File work per task (strace on the brain and the agents, a run of its own), by process. */
  file_ops: Record<string, FileOpCounts> | null;
  /** The same hop chain and a shorter throughput run with workers.preboot false (a worker started with its task). */
  no_preboot: { hop: HopResult | null; throughput: ThroughputResult | null } | null;
  /** CPU per call of the simulated nvidia-smi on this machine, for its cost apart. */
  smi_cost: SmiCallCost | null;
  hop: HopResult | null;
  idle_gap: IdleGapResult | null;
  scale: ScaleResult | null;
  idle: IdleResult | null;
  bullmq: BullmqResult | null;
  llm: LlmResult | null;
  bigbatch: BigbatchResult | null;
  notes: string[];
  wall_s: number;
}

/** A generous bound for a batch of `tasks` no-op tasks on a slow machine. */
const batchTimeout = (tasks: number) => Math.max(120_000, tasks * 1500);

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  const t0 = Date.now();
  const counts = { ...(o.quick ? QUICK : FULL), ...(o.llmGpus !== undefined ? { llmGpus: o.llmGpus } : {}), ...(o.bigbatchItems !== undefined ? { bigbatchItems: o.bigbatchItems } : {}) };
  const want = new Set(o.parts ?? PARTS);
  const tmp = await mkdtemp(join(tmpdir(), 'forge-bench-'));
  const r: BenchResult = {
    mode: o.quick ? 'quick' : 'full', counts, machine: await describeMachine(), worker_entry: entryInUse(),
    limits: null, baselines: { rig: null, bullmq: null }, throughput: null, file_ops: null, no_preboot: null, smi_cost: null, hop: null, idle_gap: null, scale: null, idle: null, bullmq: null, llm: null, bigbatch: null, notes: [], wall_s: 0,
  };
  if (r.worker_entry === 'tsx') {
    r.notes.push('workers start from TypeScript through tsx (no fresh dist/ build): run `npm run build` to start them from compiled JavaScript, as `npm run bench` does');
  }
  const step = async <T>(part: Part, what: string, fn: () => Promise<T>): Promise<T | null> => {
    if (!want.has(part)) {
      r.notes.push(`${part}: not run (--only)`);
      return null;
    }
    o.say(`bench: ${what}...`);
    const s = Date.now();
    try {
      const v = await fn();
      o.say(`bench: ${what}: done in ${((Date.now() - s) / 1000).toFixed(1)} s`);
      return v;
    } catch (err) {
      r.notes.push(`${part}: failed: ${errorMessage(err)}`);
      o.say(`bench: ${what}: FAILED: ${errorMessage(err)}`);
      return null;
    }
  };

  const baseline = async (before: 'rig' | 'bullmq'): Promise<SpawnBaseline | null> => {
    o.say(`bench: the spawn floor again, right before ${before === 'rig' ? 'the rig' : 'BullMQ'}`);
    try {
      return await measureSpawnBaseline(tmp, before, counts.baselineSequential, counts.baselineParallel);
    } catch (err) {
      r.notes.push(`baseline before ${before}: failed: ${errorMessage(err)}; the limits part's figures are used instead`);
      return null;
    }
  };

  try {
    r.limits = await step('limits', `limits (${counts.spawnSequential} sequential and ${counts.spawnParallel} parallel worker spawns, ${counts.fsTasks} tasks through the folders)`, () =>
      measureLimits(tmp, { sequential: counts.spawnSequential, parallel: counts.spawnParallel, tsxSequential: counts.spawnTsxSequential, fsTasks: counts.fsTasks }));

    // One rig of `gpus` agents on an empty mount for the hop, the idle gap and the throughput.
    if (want.has('hop') || want.has('idle_gap') || want.has('throughput')) {
      r.baselines.rig = await baseline('rig');
      o.say(`bench: starting a rig with ${counts.gpus} simulated GPUs`);
      const session = await makeMount('forge-bench-rig-')
        .then((paths) => startRigSession(paths, counts.gpus, { removeOnStop: true }))
        .catch((err: unknown) => {
          r.notes.push(`hop, idle_gap, throughput: the rig did not start: ${errorMessage(err)}`);
          return null;
        });
      if (session) {
        try {
          r.hop = await step('hop', `hop latency (a chain of ${counts.chainLinks})`, () => measureHop(session, tmp, counts.chainLinks, batchTimeout(counts.chainLinks)));
          r.idle_gap = await step('idle_gap', `GPU idle gap (${counts.idleGapTasks} one-per-card GPU tasks)`, () => measureIdleGap(session, tmp, counts.idleGapTasks, batchTimeout(counts.idleGapTasks)));
          r.throughput = await step('throughput', `throughput (${counts.throughputTasks} independent tasks)`, () => measureThroughput(session, tmp, counts.throughputTasks, batchTimeout(counts.throughputTasks)));
          r.file_ops = await step('throughput', `file work per task (${counts.fileOpsTasks} tasks, strace on the brain and the agents)`, async () => {
            const ops = await measureFileOps(session, tmp, counts.fileOpsTasks, batchTimeout(counts.fileOpsTasks));
            if (!ops) r.notes.push('file work per task: not measured: strace is not installed (apt-get install -y strace)');
            return ops;
          });
        } finally {
          await session.stop();
        }
      }
      if (want.has('hop') || want.has('throughput')) {
        o.say(`bench: starting a rig with ${counts.gpus} simulated GPUs and workers.preboot false`);
        const cold = await makeMount('forge-bench-cold-')
          .then((paths) => startRigSession(paths, counts.gpus, { removeOnStop: true, config: { workers: { preboot: false } } }))
          .catch((err: unknown) => {
            r.notes.push(`without preboot: the rig did not start: ${errorMessage(err)}`);
            return null;
          });
        if (cold) {
          try {
            const hop = await step('hop', `hop without preboot (a chain of ${counts.chainLinks})`, () => measureHop(cold, tmp, counts.chainLinks, batchTimeout(counts.chainLinks)));
            const throughput = await step('throughput', `throughput without preboot (${counts.coldThroughputTasks} independent tasks)`, () => measureThroughput(cold, tmp, counts.coldThroughputTasks, batchTimeout(counts.coldThroughputTasks)));
            r.no_preboot = { hop, throughput };
          } finally {
            await cold.stop();
          }
        }
      }
    }
    if (want.has('throughput') || want.has('idle')) {
      r.smi_cost = await measureSmiCallCost(counts.smiCostCalls).catch((err: unknown) => {
        r.notes.push(`the simulated nvidia-smi's cost per call: not measured: ${errorMessage(err)}`);
        return null;
      });
    }
    r.scale = await step('scale', `scale (${counts.historyTasks} tasks of history, archived, then in complete/)`, () =>
      measureScale(tmp, counts.historyTasks, counts.chainLinks, counts.worstChainLinks, batchTimeout(counts.chainLinks) * 4));
    r.idle = await step('idle', `idle cost (${counts.idleGpus} agents, ${counts.idleSeconds} s)`, () => measureIdle(counts.idleGpus, counts.idleSeconds, counts.idleSettleSeconds));

    if (want.has('bullmq') && (await redisAvailable()) === null) {
      r.notes.push(`bullmq: skipped: ${REDIS_HINT}`);
    } else {
      const slots = r.throughput?.slots_per_agent ?? 4;
      if (want.has('bullmq')) r.baselines.bullmq = await baseline('bullmq');
      r.bullmq = await step('bullmq', `BullMQ peer (${counts.throughputTasks} jobs, a chain of ${counts.chainLinks}; ${counts.gpus} workers x ${slots})`, () =>
        measureBullmq(tmp, { tasks: counts.throughputTasks, links: counts.chainLinks, workers: counts.gpus, concurrency: slots, timeoutMs: batchTimeout(counts.throughputTasks) }));
    }
    r.llm = await step('llm', `LLM work (${counts.llmTasks} generate tasks at ${counts.llmTokS} tok/s, on ${counts.llmGpus} GPUs and on 1)`, () =>
      measureLlm(tmp, { tasks: counts.llmTasks, gpus: counts.llmGpus, tokS: counts.llmTokS, answerTokens: counts.llmAnswerTokens, say: o.say }));
    if (r.llm) r.notes.push(...r.llm.notes);
    const limit = o.bigbatchLimitS ?? null;
    r.bigbatch = await step('bigbatch', `a big batch (one foreach of ${counts.bigbatchItems} no-op items on ${counts.gpus} GPUs${limit === null ? '' : `, stopped after ${limit} s`})`, () =>
      measureBigbatch(tmp, { items: counts.bigbatchItems, gpus: counts.gpus, limitS: limit, timeoutMs: batchTimeout(counts.bigbatchItems), statusEveryS: 10, say: o.say }));
    if (r.bigbatch && !r.bigbatch.finished) r.notes.push(`bigbatch: stopped after ${limit} s, before the batch ended: figures so far; done_once not checked (done_once_so_far: no item run twice among those begun)`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  if (entryInUse() !== r.worker_entry) {
    r.notes.push(`the worker entry changed during the run (${r.worker_entry} at the start, ${entryInUse()} at the end): a source under agents/ changed after the build, so some figures mix both; run again`);
  }
  r.machine.load_end = loadNow();
  if (Math.max(r.machine.load_start, r.machine.load_end) > r.machine.cores) {
    r.notes.push(`the machine was busy with other work (load average ${r.machine.load_start} at the start, ${r.machine.load_end} at the end, on ${r.machine.cores} cores): every figure is skewed by it; ratios of figures taken at different moments most`);
  }
  r.wall_s = (Date.now() - t0) / 1000;
  return r;
}
