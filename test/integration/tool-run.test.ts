// runTool, as the agent runs nvidia-smi every cycle: output and exit, a missing tool, a tool
// that ignores SIGTERM, and one that leaves a child holding its pipes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runTool } from '../../agents/gpu/toolRun.ts';

const LIMITS = { timeoutMs: 5000, killAfterMs: 300 };

test('output without its final newline, stderr, the exit code; arguments are literal, never a shell', async () => {
  const r = await runTool('sh', ['-c', 'printf "a\\nb\\n"; echo oops >&2; exit 3', '$(touch /nonexistent)'], LIMITS);
  assert.deepEqual(r, { stdout: 'a\nb', stderr: 'oops', exitCode: 3, signal: null, timedOut: false, startError: null });
});

test('a tool that is not there: startError ENOENT, nothing else', async () => {
  const r = await runTool('/nonexistent/nvidia-smi', [], LIMITS);
  assert.equal(r.startError, 'ENOENT');
  assert.equal(r.exitCode, null);
});

test('a tool that ignores SIGTERM is killed with SIGKILL killAfterMs later, and says it timed out', async () => {
  const t0 = performance.now();
  const r = await runTool('sh', ['-c', "trap '' TERM; echo started; while :; do sleep 0.05; done"], { timeoutMs: 200, killAfterMs: 300 });
  assert.equal(r.timedOut, true);
  assert.equal(r.signal, 'SIGKILL');
  assert.equal(r.stdout, 'started');
  assert.ok(performance.now() - t0 < 20_000);
});

test('a child left holding the pipes does not keep the run from ending', async () => {
  const t0 = performance.now();
  const r = await runTool('sh', ['-c', 'sleep 8 & echo done'], LIMITS);
  assert.equal(r.exitCode, 0);
  assert.equal(r.stdout, 'done');
  assert.equal(r.timedOut, false);
  assert.ok(performance.now() - t0 < 4000, 'ended at its exit, not when the child let go of the pipes');
});
