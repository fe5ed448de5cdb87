import { test } from 'node:test';
import assert from 'node:assert/strict';
import { llmTotals, llmTotalsMarkdown } from '../../agents/brain/llmTotals.ts';
import { usageOf } from '../../agents/worker/llmTask.ts';
import type { LlmUsage } from '../../agents/core/task.ts';

const u = (model: string, prompt: number | null, output: number | null, ms: number): LlmUsage => ({ model, prompt_tokens: prompt, output_tokens: output, request_ms: ms, tok_s: null, load_ms: null, gpu_s: null, energy_wh: null });

test('LLM totals add up tokens and request time per model and per agent; tokens/s over each group', () => {
  const t = llmTotals([
    { usage: u('a:7b', 10, 100, 2000), agent: 'gpu-0' },
    { usage: u('a:7b', 20, 50, 1000), agent: 'gpu-1' },
    { usage: u('b:1b', 5, null, 500), agent: 'gpu-0' },
  ]);
  assert.deepEqual(t, {
    by_model: {
      'a:7b': { tasks: 2, prompt_tokens: 30, output_tokens: 150, request_s: 3, tok_s: 50, load_s: 0, gpu_s: 0, energy_wh: null },
      'b:1b': { tasks: 1, prompt_tokens: 5, output_tokens: 0, request_s: 0.5, tok_s: null, load_s: 0, gpu_s: 0, energy_wh: null },
    },
    by_agent: {
      'gpu-0': { tasks: 2, prompt_tokens: 15, output_tokens: 100, request_s: 2.5, tok_s: 40, load_s: 0, gpu_s: 0, energy_wh: null },
      'gpu-1': { tasks: 1, prompt_tokens: 20, output_tokens: 50, request_s: 1, tok_s: 50, load_s: 0, gpu_s: 0, energy_wh: null },
    },
  });
  assert.equal(llmTotals([]), null, 'a batch without LLM work has no totals');
  const md = llmTotalsMarkdown(t!).join('\n');
  assert.match(md, /\| model \| a:7b \| 2 \| 30 \| 150 \| 3\.0 \| 50 \|/);
  assert.match(md, /\| agent \| gpu-0 \| 2 \| 15 \| 100 \| 2\.5 \| 40 \|/);
});

test("a request's usage: the runtime's token counts, its wall time, and tokens/s only when tokens were counted", () => {
  assert.deepEqual(usageOf('m', { text: 'x', prompt_tokens: 12, completion_tokens: 30, duration_ms: 1500, load_ms: null }), { model: 'm', prompt_tokens: 12, output_tokens: 30, request_ms: 1500, tok_s: 20, load_ms: null, gpu_s: null, energy_wh: null });
  assert.equal(usageOf('m', { text: 'x', prompt_tokens: null, completion_tokens: null, duration_ms: 1500, load_ms: null }).tok_s, null);
  assert.equal(usageOf('m', { text: 'x', prompt_tokens: 1, completion_tokens: 5, duration_ms: 0, load_ms: null }).tok_s, null);
});

test("a request's usage carries the runtime's model load time; GPU-seconds and energy are the agent's to fill", () => {
  const u = usageOf('m', { text: 'x', prompt_tokens: 12, completion_tokens: 30, duration_ms: 2500, load_ms: 1000 });
  assert.equal(u.load_ms, 1000);
  assert.equal(u.request_ms, 2500);
  assert.equal(u.gpu_s, null);
  assert.equal(u.energy_wh, null);
});
