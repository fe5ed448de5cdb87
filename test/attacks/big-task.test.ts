// A task of any size reaches its worker: the agent hands it over on stdin, never on the command
// line, where one argument over 128 KiB made the spawn fail with E2BIG ("worker printed no
// result") and the task could never start. The stderr tail a failure carries into every attempt
// record is bounded, so retries of a noisy task do not grow its file without limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnWorker } from '../../agents/gpu/spawnWorker.ts';
import { parseWorkerStdout } from '../../agents/core/workerProtocol.ts';
import { boundTail } from '../../agents/worker/main.ts';

async function setup() {
  const tmp = await mkdtemp(join(tmpdir(), 'forge-bigtask-'));
  const plan = join(tmp, 'plans', 'p');
  const batchPath = join(plan, 'batches', 'b1');
  await mkdir(batchPath, { recursive: true });
  const configFile = join(tmp, 'config.json');
  await writeFile(configFile, JSON.stringify({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 11435 }]}));
  const task = (name: string, argv: string[]) => ({
    id: `b1__${name}`, batch: 'b1', plan: 'p', name, task_class: 'cpu', command: 'x', argv, cwd: plan,
    batch_path: batchPath, vram_estimate_mb: 0, timeout_s: 30, max_attempts: 3, created_at: new Date().toISOString(), attempt: 1,
  });
  return { tmp, configFile, task };
}

test('a 900 KB task (eight 100 KB arguments, a 100 KB command text) runs through the agent\'s spawnWorker', { timeout: 60_000 }, async () => {
  const { tmp, configFile, task } = await setup();
  try {
    const big = 'x'.repeat(100_000);
    const t = { ...task('big', ['sh', '-c', 'test "$#" -eq 8 && test "${#8}" -eq 100000', 'sh', ...Array(8).fill(big)]), command: big };
    const r = await spawnWorker({ taskJson: JSON.stringify(t), agent: 'gpu-0', taskId: t.id, attempt: 1, configFile, ollamaUrl: 'http://127.0.0.1:9', gpuId: 0, model: 'm', extraEnv: {} });
    const parsed = parseWorkerStdout(String(r.stdout), t.id, 1);
    assert.ok(parsed.ok, `a result: ${parsed.ok ? '' : parsed.reason}; stderr: ${String(r.stderr).slice(-500)}`);
    assert.equal(parsed.result.outcome, 'success', parsed.result.reason ?? '');
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test('a failure\'s stderr tail is bounded: long lines cut, at most about 4000 characters', { timeout: 60_000 }, async () => {
  const { tmp, configFile, task } = await setup();
  try {
    const t = task('noisy', ['sh', '-c', 'i=0; while [ $i -lt 30 ]; do printf "%05000d\\n" $i >&2; i=$((i+1)); done; exit 3']);
    const r = await spawnWorker({ taskJson: JSON.stringify(t), agent: 'gpu-0', taskId: t.id, attempt: 1, configFile, ollamaUrl: 'http://127.0.0.1:9', gpuId: 0, model: 'm', extraEnv: {} });
    const parsed = parseWorkerStdout(String(r.stdout), t.id, 1);
    assert.ok(parsed.ok);
    assert.equal(parsed.result.outcome, 'failed');
    assert.match(parsed.result.reason ?? '', /exit code 3; last lines of stderr/);
    assert.ok((parsed.result.reason ?? '').length < 4500, `reason is ${parsed.result.reason?.length} characters`);
    assert.match(parsed.result.reason ?? '', /… \(4700 more characters\)/);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  assert.deepEqual(boundTail(['a', 'b']), ['a', 'b']);
  assert.equal(boundTail(Array(100).fill('y'.repeat(299))).length, 13);
});
