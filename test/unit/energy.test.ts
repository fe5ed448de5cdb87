import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Accrual, accrue, withCardShare } from '../../agents/gpu/energy.ts';

const entry = (task_class: Accrual['task']['task_class'], startedAt: number): Accrual => ({ task: { task_class }, startedAt, gpuMs: 0, energyJ: 0, accruedTo: startedAt });

test('the card\'s time and energy are shared evenly among the GPU tasks running; cpu tasks get none', () => {
  const a = entry('llm', 0);
  const b = entry('llm', 0);
  const c = entry('cpu', 0);
  accrue([a, b, c], 10_000, 200); // 10 s at 200 W, two GPU tasks: 5 s and 1000 J each
  assert.deepEqual([a.gpuMs, a.energyJ, b.gpuMs, c.gpuMs], [5000, 1000, 5000, 0]);
  accrue([a], 14_000, 100); // b ended: a alone for 4 s at 100 W
  assert.deepEqual([a.gpuMs, a.energyJ], [9000, 1400]);
  accrue([a], 14_000, 100);
  assert.equal(a.gpuMs, 9000, 'the same instant twice adds nothing');
  const late = entry('script', 12_000);
  accrue([a, late], 16_000, null); // no power reading: time only
  assert.deepEqual([a.gpuMs, a.energyJ, late.gpuMs], [10_000, 1400, 2000]);
});

test('an llm result gains GPU-seconds and Wh; no power ever read → energy null', () => {
  const u = { model: 'm', prompt_tokens: 1, output_tokens: 2, request_ms: 3, tok_s: null, load_ms: null, gpu_s: null, energy_wh: null };
  assert.deepEqual(withCardShare(u, { gpuMs: 9000, energyJ: 1400 }, true), { ...u, gpu_s: 9, energy_wh: 0.3889 });
  assert.deepEqual(withCardShare(u, { gpuMs: 9000, energyJ: 0 }, false), { ...u, gpu_s: 9, energy_wh: null });
});

test('the summary adds load time, GPU-seconds and energy per model and per GPU', async () => {
  const { llmTotals, llmTotalsMarkdown } = await import('../../agents/brain/llmTotals.ts');
  const u = (load: number | null, gpu: number, wh: number | null) => ({ model: 'm', prompt_tokens: 1, output_tokens: 10, request_ms: 1000, tok_s: 10, load_ms: load, gpu_s: gpu, energy_wh: wh });
  const t = llmTotals([{ usage: u(1500, 2, 0.05), agent: 'gpu-0' }, { usage: u(null, 1.5, 0.025), agent: 'gpu-1' }, { usage: u(null, 1, null), agent: 'gpu-1' }])!;
  assert.deepEqual([t.by_model.m!.load_s, t.by_model.m!.gpu_s, t.by_model.m!.energy_wh], [1.5, 4.5, 0.075]);
  assert.deepEqual([t.by_agent['gpu-1']!.gpu_s, t.by_agent['gpu-1']!.energy_wh], [2.5, 0.025]);
  assert.match(llmTotalsMarkdown(t).join('\n'), /\| agent \| gpu-0 \| 1 \| 1 \| 10 \| 1\.0 \| 10 \| 1\.5 \| 2\.0 \| 0\.050 \|/);
});
