// Finding a task's processes without its reported pid: by process group, and by the
// FORGE_TASK_ID / FORGE_ATTEMPT environment every process of an attempt inherits. Real processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { processGroupOf, processesOfAttempt } from '../../agents/gpu/procGroup.ts';

test('processesOfAttempt finds every process of one attempt, children included, and nothing of another attempt', async () => {
  // A task that started a child of its own, in its own process group, as a worker starts tasks.
  const task = spawn('sh', ['-c', 'sleep 30 & echo $!; wait'], {
    detached: true, stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, FORGE_AGENT: 'gpu-7', FORGE_TASK_ID: 'b1__find_me', FORGE_ATTEMPT: '2' },
  });
  try {
    const child = Number(await new Promise<string>((resolve) => task.stdout!.once('data', (d) => resolve(String(d).trim()))));
    assert.equal(await processGroupOf(task.pid!), task.pid);
    assert.equal(await processGroupOf(child), task.pid, 'the child is in the task\'s group');
    assert.deepEqual((await processesOfAttempt('gpu-7', 'b1__find_me', 2)).sort((a, b) => a - b), [task.pid!, child].sort((a, b) => a - b));
    assert.deepEqual(await processesOfAttempt('gpu-7', 'b1__find_me', 1), [], 'another attempt of the same task');
    assert.deepEqual(await processesOfAttempt('gpu-7', 'b1__find', 2), [], 'a task whose id is a prefix');
    assert.deepEqual(await processesOfAttempt('gpu-1', 'b1__find_me', 2), [], 'the same attempt under another agent\'s name is not ours');
  } finally {
    process.kill(-task.pid!, 'SIGKILL');
  }
  assert.equal(await processGroupOf(999_999_999), null);
});
