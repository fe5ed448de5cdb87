// 8. LLM work: the same independent `generate` tasks on a simulated rig of N GPUs and on one of
// 1 GPU, each on a fresh mount whose config.json makes the simulated cards generate at
// `simulator.tok_s`, slow enough that generation, not the rig's hop, takes the time. Everything
// comes from the mount: the batch record's submitted_at and finished_at, each archived task's
// result.llm, and the LOAD and HEAT lines of the decision log (and the spools not merged yet).
import { defaultGpus, writeConfig } from '../../agents/core/config.ts';
import { parseDecisionLine } from '../../agents/core/decisionLog.ts';
import { readDecisionLines } from '../../agents/core/spool.ts';
import type { BatchRecord } from '../../agents/core/batch.ts';
import type { Task } from '../../agents/core/task.ts';
import { renderGeneratePlan, writePlanText } from './plans.ts';
import { makeMount, startRigSession } from './rigSession.ts';
import { median, ratio } from './stats.ts';
import { busyWindow } from './timeline.ts';
import { type AskFigure, measureAsk } from './ask.ts';

/** forge ask runs on each rig after its batch. */
const ASK_RUNS = 5;

/** Cycles of the LLM part's rigs (s): short, so the brain's and agents' passes wait little. */
export const LLM_CYCLES = { internal_s: 0.25, external_s: 1 } as const;

export interface LlmRig {
  gpus: number;
  tasks: number;
  /** Submit to the batch's end (the batch record's submitted_at to finished_at), seconds. */
  wall_s: number;
  /** Sum of result.llm.output_tokens over the generate tasks. */
  output_tokens: number;
  /** Generate tasks whose result counted no output tokens (the runtime did not say). */
  uncounted: number;
  /** The rig's output tokens per second: output_tokens / wall_s. */
  tok_s: number | null;
  /** LOAD lines: models loaded by the agents. */
  loads: number;
  /** HEAT lines: load_llm tasks the brain queued to heat an agent. */
  heats: number;
  /** Generate tasks per agent that ran them. */
  per_agent: Record<string, number>;
  /** Most generate requests running at the same moment, rig-wide. */
  peak_requests: number;
  /** First claim to last end of the generate tasks, seconds. */
  busy_s: number;
  /** Median of result.llm.tok_s: one request's own speed, as the worker measured it. */
  request_tok_s_median: number | null;
  /** forge ask on this rig after its batch (an agent hot, the rig idle); absent when not measured. */
  ask?: AskFigure | null;
}

export interface LlmResult {
  tasks: number;
  /** simulator.tok_s written into the rigs' config. */
  sim_tok_s: number;
  multi: LlmRig | null;
  single: LlmRig | null;
  /** single.wall_s / multi.wall_s. */
  speedup: number | null;
  /** What the figures mean on this code (read from them, never assumed). */
  notes: string[];
}

export interface LlmOptions {
  tasks: number;
  /** GPUs of the larger rig (the other has 1). */
  gpus: number;
  tokS: number;
  /** simulator.answer_tokens: how long the simulated answers are. */
  answerTokens: number;
  say?: (line: string) => void;
}

/** One rig's figures (pure): the batch record, its archived tasks and the decision lines of its mount. */
export function readLlmRun(gpus: number, record: BatchRecord, tasks: Iterable<Task>, decisionLines: readonly string[]): LlmRig {
  const generate = [...tasks].filter((t) => t.type === 'generate');
  const wallS = record.finished_at ? (Date.parse(record.finished_at) - Date.parse(record.submitted_at)) / 1000 : NaN;
  const perAgent: Record<string, number> = {};
  let tokens = 0;
  let uncounted = 0;
  const requestTokS: number[] = [];
  for (const t of generate) {
    perAgent[t.claimed_by ?? '?'] = (perAgent[t.claimed_by ?? '?'] ?? 0) + 1;
    const llm = t.result?.llm;
    if (llm?.output_tokens === null || llm?.output_tokens === undefined) uncounted++;
    else tokens += llm.output_tokens;
    if (llm?.tok_s !== null && llm?.tok_s !== undefined) requestTokS.push(llm.tok_s);
  }
  const verbs = decisionLines.map((l) => parseDecisionLine(l)?.what);
  const window = generate.length ? busyWindow(generate) : null;
  return {
    gpus,
    tasks: generate.length,
    wall_s: wallS,
    output_tokens: tokens,
    uncounted,
    tok_s: Number.isFinite(wallS) ? ratio(tokens, wallS) : null,
    loads: verbs.filter((v) => v === 'LOAD').length,
    heats: verbs.filter((v) => v === 'HEAT').length,
    per_agent: perAgent,
    peak_requests: window?.peakConcurrency ?? 0,
    busy_s: window?.seconds ?? 0,
    request_tok_s_median: median(requestTokS),
  };
}

