// The benchmark still works: `scripts/bench.ts --quick --json` runs every part once at a
// small size (the llm part included) and prints one JSON object. Only its shape is checked; timings never are
// (speed is measured by `npm run bench`, docs/PERFORMANCE.md). Part of `npm run test:long`
// (a few minutes, run alone), so its time limit only catches a hang.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const HEADLINE = [
  'throughput_ratio', 'hop_overhead_ms', 'scale_ratio', 'brain_rss_mb',
  'idle_core_fraction', 'idle_gap_ms_median', 'status_json_ms', 'vs_bullmq_throughput', 'vs_bullmq_hop',
  'bigbatch_first_claim_s', 'bigbatch_brain_rss_mb', 'bigbatch_status_ms',
] as const;

test('bench --quick --json prints every headline figure as a number, or null with a note', { timeout: 900_000 }, async () => {
  const r = await execa('node', ['--import', 'tsx', join(ROOT, 'scripts', 'bench.ts'), '--quick', '--json'], {
    cwd: ROOT, reject: false, timeout: 880_000,
  });
  const how = r.timedOut ? 'ran past its 880 s limit and was killed' : r.signal ? `was killed by ${r.signal}` : `exited ${r.exitCode}`;
  assert.equal(r.exitCode, 0, `bench ${how}:\n${String(r.stderr).slice(-2000)}`);
  const out = JSON.parse(String(r.stdout)) as Record<string, unknown>;
  assert.ok(Array.isArray(out.notes), 'notes is a list');
  const notes = (out.notes as unknown[]).map(String);
  for (const key of HEADLINE) {
    assert.ok(key in out, `${key} is in the output`);
    const v = out[key];
    if (v === null) assert.ok(notes.some((n) => n.startsWith(`${key}:`)), `${key} is null and a note says why; notes: ${notes.join(' | ')}`);
    else assert.ok(typeof v === 'number' && Number.isFinite(v), `${key} is a number, got ${JSON.stringify(v)}`);
  }
  assert.equal(out.mode, 'quick');
  const targets = out.targets as Record<string, { target: string; met: boolean | null }>;
  for (const key of HEADLINE) assert.ok(targets[key] && typeof targets[key].target === 'string', `${key} has a target`);
  // The llm part (no target): the speed-up of N GPUs over one, and each rig's tokens/s.
  for (const key of ['llm_speedup', 'llm_tok_s', 'llm_tok_s_one_gpu']) {
    const v = out[key];
    if (v === null) assert.ok(notes.some((n) => n.startsWith('llm:')), `${key} is null and a note says why; notes: ${notes.join(' | ')}`);
    else assert.ok(typeof v === 'number' && Number.isFinite(v) && v > 0, `${key} is a positive number, got ${JSON.stringify(v)}`);
  }
  // The bigbatch part: every item of its foreach done exactly once (a check, not a timing).
  if (out.bigbatch_done_once === null) assert.ok(notes.some((n) => n.startsWith('bigbatch')), `bigbatch_done_once is null and a note says why; notes: ${notes.join(' | ')}`);
  else assert.equal(out.bigbatch_done_once, true, `every item done exactly once: ${JSON.stringify((out.details as { bigbatch?: { archive?: unknown } }).bigbatch?.archive)}`);
  // Ended or stopped, no item was claimed, done or archived twice among those begun.
  if (out.bigbatch_done_once_so_far === null) assert.ok(notes.some((n) => n.startsWith('bigbatch')), `bigbatch_done_once_so_far is null and a note says why; notes: ${notes.join(' | ')}`);
  else assert.equal(out.bigbatch_done_once_so_far, true, `no item run twice: ${JSON.stringify((out.details as { bigbatch?: { runs_so_far?: unknown } }).bigbatch?.runs_so_far)}`);
  for (const key of ['bigbatch_tasks_per_s', 'bigbatch_release_per_s']) {
    const v = out[key];
    if (v !== null) assert.ok(typeof v === 'number' && Number.isFinite(v) && v > 0, `${key} is a positive number, got ${JSON.stringify(v)}`);
  }
});
