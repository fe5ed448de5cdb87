// LLM work in a batch summary: tokens, request time, load time, GPU-seconds and energy of each
// generate and parse task's final attempt, added up per model and per agent (GPU). Pure.
import type { LlmUsage } from '../core/task.ts';

export interface LlmTotal {
  tasks: number;
  prompt_tokens: number;
  output_tokens: number;
  request_s: number;
  /** Output tokens per second of request time over the group; null without counted tokens. */
  tok_s: number | null;
  /** Time the runtime spent loading models inside these requests, s. */
  load_s: number;
  /** The cards' time these tasks held (shared among tasks running side by side), s. */
  gpu_s: number;
  /** Energy of that share, Wh; null when no task of the group had a power reading. */
  energy_wh: number | null;
}

export interface LlmTotals {
  by_model: Record<string, LlmTotal>;
  by_agent: Record<string, LlmTotal>;
}

export interface LlmUse {
  usage: LlmUsage;
  /** The agent that ran the attempt (the task's claimed_by). */
  agent: string;
}

function add(into: Record<string, LlmTotal>, key: string, u: LlmUsage): void {
  const t = (into[key] ??= { tasks: 0, prompt_tokens: 0, output_tokens: 0, request_s: 0, tok_s: null, load_s: 0, gpu_s: 0, energy_wh: null });
  const r3 = (n: number) => Math.round(n * 1000) / 1000;
  t.load_s = r3(t.load_s + (u.load_ms ?? 0) / 1000);
  t.gpu_s = r3(t.gpu_s + (u.gpu_s ?? 0));
  if (u.energy_wh !== null) t.energy_wh = Math.round(((t.energy_wh ?? 0) + u.energy_wh) * 10_000) / 10_000;
  t.tasks += 1;
  t.prompt_tokens += u.prompt_tokens ?? 0;
  t.output_tokens += u.output_tokens ?? 0;
  t.request_s = Math.round((t.request_s + u.request_ms / 1000) * 1000) / 1000;
  t.tok_s = t.request_s > 0 && t.output_tokens > 0 ? Math.round((t.output_tokens / t.request_s) * 10) / 10 : null;
}

/** Null when the batch ran no LLM request. */
export function llmTotals(uses: LlmUse[]): LlmTotals | null {
  if (!uses.length) return null;
  const out: LlmTotals = { by_model: {}, by_agent: {} };
  for (const { usage, agent } of uses) {
    add(out.by_model, usage.model, usage);
    add(out.by_agent, agent, usage);
  }
  return out;
}

/** The summary.md lines for the totals: one table, models then agents. */
export function llmTotalsMarkdown(t: LlmTotals): string[] {
  const row = (kind: string, name: string, v: LlmTotal) =>
    `| ${kind} | ${name} | ${v.tasks} | ${v.prompt_tokens} | ${v.output_tokens} | ${v.request_s.toFixed(1)} | ${v.tok_s ?? ''} | ${v.load_s.toFixed(1)} | ${v.gpu_s.toFixed(1)} | ${v.energy_wh === null ? '' : v.energy_wh.toFixed(3)} |`;
  return [
    '## LLM work',
    '',
    '| by | name | tasks | prompt tokens | output tokens | request seconds | tokens/s | load seconds | GPU-seconds | Wh |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...Object.entries(t.by_model).map(([k, v]) => row('model', k, v)),
    ...Object.entries(t.by_agent).map(([k, v]) => row('agent', k, v)),
    '',
  ];
}