/** What the figures say about the code they ran on (pure): pacing, parallel work, counting. */
export function llmNotes(r: Pick<LlmResult, 'sim_tok_s' | 'multi' | 'single'>): string[] {
  const notes: string[] = [];
  const speeds = [r.multi, r.single].map((x) => x?.request_tok_s_median).filter((v): v is number => v !== null && v !== undefined);
  const fastest = speeds.length ? Math.max(...speeds) : null;
  if (fastest !== null && fastest > 2 * r.sim_tok_s) {
    notes.push(`llm: requests ran at a median of up to ${fastest.toFixed(0)} tok/s, over twice simulator.tok_s (${r.sim_tok_s}): the simulator does not pace its answers, so the rig's hop, not generation, sets these figures`);
  }
  const m = r.multi;
  if (m && m.gpus > 1 && m.tasks > 1 && Object.keys(m.per_agent).length === 1) {
    notes.push(`llm: the ${m.gpus}-GPU rig ran all ${m.tasks} generate tasks on ${Object.keys(m.per_agent)[0]} (${m.heats} heat${m.heats === 1 ? '' : 's'} in the log): one GPU was hot, so the speed-up shows no parallel LLM work`);
  }
  for (const x of [r.multi, r.single]) {
    if (x && x.uncounted > 0) notes.push(`llm: ${x.uncounted} of ${x.tasks} generate tasks on the ${x.gpus}-GPU rig counted no output tokens: tokens/s is low by that much`);
  }
  return notes;
}

/** A bound for one rig's batch: every request at tok_s one after another, with room for the rig. */
export function llmTimeoutMs(tasks: number, tokS: number, answerTokens = 40): number {
  return 120_000 + tasks * (2000 + Math.ceil((1.5 * Math.max(40, answerTokens) / tokS) * 1000));
}

/** The 1-GPU rig and the N-GPU rig run the same plan, one after the other. */
export async function measureLlm(tmp: string, o: LlmOptions): Promise<LlmResult> {
  const plan = await writePlanText(tmp, `bench-llm-${o.tasks}`, renderGeneratePlan(`Bench: ${o.tasks} generate tasks`, 'Independent generate tasks: LLM work spread over the GPUs.', o.tasks));
  const result: LlmResult = { tasks: o.tasks, sim_tok_s: o.tokS, multi: null, single: null, speedup: null, notes: [] };
  result.multi = await runOnRig(plan, o.gpus, o);
  result.single = await runOnRig(plan, 1, o);
  result.speedup = ratio(result.single.wall_s, result.multi.wall_s);
  result.notes = llmNotes(result);
  return result;
}

async function runOnRig(plan: string, gpus: number, o: LlmOptions): Promise<LlmRig> {
  const paths = await makeMount(`forge-bench-llm${gpus}-`);
  // A config on the mount is the base --simulate builds on (agents/rig/simulate.ts): the rig
  // keeps its cycles and simulator settings and puts in its own GPUs and ports.
  await writeConfig(paths.config, { gpus: defaultGpus(gpus), cycles: LLM_CYCLES, simulator: { tok_s: o.tokS, answer_tokens: o.answerTokens } });
  o.say?.(`bench: llm: ${o.tasks} generate tasks on ${gpus} simulated GPU(s) at ${o.tokS} tok/s, answers of about ${o.answerTokens} tokens`);
  const session = await startRigSession(paths, gpus, { removeOnStop: true });
  try {
    const run = await session.runPlan(plan, llmTimeoutMs(o.tasks, o.tokS, o.answerTokens));
    const figures = readLlmRun(gpus, run.record, run.tasks.values(), await readDecisionLines(paths));
    // Right after the batch: the model is still resident (heat_idle_s has not passed), so this is a hot, idle rig.
    o.say?.(`bench: llm: forge ask ${ASK_RUNS} times on the ${gpus}-GPU rig, an agent hot`);
    return { ...figures, ask: await measureAsk(paths, ASK_RUNS) };
  } finally {
    await session.stop();
  }
}
