import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyHistogram, escapeLabelValue, formatFamilies, mergeExpositions, observe } from '../../agents/core/promText.ts';
import { assembleMetrics } from '../../agents/core/metricsFiles.ts';
import { AgentCounters, agentFamilies } from '../../agents/gpu/agentMetrics.ts';

test('counters and gauges: HELP and TYPE before the samples, labels in order, escaped', () => {
  const text = formatFamilies([
    { name: 'forge_x_total', help: 'Things done.\nSecond line \\ here.', type: 'counter', samples: [{ labels: { kind: 'a"b\\c\nd' }, value: 3 }] },
    { name: 'forge_y', help: 'A level.', type: 'gauge', samples: [{ value: 0.5 }, { labels: { a: '1', b: '2' }, value: NaN }] },
  ]);
  assert.equal(text, [
    '# HELP forge_x_total Things done.\\nSecond line \\\\ here.',
    '# TYPE forge_x_total counter',
    'forge_x_total{kind="a\\"b\\\\c\\nd"} 3',
    '# HELP forge_y A level.',
    '# TYPE forge_y gauge',
    'forge_y 0.5',
    'forge_y{a="1",b="2"} NaN',
    '',
  ].join('\n'));
  assert.equal(escapeLabelValue('plain'), 'plain');
});

test('a histogram: cumulative buckets ending at +Inf, then _sum and _count', () => {
  const h = emptyHistogram([0.5, 1], { q: 'x' });
  for (const v of [0.2, 0.5, 0.7, 3]) observe(h, v);
  assert.equal(formatFamilies([{ name: 'forge_wait_seconds', help: 'Waits.', type: 'histogram', series: [h] }]), [
    '# HELP forge_wait_seconds Waits.',
    '# TYPE forge_wait_seconds histogram',
    'forge_wait_seconds_bucket{q="x",le="0.5"} 2',
    'forge_wait_seconds_bucket{q="x",le="1"} 3',
    'forge_wait_seconds_bucket{q="x",le="+Inf"} 4',
    'forge_wait_seconds_sum{q="x"} 4.4',
    'forge_wait_seconds_count{q="x"} 4',
    '',
  ].join('\n'));
});

test('no families: no text', () => {
  assert.equal(formatFamilies([]), '');
  assert.equal(mergeExpositions(['', '']), '');
});

test("two agents' files join under one HELP and TYPE per family", () => {
  const one = (name: string, claims: number) => {
    const c = new AgentCounters();
    for (let i = 0; i < claims; i++) c.claimed();
    return formatFamilies(agentFamilies(c, { name, gpuId: Number(name.slice(-1)), gpu: null, claimedMb: 0, hot: false, model: null }).slice(0, 1));
  };
  assert.equal(mergeExpositions([one('gpu-0', 2), one('gpu-1', 5)]), [
    '# HELP forge_agent_claims_total Tasks this agent claimed since it started.',
    '# TYPE forge_agent_claims_total counter',
    'forge_agent_claims_total{agent="gpu-0",gpu="0"} 2',
    'forge_agent_claims_total{agent="gpu-1",gpu="1"} 5',
    '',
  ].join('\n'));
});

test('the served text ends with each file\'s age', () => {
  const text = assembleMetrics([{ name: 'brain.prom', text: '# HELP forge_batches B.\n# TYPE forge_batches gauge\n', ageS: 2.5 }]);
  assert.equal(text, [
    '# HELP forge_batches B.',
    '# TYPE forge_batches gauge',
    '# HELP forge_metrics_file_age_seconds Seconds since each metrics file on the mount was written (a stale one means its writer stopped).',
    '# TYPE forge_metrics_file_age_seconds gauge',
    'forge_metrics_file_age_seconds{file="brain.prom"} 2.5',
    '',
  ].join('\n'));
});

test('an agent without a GPU reading leaves the GPU figures out instead of writing 0', () => {
  const names = agentFamilies(new AgentCounters(), { name: 'gpu-0', gpuId: 0, gpu: null, claimedMb: 100, hot: true, model: 'm' }).map((f) => f.name);
  assert.deepEqual(names, [
    'forge_agent_claims_total', 'forge_agent_tasks_finished_total', 'forge_agent_llm_tokens_total', 'forge_agent_task_energy_joules_total',
    'forge_gpu_memory_reserved_bytes', 'forge_agent_hot',
  ]);
});
